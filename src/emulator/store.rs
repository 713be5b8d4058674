//! The emulator's data: campaign tables, datasets and records; the writes of `create` and
//! `update`; the filters of `read`.
//!
//! Datasets `100` and `200` live in table `sandbox_campaign`, the expired dataset `300` in
//! `other_campaign`. Every table starts with the custom columns `company_name` and
//! `test_field`; a write naming an unknown column adds it to the record's table, so every
//! record of that table shows it from then on. Records are kept in id order; ids count up
//! from [`FIRST_RECORD_ID`].

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BTreeMap;

use chrono::{Days, NaiveDate, NaiveDateTime, NaiveTime};

use super::wire::{Args, Row};

/// An unset datetime, as the upstream writes it.
pub(super) const ZERO_DATETIME: &str = "0000-00-00 00:00:00";
/// The id of the first seeded record.
pub(super) const FIRST_RECORD_ID: u64 = 550_000;
/// The account every write answer names.
pub(super) const ACCOUNT_ID: &str = "10278";
/// `info` after a write that leaves the record on the dialer.
pub(super) const LIVE_INFO: &str = "Record is LIVE on the dialer.";
/// `info` after a write that leaves the record with a complete outcome.
pub(super) const NOT_LIVE_INFO: &str =
    "Record is NOT live on the dialer due having a complete outcome.";

const ZERO_DATE: &str = "0000-00-00";
/// `ProcessType` of a record never dialled.
const NEW_PROSPECT: &str = "New Prospect";
/// `ProcessType` of a record never dialled, in a dataset on hold.
const HOLD_NEW_PROSPECT: &str = "HOLD: New Prospect";
/// `ProcessType` of a record dialled, not complete, to be dialled again.
const NEEDS_MORE_WORK: &str = "NEEDSMOREWORK";
/// `ProcessType` of a record dialled and not complete, in a dataset on hold.
const HOLD_NEEDS_MORE_WORK: &str = "HOLD: NEEDSMOREWORK";
/// `ProcessType` of a record that will not be dialled again.
const COMPLETE: &str = "COMPLETE";
/// `ProcessType` of a record whose dataset left the dialer.
const EXPIRED: &str = "EXPIRED";
/// The last second of a day: what a date-only `tstop` stands for (`tstart` takes the first).
const END_OF_DAY: NaiveTime = match NaiveTime::from_hms_opt(23, 59, 59) {
    Some(time) => time,
    None => NaiveTime::MIN,
};
const DATETIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";
const DATE_FORMAT: &str = "%Y-%m-%d";
const PHONE_FIELDS: [&str; 3] = ["homephone", "mobilephone", "workphone"];
const ROUTING_FIELDS: [&str; 4] = ["id", "dataset", "datasetid", "table"];
const NOTES_APPEND: &str = "notes_append";

/// A standard text column of a record, in the order read rows list them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Field {
    Title,
    FirstName,
    LastName,
    HomePhone,
    MobilePhone,
    WorkPhone,
    Address1,
    Address2,
    Address3,
    Address4,
    Address5,
    Address6,
    Postcode,
    Notes,
    OutcomeCode,
    ProcessType,
    ProcessDate,
    Callback,
    CallBackNotes,
    CallBackSametime,
    AgentRef,
    AgentSpecific,
    LoadDate,
    SourceFile,
}

const FIELD_COUNT: usize = 24;

/// How a column's values are checked on write and what clearing it leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Text,
    DateTime,
    Date,
    Flag,
    Number,
}

impl Field {
    const ALL: [Self; FIELD_COUNT] = [
        Self::Title,
        Self::FirstName,
        Self::LastName,
        Self::HomePhone,
        Self::MobilePhone,
        Self::WorkPhone,
        Self::Address1,
        Self::Address2,
        Self::Address3,
        Self::Address4,
        Self::Address5,
        Self::Address6,
        Self::Postcode,
        Self::Notes,
        Self::OutcomeCode,
        Self::ProcessType,
        Self::ProcessDate,
        Self::Callback,
        Self::CallBackNotes,
        Self::CallBackSametime,
        Self::AgentRef,
        Self::AgentSpecific,
        Self::LoadDate,
        Self::SourceFile,
    ];

    /// The column's name in read rows.
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Title => "Title",
            Self::FirstName => "FirstName",
            Self::LastName => "LastName",
            Self::HomePhone => "HomePhone",
            Self::MobilePhone => "MobilePhone",
            Self::WorkPhone => "WorkPhone",
            Self::Address1 => "Address1",
            Self::Address2 => "Address2",
            Self::Address3 => "Address3",
            Self::Address4 => "Address4",
            Self::Address5 => "Address5",
            Self::Address6 => "Address6",
            Self::Postcode => "Postcode",
            Self::Notes => "notes",
            Self::OutcomeCode => "outcomecode",
            Self::ProcessType => "ProcessType",
            Self::ProcessDate => "ProcessDate",
            Self::Callback => "callback",
            Self::CallBackNotes => "Call_Back_Notes",
            Self::CallBackSametime => "Call_Back_Sametime",
            Self::AgentRef => "AgentRef",
            Self::AgentSpecific => "Agent_Specific",
            Self::LoadDate => "loaddate",
            Self::SourceFile => "sourcefile",
        }
    }

    fn kind(self) -> Kind {
        match self {
            Self::ProcessDate | Self::Callback => Kind::DateTime,
            Self::LoadDate => Kind::Date,
            Self::CallBackSametime | Self::AgentSpecific => Kind::Flag,
            Self::OutcomeCode | Self::AgentRef => Kind::Number,
            _ => Kind::Text,
        }
    }

    /// What a record holds in this column when nothing was written to it.
    fn cleared(self) -> &'static str {
        match self.kind() {
            Kind::Text => "",
            Kind::DateTime => ZERO_DATETIME,
            Kind::Date => ZERO_DATE,
            Kind::Flag | Kind::Number => "0",
        }
    }

    /// Checks a written value and brings it to the stored form; empty clears.
    fn normalise(self, value: &str) -> Result<String, String> {
        let value = value.trim();
        if value.is_empty() {
            return Ok(self.cleared().to_owned());
        }
        let refused = || format!("Bad argument: {}", self.name());
        match self.kind() {
            Kind::Text => Ok(value.to_owned()),
            Kind::DateTime if value == ZERO_DATETIME => Ok(value.to_owned()),
            Kind::DateTime => parse_datetime(value)
                .or_else(|| {
                    NaiveDate::parse_from_str(value, DATE_FORMAT)
                        .ok()
                        .and_then(|d| d.and_hms_opt(0, 0, 0))
                })
                .map(|t| t.format(DATETIME_FORMAT).to_string())
                .ok_or_else(refused),
            Kind::Date if value == ZERO_DATE => Ok(value.to_owned()),
            Kind::Date => NaiveDate::parse_from_str(value, DATE_FORMAT)
                .map(|d| d.format(DATE_FORMAT).to_string())
                .map_err(|_| refused()),
            Kind::Flag if value == "0" || value == "1" => Ok(value.to_owned()),
            Kind::Number if value.bytes().all(|b| b.is_ascii_digit()) => Ok(value.to_owned()),
            Kind::Flag | Kind::Number => Err(refused()),
        }
    }
}

fn parse_datetime(value: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(value, DATETIME_FORMAT)
        .or_else(|_| NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S"))
        .ok()
}

/// A column a name resolves to within one campaign table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Column {
    Id,
    DatasetId,
    Field(Field),
    Urn,
    VendorUrn,
    Custom(usize),
}

/// A value as a read row shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Cell<'a> {
    /// A string.
    Text(&'a str),
    /// A number, shown as a string.
    Number(u64),
    /// JSON `null` (an unset URN).
    Null,
}

/// One record of a dataset.
#[derive(Clone, Debug)]
pub(super) struct Record {
    id: u64,
    dataset: u64,
    fields: [String; FIELD_COUNT],
    urn: Option<String>,
    vendor_urn: Option<String>,
    /// Values of the table's custom columns, by column index; missing ones are empty.
    custom: Vec<String>,
}

impl Record {
    fn new(id: u64, dataset: u64, today: NaiveDate) -> Self {
        let mut fields = Field::ALL.map(|f| f.cleared().to_owned());
        fields[Field::OutcomeCode as usize] = "100".to_owned();
        fields[Field::ProcessType as usize] = NEW_PROSPECT.to_owned();
        fields[Field::LoadDate as usize] = today.format(DATE_FORMAT).to_string();
        fields[Field::SourceFile as usize] = format!("api_data_{dataset}.dat");
        Self {
            id,
            dataset,
            fields,
            urn: None,
            vendor_urn: None,
            custom: Vec::new(),
        }
    }

    fn field(&self, field: Field) -> &str {
        &self.fields[field as usize]
    }

    fn set(&mut self, field: Field, value: impl Into<String>) {
        self.fields[field as usize] = value.into();
    }

    fn custom(&self, index: usize) -> &str {
        self.custom.get(index).map_or("", String::as_str)
    }

    fn set_custom(&mut self, index: usize, value: &str) {
        if self.custom.len() <= index {
            self.custom.resize(index + 1, String::new());
        }
        value.trim().clone_into(&mut self.custom[index]);
    }

    fn cell(&self, column: Column) -> Cell<'_> {
        match column {
            Column::Id => Cell::Number(self.id),
            Column::DatasetId => Cell::Number(self.dataset),
            Column::Field(f) => Cell::Text(self.field(f)),
            Column::Urn => self.urn.as_deref().map_or(Cell::Null, Cell::Text),
            Column::VendorUrn => self.vendor_urn.as_deref().map_or(Cell::Null, Cell::Text),
            Column::Custom(i) => Cell::Text(self.custom(i)),
        }
    }

    fn is_live(&self) -> bool {
        self.field(Field::ProcessType) != COMPLETE
    }

    /// Brings `ProcessType` in line with a newly written outcome code: a complete outcome
    /// completes the record; any other outcome puts a completed record back to be dialled.
    fn follow_outcome(&mut self) {
        if outcome_is_complete(self.field(Field::OutcomeCode)) {
            self.set(Field::ProcessType, COMPLETE);
        } else if self.field(Field::ProcessType) == COMPLETE {
            self.set(Field::ProcessType, NEEDS_MORE_WORK);
        }
    }

    fn has_phone(&self, phone: &str) -> bool {
        [Field::HomePhone, Field::MobilePhone, Field::WorkPhone]
            .iter()
            .any(|f| self.field(*f) == phone)
    }

    /// Applies a write row's fields (all but the routing ones) and its `notes_append`.
    fn apply(&mut self, table: &mut Table, row: &Row) -> Result<(), String> {
        for (name, value) in &row.0 {
            if ROUTING_FIELDS.iter().any(|r| name.eq_ignore_ascii_case(r))
                || name.eq_ignore_ascii_case(NOTES_APPEND)
            {
                continue;
            }
            match table.resolve(name) {
                Some(Column::Field(f)) => self.set(f, f.normalise(value)?),
                Some(Column::Urn) => self.urn = non_empty(value),
                Some(Column::VendorUrn) => self.vendor_urn = non_empty(value),
                Some(Column::Custom(i)) => self.set_custom(i, value),
                Some(Column::Id | Column::DatasetId) => {}
                None if is_column_name(name) => {
                    table.custom.push(name.clone());
                    self.set_custom(table.custom.len() - 1, value);
                }
                None => return Err(format!("Unknown field [{name}].")),
            }
        }
        let wrote_outcome = row
            .get(Field::OutcomeCode.name())
            .is_some_and(|v| !v.trim().is_empty());
        if wrote_outcome {
            self.follow_outcome();
        }
        if let Some(extra) = row
            .get(NOTES_APPEND)
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let notes = &mut self.fields[Field::Notes as usize];
            if !notes.is_empty() {
                notes.push('\n');
            }
            notes.push_str(extra);
        }
        Ok(())
    }
}

/// An outcome code of the emulated account and its `complete` flag.
struct OutcomeCode {
    code: &'static str,
    /// Whether the outcome takes the record off the dialer (`complete` `Y`).
    complete: bool,
}

/// The emulated account's outcome codes (the full outcome-code API is not emulated). A code
/// not listed here is accepted as an account-specific code that does not complete.
const OUTCOME_CODES: [OutcomeCode; 5] = [
    // New Prospect: what a fresh record carries.
    OutcomeCode {
        code: "100",
        complete: false,
    },
    // Sale: the seeded COMPLETE record's outcome.
    OutcomeCode {
        code: "200",
        complete: true,
    },
    // Not Interested.
    OutcomeCode {
        code: "201",
        complete: true,
    },
    // Call Back.
    OutcomeCode {
        code: "300",
        complete: false,
    },
    // Appointment Booked: an account-specific code, as real accounts number them.
    OutcomeCode {
        code: "510456",
        complete: true,
    },
];

fn outcome_is_complete(code: &str) -> bool {
    OUTCOME_CODES.iter().any(|o| o.code == code && o.complete)
}

fn non_empty(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

fn is_column_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && name.len() <= 64
}

/// A campaign table: its name and its custom columns.
#[derive(Clone, Debug)]
struct Table {
    name: String,
    custom: Vec<String>,
}

impl Table {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            custom: vec!["company_name".to_owned(), "test_field".to_owned()],
        }
    }

    /// Finds a column by its read name, its write name or a custom name, in any letter case.
    fn resolve(&self, name: &str) -> Option<Column> {
        if name.eq_ignore_ascii_case("id") {
            return Some(Column::Id);
        }
        if name.eq_ignore_ascii_case("datasetid") || name.eq_ignore_ascii_case("dataset") {
            return Some(Column::DatasetId);
        }
        if name.eq_ignore_ascii_case("URN") {
            return Some(Column::Urn);
        }
        if name.eq_ignore_ascii_case("VENDOR_URN") {
            return Some(Column::VendorUrn);
        }
        if let Some(f) = Field::ALL
            .iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
        {
            return Some(Column::Field(*f));
        }
        self.custom
            .iter()
            .position(|c| c.eq_ignore_ascii_case(name))
            .map(Column::Custom)
    }
}

/// A dataset: which table it lives in and whether it is expired.
#[derive(Clone, Copy, Debug)]
struct Dataset {
    id: u64,
    table: usize,
    expired: bool,
}

/// What a `create` or `update` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct WriteOutcome {
    /// Rows written.
    pub(super) total: usize,
    /// Rows refused.
    pub(super) bad: usize,
    /// The id of the last record created, or 0 (creates answer it as `key`; updates have none).
    pub(super) key: u64,
    /// The last refused row's error.
    pub(super) error: Option<String>,
    /// Whether the last record written stays on the dialer.
    pub(super) live: bool,
}

impl WriteOutcome {
    fn refuse(&mut self, error: String) {
        self.bad += 1;
        self.error = Some(error);
    }

    /// The `info` text for the last record written.
    pub(super) fn info(&self) -> &'static str {
        if self.live { LIVE_INFO } else { NOT_LIVE_INFO }
    }
}

/// The records found by a read: how many matched, and the ones kept after `limit`.
#[derive(Debug)]
pub(super) struct Found<'s> {
    /// Every match.
    pub(super) total: usize,
    /// The matches kept, in id order or by `sort`.
    pub(super) rows: Vec<&'s Record>,
}

/// Every table, dataset and record of the emulated account.
#[derive(Clone, Debug)]
pub(super) struct Store {
    tables: Vec<Table>,
    datasets: Vec<Dataset>,
    records: BTreeMap<u64, Record>,
    next_id: u64,
}

impl Store {
    /// The account as the emulator starts it: three datasets and five records in `100`.
    pub(super) fn seeded(today: NaiveDate) -> Self {
        let mut store = Self {
            tables: vec![Table::new("sandbox_campaign"), Table::new("other_campaign")],
            datasets: vec![
                Dataset {
                    id: 100,
                    table: 0,
                    expired: false,
                },
                Dataset {
                    id: 200,
                    table: 0,
                    expired: false,
                },
                Dataset {
                    id: 300,
                    table: 1,
                    expired: true,
                },
            ],
            records: BTreeMap::new(),
            next_id: FIRST_RECORD_ID,
        };
        let at = |days: u64, time: &str| {
            let day = today.checked_add_days(Days::new(days)).unwrap_or(today);
            format!("{} {time}", day.format(DATE_FORMAT))
        };
        let seeds: [&[(&str, String)]; 5] = [
            &[
                ("title", "Mr".into()),
                ("firstname", "Joe".into()),
                ("lastname", "Blogs".into()),
                ("mobilephone", "07123456789".into()),
                ("company_name", "Company Name".into()),
            ],
            &[
                ("title", "Mrs".into()),
                ("firstname", "Jane".into()),
                ("lastname", "Smith".into()),
                ("homephone", "02079460000".into()),
                ("address1", "10 Downing Street".into()),
                ("address2", "London".into()),
                ("postcode", "SW1A 2AA".into()),
            ],
            &[
                ("title", "Dr".into()),
                ("firstname", "Amir".into()),
                ("lastname", "Khan".into()),
                ("workphone", "01614960000".into()),
                ("mobilephone", "07700900111".into()),
                ("postcode", "M1 1AE".into()),
                ("outcomecode", "200".into()),
                ("ProcessDate", at(0, "09:30:00")),
                ("callback", at(1, "10:15:00")),
                ("Call_Back_Notes", "Call after the board meeting".into()),
                ("AgentRef", "1001".into()),
            ],
            &[
                ("title", "Ms".into()),
                ("firstname", "Chloé".into()),
                ("lastname", "Dubois".into()),
                ("mobilephone", "07700900123".into()),
                ("notes", "Prefers email".into()),
                ("postcode", "LS1 4AP".into()),
            ],
            &[
                ("title", "Mr".into()),
                ("firstname", "Tom".into()),
                ("lastname", "O'Neill".into()),
                ("homephone", "01134960555".into()),
                ("mobilephone", "07700900456".into()),
                ("address1", "4 Mill Lane".into()),
                ("address2", "Leeds".into()),
                ("postcode", "LS2 7HY".into()),
            ],
        ];
        for seed in seeds {
            let mut fields = vec![("dataset".to_owned(), "100".to_owned())];
            fields.extend(seed.iter().map(|(n, v)| ((*n).to_owned(), v.clone())));
            store.create(&[Row(fields)], today);
        }
        store
    }

    /// The datasets, campaign tables and outcome codes of the account, for the banner.
    pub(super) fn fixtures(&self) -> super::Fixtures {
        let datasets = self
            .datasets
            .iter()
            .map(|d| super::DatasetFixture {
                id: d.id,
                status: if d.expired { "expired" } else { "live" },
                campaign: self.tables[d.table].name.clone(),
                records: self.records_in_dataset(d.id),
            })
            .collect();
        let codes: std::collections::BTreeSet<u64> = self
            .records
            .values()
            .filter_map(|r| r.field(Field::OutcomeCode).parse().ok())
            .collect();
        super::Fixtures {
            datasets,
            campaigns: self.tables.iter().map(|t| t.name.clone()).collect(),
            outcome_codes: codes.iter().map(u64::to_string).collect(),
        }
    }

    /// How many records dataset `dataset` holds.
    pub(super) fn records_in_dataset(&self, dataset: u64) -> usize {
        self.records
            .values()
            .filter(|r| r.dataset == dataset)
            .count()
    }

    fn dataset(&self, id: u64) -> Option<&Dataset> {
        self.datasets.iter().find(|d| d.id == id)
    }

    fn table_of(&self, dataset: u64) -> usize {
        self.dataset(dataset).map_or(0, |d| d.table)
    }

    /// Inserts each acceptable row as a new record.
    pub(super) fn create(&mut self, rows: &[Row], today: NaiveDate) -> WriteOutcome {
        let mut outcome = WriteOutcome::default();
        for row in rows {
            let dataset = match row.get("dataset").map(str::trim) {
                None | Some("") => {
                    outcome.refuse("No dataset provided.".to_owned());
                    continue;
                }
                Some(text) => match text.parse().ok().and_then(|id| self.dataset(id)) {
                    None => {
                        outcome.refuse(format!("Dataset [{text}] does not exist."));
                        continue;
                    }
                    Some(d) if d.expired => {
                        outcome.refuse(format!("Dataset [{}] is expired.", d.id));
                        continue;
                    }
                    Some(d) => *d,
                },
            };
            let has_phone = PHONE_FIELDS
                .iter()
                .any(|p| row.get(p).is_some_and(|v| !v.trim().is_empty()));
            if !has_phone {
                outcome.refuse("No phone number provided.".to_owned());
                continue;
            }
            let mut record = Record::new(self.next_id, dataset.id, today);
            if let Err(error) = record.apply(&mut self.tables[dataset.table], row) {
                outcome.refuse(error);
                continue;
            }
            outcome.total += 1;
            outcome.key = record.id;
            outcome.live = record.is_live();
            self.records.insert(record.id, record);
            self.next_id += 1;
        }
        outcome
    }

    /// Changes each row's record, found by the row's `id` (else `query_id`) within the
    /// row's `dataset` and/or `table`.
    pub(super) fn update(&mut self, query_id: Option<&str>, rows: &[Row]) -> WriteOutcome {
        let mut outcome = WriteOutcome::default();
        for row in rows {
            let Some(id_text) = row
                .get("id")
                .or(query_id)
                .map(str::trim)
                .filter(|s| !s.is_empty())
            else {
                outcome.refuse("No record id provided.".to_owned());
                continue;
            };
            let dataset = row.get("dataset").map(str::trim).filter(|s| !s.is_empty());
            let table = row.get("table").map(str::trim).filter(|s| !s.is_empty());
            if dataset.is_none() && table.is_none() {
                outcome.refuse("Bad argument: dataset or table required".to_owned());
                continue;
            }
            let found = id_text.parse::<u64>().ok().filter(|id| {
                self.records.get(id).is_some_and(|r| {
                    dataset.is_none_or(|d| d.parse() == Ok(r.dataset))
                        && table.is_none_or(|t| self.tables[self.table_of(r.dataset)].name == t)
                })
            });
            let Some(id) = found else {
                outcome.refuse(format!("Record id [{id_text}] does not exist."));
                continue;
            };
            let table_index = self
                .records
                .get(&id)
                .map_or(0, |r| self.table_of(r.dataset));
            let Some(record) = self.records.get_mut(&id) else {
                continue;
            };
            let mut changed = record.clone();
            if let Err(error) = changed.apply(&mut self.tables[table_index], row) {
                outcome.refuse(error);
                continue;
            }
            outcome.total += 1;
            outcome.live = changed.is_live();
            *record = changed;
        }
        outcome
    }

    /// Runs a read.
    pub(super) fn read(&self, query: &ReadQuery<'_>) -> Result<Found<'_>, String> {
        let table = match (query.dataset, query.table) {
            (Some(d), _) => self.dataset(d).map(|d| d.table),
            (None, Some(t)) => self.tables.iter().position(|x| x.name == t),
            (None, None) => return Err("Bad argument: dataset or table required".to_owned()),
        };
        let Some(table_index) = table else {
            return Ok(Found {
                total: 0,
                rows: Vec::new(),
            });
        };
        let table = &self.tables[table_index];
        let searches = query
            .searches
            .iter()
            .map(|(field, value)| {
                table
                    .resolve(field)
                    .map(|c| (c, value.as_ref()))
                    .ok_or_else(|| format!("Bad argument: search[{field}]"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let sort = query
            .sort
            .map(|s| {
                table
                    .resolve(s)
                    .ok_or_else(|| "Bad argument: sort".to_owned())
            })
            .transpose()?;
        let in_scope = |r: &Record| {
            query.dataset.is_none_or(|d| r.dataset == d)
                && (query.dataset.is_some() || self.table_of(r.dataset) == table_index)
                && query
                    .table
                    .is_none_or(|t| self.tables[self.table_of(r.dataset)].name == t)
        };
        let matches = |r: &&Record| {
            in_scope(r)
                && query.matches(r)
                && searches
                    .iter()
                    .all(|(column, pattern)| search_matches(r.cell(*column), pattern, query.exact))
        };
        let mut rows: Vec<&Record> = match query.id {
            Some(id) => self.records.get(&id).into_iter().filter(matches).collect(),
            None => self.records.values().filter(matches).collect(),
        };
        let total = rows.len();
        if let Some(column) = sort {
            rows.sort_by(|a, b| compare_cells(a.cell(column), b.cell(column)));
        }
        if let Some(limit) = query.limit {
            rows.truncate(limit);
        }
        Ok(Found { total, rows })
    }

    /// Calls `visit` with each column of a read row, in order: the standard columns, then the
    /// record's table's custom columns.
    pub(super) fn visit_columns<'r>(
        &'r self,
        record: &'r Record,
        mut visit: impl FnMut(&'r str, Cell<'r>),
    ) {
        visit("id", Cell::Number(record.id));
        visit("datasetid", Cell::Number(record.dataset));
        for field in Field::ALL {
            visit(field.name(), Cell::Text(record.field(field)));
        }
        visit("URN", record.cell(Column::Urn));
        visit("VENDOR_URN", record.cell(Column::VendorUrn));
        let table = &self.tables[self.table_of(record.dataset)];
        for (i, name) in table.custom.iter().enumerate() {
            visit(name, Cell::Text(record.custom(i)));
        }
    }
}

fn search_matches(cell: Cell<'_>, pattern: &str, exact: bool) -> bool {
    let number;
    let value = match cell {
        Cell::Text(text) => text,
        Cell::Number(n) => {
            number = n.to_string();
            number.as_str()
        }
        Cell::Null => "",
    };
    if exact {
        return value == pattern;
    }
    let value = value.to_lowercase();
    let pattern = pattern.to_lowercase();
    let mut rest = value.as_str();
    for piece in pattern.split(['*', '%']).filter(|p| !p.is_empty()) {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    true
}

fn compare_cells(a: Cell<'_>, b: Cell<'_>) -> Ordering {
    match (a, b) {
        (Cell::Number(x), Cell::Number(y)) => x.cmp(&y),
        (Cell::Null, Cell::Null) => Ordering::Equal,
        (Cell::Null, _) => Ordering::Less,
        (_, Cell::Null) => Ordering::Greater,
        (Cell::Text(x), Cell::Text(y)) => match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => x.cmp(y),
        },
        (Cell::Number(x), Cell::Text(y)) => x.to_string().as_str().cmp(y),
        (Cell::Text(x), Cell::Number(y)) => x.cmp(y.to_string().as_str()),
    }
}

/// Which records `mode` keeps: the vendor defines each mode by `ProcessType` alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// `active`: `HOLD: New Prospect`, `New Prospect`, `HOLD: NEEDSMOREWORK`, `NEEDSMOREWORK`.
    Active,
    /// `live`: `NEEDSMOREWORK`, `New Prospect`.
    Live,
    /// `callbacks`: `HOLD: NEEDSMOREWORK`, `NEEDSMOREWORK`.
    Callbacks,
    /// `live-callbacks`: `NEEDSMOREWORK`.
    LiveCallbacks,
    /// `unexpired`: anything but `EXPIRED`.
    Unexpired,
}

impl Mode {
    fn from_arg(value: &str) -> Option<Self> {
        match value {
            "active" => Some(Self::Active),
            "live" => Some(Self::Live),
            "callbacks" => Some(Self::Callbacks),
            "live-callbacks" => Some(Self::LiveCallbacks),
            "unexpired" => Some(Self::Unexpired),
            _ => None,
        }
    }

    fn keeps(self, process_type: &str) -> bool {
        let kept: &[&str] = match self {
            Self::Active => &[
                HOLD_NEW_PROSPECT,
                NEW_PROSPECT,
                HOLD_NEEDS_MORE_WORK,
                NEEDS_MORE_WORK,
            ],
            Self::Live => &[NEEDS_MORE_WORK, NEW_PROSPECT],
            Self::Callbacks => &[HOLD_NEEDS_MORE_WORK, NEEDS_MORE_WORK],
            Self::LiveCallbacks => &[NEEDS_MORE_WORK],
            Self::Unexpired => return process_type != EXPIRED,
        };
        kept.contains(&process_type)
    }
}

/// One search of a read: the field named, and the pattern its value must match.
type SearchTerm<'a> = (Cow<'a, str>, Cow<'a, str>);

/// The search terms of a read, in both of the forms clients send: `search[<field>]=<pattern>`
/// arguments, and one `search` argument holding a JSON object of field → pattern. Anything
/// else named `search` is refused, so a read is never widened by a search it ignored.
fn searches<'a>(args: &'a Args<'_>) -> Result<Vec<SearchTerm<'a>>, String> {
    let mut terms = Vec::new();
    if let Some(object) = args.non_empty("search") {
        let Ok(Row(fields)) = serde_json::from_str::<Row>(object) else {
            return Err("Bad argument: search".to_owned());
        };
        terms.extend(
            fields
                .into_iter()
                .map(|(field, pattern)| (Cow::Owned(field), Cow::Owned(pattern))),
        );
    }
    for (field, pattern) in args.searches() {
        if field.is_empty() {
            return Err("Bad argument: search[]".to_owned());
        }
        terms.push((Cow::Borrowed(field), Cow::Borrowed(pattern)));
    }
    Ok(terms)
}

/// The datetime column `timetype` ranges over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TimeField {
    Callback,
    ProcessDate,
}

/// The arguments of a `read`, checked.
#[derive(Debug, Default)]
pub(super) struct ReadQuery<'a> {
    dataset: Option<u64>,
    table: Option<&'a str>,
    id: Option<u64>,
    urn: Option<&'a str>,
    outcomes: Vec<&'a str>,
    agent: Option<&'a str>,
    ddi: Option<&'a str>,
    mode: Option<Mode>,
    time: Option<(TimeField, Option<NaiveDateTime>, Option<NaiveDateTime>)>,
    /// `(field, pattern)` from `search[<field>]=<pattern>` and from the older
    /// `search={"<field>":"<pattern>",…}`.
    searches: Vec<SearchTerm<'a>>,
    exact: bool,
    limit: Option<usize>,
    sort: Option<&'a str>,
}

impl<'a> ReadQuery<'a> {
    /// Reads the filters from the call's arguments; an unusable one is `Bad argument: <name>`.
    /// `tstart` / `tstop` take `YYYY-MM-DD HH:MM:SS`, or a bare date for that whole day.
    pub(super) fn parse(args: &'a Args<'_>) -> Result<Self, String> {
        let bad = |name: &str| format!("Bad argument: {name}");
        let number = |name: &str| {
            args.non_empty(name)
                .map(|v| v.trim().parse::<u64>().map_err(|_| bad(name)))
                .transpose()
        };
        let bound = |name: &str, day_edge: NaiveTime| {
            args.non_empty(name)
                .map(|v| {
                    let v = v.trim();
                    NaiveDateTime::parse_from_str(v, DATETIME_FORMAT)
                        .or_else(|_| {
                            NaiveDate::parse_from_str(v, DATE_FORMAT).map(|d| d.and_time(day_edge))
                        })
                        .map_err(|_| bad(name))
                })
                .transpose()
        };
        let mode = args
            .non_empty("mode")
            .map(|m| Mode::from_arg(m).ok_or_else(|| bad("mode")))
            .transpose()?;
        let (start, stop) = (
            bound("tstart", NaiveTime::MIN)?,
            bound("tstop", END_OF_DAY)?,
        );
        let time = match args.non_empty("timetype") {
            None if start.is_some() || stop.is_some() => return Err(bad("timetype")),
            None => None,
            Some("callback") => Some((TimeField::Callback, start, stop)),
            Some("processdate") => Some((TimeField::ProcessDate, start, stop)),
            Some(_) => return Err(bad("timetype")),
        };
        let exact = match args.non_empty("type") {
            None | Some("wildcard") => false,
            Some("exact") => true,
            Some(_) => return Err(bad("type")),
        };
        let limit = number("limit")?.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        Ok(Self {
            dataset: number("dataset")?,
            table: args.non_empty("table"),
            id: number("id")?,
            urn: args.non_empty("urn"),
            outcomes: args
                .non_empty("outcome")
                .map(|list| {
                    list.split(',')
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            agent: args.non_empty("agent"),
            ddi: args.non_empty("ddi"),
            mode,
            time,
            searches: searches(args)?,
            exact,
            limit,
            sort: args.non_empty("sort"),
        })
    }

    /// Whether a record passes every filter but the scope and the searches.
    fn matches(&self, r: &Record) -> bool {
        self.id.is_none_or(|id| r.id == id)
            && self.urn.is_none_or(|u| r.urn.as_deref() == Some(u))
            && (self.outcomes.is_empty() || self.outcomes.contains(&r.field(Field::OutcomeCode)))
            && self.agent.is_none_or(|a| r.field(Field::AgentRef) == a)
            && self.ddi.is_none_or(|d| r.has_phone(d))
            && self
                .mode
                .is_none_or(|m| m.keeps(r.field(Field::ProcessType)))
            && self.time.is_none_or(|(field, start, stop)| {
                if start.is_none() && stop.is_none() {
                    return true;
                }
                let column = match field {
                    TimeField::Callback => Field::Callback,
                    TimeField::ProcessDate => Field::ProcessDate,
                };
                parse_datetime(r.field(column))
                    .is_some_and(|t| start.is_none_or(|s| t >= s) && stop.is_none_or(|s| t <= s))
            })
    }
}
