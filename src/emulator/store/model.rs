//! The emulated account's data: campaign tables with their custom columns, datasets, records
//! and their columns, and the [`Store`] that holds them. What a write may change lives in
//! `write`, what a read finds in `read`.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};

use crate::emulator::wire::{Cell, ReadRow};

/// An unset datetime, as the upstream writes it.
pub(super) const ZERO_DATETIME: &str = "0000-00-00 00:00:00";
/// An unset date, as the upstream writes it.
pub(super) const ZERO_DATE: &str = "0000-00-00";
/// The id of the first seeded record.
pub(super) const FIRST_RECORD_ID: u64 = 550_000;
/// The account every write answer names.
pub(in crate::emulator) const ACCOUNT_ID: &str = "10278";
/// `ProcessType` of a record never dialled.
pub(super) const NEW_PROSPECT: &str = "New Prospect";
/// `ProcessType` of a record never dialled, in a dataset on hold.
pub(super) const HOLD_NEW_PROSPECT: &str = "HOLD: New Prospect";
/// `ProcessType` of a record dialled, not complete, to be dialled again.
pub(super) const NEEDS_MORE_WORK: &str = "NEEDSMOREWORK";
/// `ProcessType` of a record dialled and not complete, in a dataset on hold.
pub(super) const HOLD_NEEDS_MORE_WORK: &str = "HOLD: NEEDSMOREWORK";
/// `ProcessType` of a record that will not be dialled again.
pub(super) const COMPLETE: &str = "COMPLETE";
/// `ProcessType` of a record whose dataset left the dialer.
pub(super) const EXPIRED: &str = "EXPIRED";
/// How datetimes are written and read.
pub(super) const DATETIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";
/// How dates are written and read.
pub(super) const DATE_FORMAT: &str = "%Y-%m-%d";

/// A standard text column of a record, in the order read rows list them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::emulator) enum Field {
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

pub(super) const FIELD_COUNT: usize = 24;

/// How a column's values are checked on write and what clearing it leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Text,
    DateTime,
    Date,
    Flag,
    Number,
}

impl Field {
    pub(super) const ALL: [Self; FIELD_COUNT] = [
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

    pub(super) fn kind(self) -> Kind {
        match self {
            Self::ProcessDate | Self::Callback => Kind::DateTime,
            Self::LoadDate => Kind::Date,
            Self::CallBackSametime | Self::AgentSpecific => Kind::Flag,
            Self::OutcomeCode | Self::AgentRef => Kind::Number,
            _ => Kind::Text,
        }
    }

    /// What a record holds in this column when nothing was written to it.
    pub(super) fn cleared(self) -> &'static str {
        match self.kind() {
            Kind::Text => "",
            Kind::DateTime => ZERO_DATETIME,
            Kind::Date => ZERO_DATE,
            Kind::Flag | Kind::Number => "0",
        }
    }
}

/// A datetime as written, `T` or space between date and time.
pub(super) fn parse_datetime(value: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(value, DATETIME_FORMAT)
        .or_else(|_| NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S"))
        .ok()
}

/// A column a name resolves to within one campaign table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Column {
    Id,
    DatasetId,
    Field(Field),
    Urn,
    VendorUrn,
    Custom(usize),
}

/// One record of a dataset.
#[derive(Clone, Debug)]
pub(in crate::emulator) struct Record {
    pub(super) id: u64,
    pub(super) dataset: u64,
    pub(super) fields: [String; FIELD_COUNT],
    pub(super) urn: Option<String>,
    pub(super) vendor_urn: Option<String>,
    /// Values of the table's custom columns, by column index; missing ones are empty.
    pub(super) custom: Vec<String>,
}

impl Record {
    pub(super) fn new(id: u64, dataset: u64, today: NaiveDate) -> Self {
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

    pub(super) fn field(&self, field: Field) -> &str {
        &self.fields[field as usize]
    }

    pub(super) fn set(&mut self, field: Field, value: impl Into<String>) {
        self.fields[field as usize] = value.into();
    }

    pub(super) fn custom(&self, index: usize) -> &str {
        self.custom.get(index).map_or("", String::as_str)
    }

    pub(super) fn set_custom(&mut self, index: usize, value: &str) {
        if self.custom.len() <= index {
            self.custom.resize(index + 1, String::new());
        }
        value.trim().clone_into(&mut self.custom[index]);
    }

    pub(super) fn cell(&self, column: Column) -> Cell<'_> {
        match column {
            Column::Id => Cell::Number(self.id),
            Column::DatasetId => Cell::Number(self.dataset),
            Column::Field(f) => Cell::Text(self.field(f)),
            Column::Urn => self.urn.as_deref().map_or(Cell::Null, Cell::Text),
            Column::VendorUrn => self.vendor_urn.as_deref().map_or(Cell::Null, Cell::Text),
            Column::Custom(i) => Cell::Text(self.custom(i)),
        }
    }

    pub(super) fn is_live(&self) -> bool {
        !matches!(self.field(Field::ProcessType), COMPLETE | EXPIRED)
    }

    /// Brings `ProcessType` in line with the record's dataset: `HOLD: ` before a waiting
    /// state while the dataset is on hold, none while it is live, `EXPIRED` for anything
    /// not complete once it has expired.
    pub(super) fn follow_dataset(&mut self, status: DatasetStatus) {
        let now = self.field(Field::ProcessType);
        let next = match (status, now) {
            (DatasetStatus::Hold, NEW_PROSPECT) => HOLD_NEW_PROSPECT,
            (DatasetStatus::Hold, NEEDS_MORE_WORK) => HOLD_NEEDS_MORE_WORK,
            (DatasetStatus::Live, HOLD_NEW_PROSPECT) => NEW_PROSPECT,
            (DatasetStatus::Live, HOLD_NEEDS_MORE_WORK) => NEEDS_MORE_WORK,
            (DatasetStatus::Expired, now) if now != COMPLETE => EXPIRED,
            _ => return,
        };
        self.set(Field::ProcessType, next);
    }

    pub(super) fn has_phone(&self, phone: &str) -> bool {
        [Field::HomePhone, Field::MobilePhone, Field::WorkPhone]
            .iter()
            .any(|f| self.field(*f) == phone)
    }
}

/// A campaign table: its name and its custom columns.
#[derive(Clone, Debug)]
pub(super) struct Table {
    pub(super) name: String,
    pub(super) custom: Vec<String>,
}

impl Table {
    pub(super) fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            custom: vec!["company_name".to_owned(), "test_field".to_owned()],
        }
    }

    /// Finds a column by its read name, its write name or a custom name, in any letter case.
    pub(super) fn resolve(&self, name: &str) -> Option<Column> {
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

/// Whether a dataset's records are dialled (`d_status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum DatasetStatus {
    /// `HOLD`: nothing is dialled.
    Hold,
    /// `LIVE`: records dial when agents of its queues are waiting.
    Live,
    /// `EXPIRED`: final; nothing is dialled, created or reopened.
    Expired,
}

impl DatasetStatus {
    /// Reads a `d_status` or `state` value, in any letter case.
    pub(super) fn from_arg(value: &str) -> Option<Self> {
        [Self::Hold, Self::Live, Self::Expired]
            .into_iter()
            .find(|s| s.upstream().eq_ignore_ascii_case(value.trim()))
    }

    /// The upstream's word: `HOLD`, `LIVE`, `EXPIRED`.
    pub(super) fn upstream(self) -> &'static str {
        match self {
            Self::Hold => "HOLD",
            Self::Live => "LIVE",
            Self::Expired => "EXPIRED",
        }
    }

    /// The gateway's word: `hold`, `live`, `expired`.
    pub(super) fn gateway(self) -> &'static str {
        match self {
            Self::Hold => "hold",
            Self::Live => "live",
            Self::Expired => "expired",
        }
    }
}

/// A dataset: which table it lives in, its queue, status and the rest of its row.
#[derive(Clone, Debug)]
pub(super) struct Dataset {
    pub(super) id: u64,
    pub(super) table: usize,
    /// Queue id (`qid`); `0` is none.
    pub(super) qid: u64,
    pub(super) status: DatasetStatus,
    /// `d_priority`, 0 to [`MAX_PRIORITY`](super::datasets::MAX_PRIORITY).
    pub(super) priority: u8,
    pub(super) description: String,
    pub(super) notes: String,
}

impl Dataset {
    /// A dataset with the upstream's create defaults: no queue, `HOLD`, priority 0, no notes.
    pub(super) fn new(id: u64, table: usize) -> Self {
        Self {
            id,
            table,
            qid: 0,
            status: DatasetStatus::Hold,
            priority: 0,
            description: String::new(),
            notes: String::new(),
        }
    }
}

/// Every table, dataset and record of the emulated account.
#[derive(Clone, Debug)]
pub(in crate::emulator) struct Store {
    pub(super) tables: Vec<Table>,
    pub(super) datasets: Vec<Dataset>,
    pub(super) records: BTreeMap<u64, Record>,
    pub(super) next_id: u64,
}

impl Store {
    /// The datasets, campaign tables and outcome codes of the account, for the banner.
    pub(in crate::emulator) fn fixtures(&self) -> crate::emulator::Fixtures {
        let datasets = self
            .datasets
            .iter()
            .map(|d| crate::emulator::DatasetFixture {
                id: d.id,
                status: d.status.gateway(),
                campaign: self.tables[d.table].name.clone(),
                records: self.records_in_dataset(d.id),
            })
            .collect();
        crate::emulator::Fixtures {
            datasets,
            campaigns: self.tables.iter().map(|t| t.name.clone()).collect(),
            outcome_codes: super::outcomes::OUTCOME_CODES
                .iter()
                .map(|o| crate::emulator::OutcomeFixture {
                    code: o.code,
                    description: o.description,
                    complete: o.complete,
                })
                .collect(),
        }
    }

    /// How many records dataset `dataset` holds.
    pub(in crate::emulator) fn records_in_dataset(&self, dataset: u64) -> usize {
        self.records
            .values()
            .filter(|r| r.dataset == dataset)
            .count()
    }

    pub(super) fn dataset(&self, id: u64) -> Option<&Dataset> {
        self.datasets.iter().find(|d| d.id == id)
    }

    pub(super) fn table_of(&self, dataset: u64) -> usize {
        self.dataset(dataset).map_or(0, |d| d.table)
    }

    /// A found record, as a read answer shows it.
    pub(super) fn view<'s>(&'s self, record: &'s Record) -> RecordView<'s> {
        RecordView {
            store: self,
            record,
        }
    }
}

/// A record with the store it lives in: its read row lists its table's custom columns.
#[derive(Clone, Copy, Debug)]
pub(in crate::emulator) struct RecordView<'s> {
    store: &'s Store,
    record: &'s Record,
}

impl ReadRow for RecordView<'_> {
    /// The standard columns, then the record's table's custom columns.
    fn visit_columns<'r>(&'r self, visit: &mut dyn FnMut(&'r str, Cell<'r>)) {
        let (store, record) = (self.store, self.record);
        visit("id", Cell::Number(record.id));
        visit("datasetid", Cell::Number(record.dataset));
        for field in Field::ALL {
            visit(field.name(), Cell::Text(record.field(field)));
        }
        visit("URN", record.cell(Column::Urn));
        visit("VENDOR_URN", record.cell(Column::VendorUrn));
        let table = &store.tables[store.table_of(record.dataset)];
        for (i, name) in table.custom.iter().enumerate() {
            visit(name, Cell::Text(record.custom(i)));
        }
    }
}
