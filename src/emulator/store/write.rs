//! The write rules of `create` and `update`: which rows are refused and why, how values are
//! checked and stored, how a written outcome code moves `ProcessType`, and how an unknown
//! column joins its table.

use chrono::NaiveDate;

use super::model::{
    COMPLETE, Column, DATE_FORMAT, DATETIME_FORMAT, DatasetStatus, Field, Kind, NEEDS_MORE_WORK,
    Record, Store, Table, ZERO_DATE, ZERO_DATETIME, parse_datetime,
};
use super::outcomes::outcome_is_complete;
use crate::emulator::wire::Row;

/// `info` after a write that leaves the record on the dialer.
const LIVE_INFO: &str = "Record is LIVE on the dialer.";
/// `info` after a write that leaves the record with a complete outcome.
const NOT_LIVE_INFO: &str = "Record is NOT live on the dialer due having a complete outcome.";
/// `info` after a write that leaves the record in a dataset on hold **(inferred wording)**.
const HELD_INFO: &str = "Record is NOT live on the dialer due to the dataset being on HOLD.";
/// The fields of which a created record needs one.
const PHONE_FIELDS: [&str; 3] = ["homephone", "mobilephone", "workphone"];
/// The fields that route a write to its record, never written to it.
const ROUTING_FIELDS: [&str; 4] = ["id", "dataset", "datasetid", "table"];
/// The field whose value is added to the record's notes.
const NOTES_APPEND: &str = "notes_append";

impl Field {
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

impl Record {
    /// Brings `ProcessType` in line with a newly written outcome code: a complete outcome
    /// completes the record; any other outcome puts a completed record back to be dialled.
    fn follow_outcome(&mut self) {
        if outcome_is_complete(self.field(Field::OutcomeCode)) {
            self.set(Field::ProcessType, COMPLETE);
        } else if self.field(Field::ProcessType) == COMPLETE {
            self.set(Field::ProcessType, NEEDS_MORE_WORK);
        }
    }

    /// Applies a write row's fields (all but the routing ones) and its `notes_append`.
    pub(super) fn apply(&mut self, table: &mut Table, row: &Row) -> Result<(), String> {
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

/// Whether a write row sets `ProcessType` itself (the dataset's status then moves nothing).
fn names_process_type(row: &Row) -> bool {
    row.get(Field::ProcessType.name()).is_some()
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

/// What a `create` or `update` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(in crate::emulator) struct WriteOutcome {
    /// Rows written.
    pub(in crate::emulator) total: usize,
    /// Rows refused.
    pub(in crate::emulator) bad: usize,
    /// The id of the last record created, or 0 (creates answer it as `key`; updates have none).
    pub(in crate::emulator) key: u64,
    /// The last refused row's error.
    pub(in crate::emulator) error: Option<String>,
    /// Whether the last record written stays on the dialer.
    pub(in crate::emulator) live: bool,
    /// Whether the last record written is in a dataset on hold.
    pub(in crate::emulator) held: bool,
}

impl WriteOutcome {
    /// Counts a refused row and keeps its error.
    pub(super) fn refuse(&mut self, error: String) {
        self.bad += 1;
        self.error = Some(error);
    }

    /// The `info` text for the last record written.
    pub(in crate::emulator) fn info(&self) -> &'static str {
        if !self.live {
            NOT_LIVE_INFO
        } else if self.held {
            HELD_INFO
        } else {
            LIVE_INFO
        }
    }
}

impl Store {
    /// Inserts each acceptable row as a new record.
    pub(in crate::emulator) fn create(&mut self, rows: &[Row], today: NaiveDate) -> WriteOutcome {
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
                    Some(d) if d.status == DatasetStatus::Expired => {
                        outcome.refuse(format!("Dataset [{}] is expired.", d.id));
                        continue;
                    }
                    Some(d) => (d.id, d.table, d.status),
                },
            };
            let has_phone = PHONE_FIELDS
                .iter()
                .any(|p| row.get(p).is_some_and(|v| !v.trim().is_empty()));
            if !has_phone {
                outcome.refuse("No phone number provided.".to_owned());
                continue;
            }
            let (dataset_id, table, status) = dataset;
            let mut record = Record::new(self.next_id, dataset_id, today);
            if let Err(error) = record.apply(&mut self.tables[table], row) {
                outcome.refuse(error);
                continue;
            }
            if !names_process_type(row) {
                record.follow_dataset(status);
            }
            outcome.total += 1;
            outcome.key = record.id;
            outcome.live = record.is_live();
            outcome.held = status == DatasetStatus::Hold;
            self.records.insert(record.id, record);
            self.next_id += 1;
        }
        outcome
    }

    /// Changes each row's record, found by the row's `id` (else `query_id`) within the
    /// row's `dataset` and/or `table`.
    pub(in crate::emulator) fn update(
        &mut self,
        query_id: Option<&str>,
        rows: &[Row],
    ) -> WriteOutcome {
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
            let (table_index, status) = self
                .records
                .get(&id)
                .and_then(|r| self.dataset(r.dataset))
                .map_or((0, DatasetStatus::Live), |d| (d.table, d.status));
            let Some(record) = self.records.get_mut(&id) else {
                continue;
            };
            let mut changed = record.clone();
            if let Err(error) = changed.apply(&mut self.tables[table_index], row) {
                outcome.refuse(error);
                continue;
            }
            let wrote_outcome = row.get(Field::OutcomeCode.name()).is_some();
            if wrote_outcome && !names_process_type(row) {
                changed.follow_dataset(status);
            }
            outcome.total += 1;
            outcome.live = changed.is_live();
            outcome.held = status == DatasetStatus::Hold;
            *record = changed;
        }
        outcome
    }
}
