//! `ecnow_datasets`: the `read` filters, `create` (upstream defaults: no queue, `HOLD`,
//! priority 0) and `update`. An `EXPIRED` dataset is final: an update naming it is refused, as
//! a create of records into it is. A status change moves its records' `ProcessType` along.

use super::model::{Dataset, DatasetStatus, Store};
use super::write::WriteOutcome;
use crate::emulator::wire::{Args, Row, TextRow};

/// The highest `d_priority` (dialled first within a campaign).
pub(super) const MAX_PRIORITY: u8 = 90;
/// What `callbacks` shows for every emulated dataset.
const NO_CALLBACKS: &str = "none";
/// Read-only columns a write may echo back from a read row; ignored.
const ECHOED: [&str; 4] = ["callbacks", "crm_account", "crm_campaign", "locked"];
/// The field naming the campaign table a created dataset joins **(inferred; default: the table
/// of the queue's other datasets, else the first table)**.
const TABLE_FIELD: &str = "table";

impl Dataset {
    /// The dataset as read rows show it, every value a string.
    fn row(&self) -> TextRow {
        TextRow(vec![
            ("dataset", self.id.to_string()),
            ("qid", self.qid.to_string()),
            ("d_status", self.status.upstream().to_owned()),
            ("d_priority", self.priority.to_string()),
            ("notes", self.notes.clone()),
            ("callbacks", NO_CALLBACKS.to_owned()),
            ("crm_account", "0".to_owned()),
            ("crm_campaign", "0".to_owned()),
            ("description", self.description.clone()),
            ("locked", "0".to_owned()),
        ])
    }

    /// Applies the writable fields of `row` (`qid`, `d_status`, `d_priority`, `description`,
    /// `notes`) to a copy; an unusable or unknown one refuses the row.
    fn changed_by(&self, row: &Row, creating: bool) -> Result<Self, String> {
        let mut next = self.clone();
        for (name, value) in &row.0 {
            let name = name.to_ascii_lowercase();
            let value = value.trim();
            let bad = || format!("Bad argument: {name}");
            match name.as_str() {
                "qid" => next.qid = value.parse().map_err(|_| bad())?,
                "d_status" => next.status = DatasetStatus::from_arg(value).ok_or_else(bad)?,
                "d_priority" => {
                    next.priority = value
                        .parse()
                        .ok()
                        .filter(|p| *p <= MAX_PRIORITY)
                        .ok_or_else(bad)?;
                }
                "description" => value.clone_into(&mut next.description),
                "notes" => value.clone_into(&mut next.notes),
                "dataset" => {}
                TABLE_FIELD if creating => {}
                n if ECHOED.contains(&n) => {}
                _ => return Err(format!("Unknown field [{name}].")),
            }
        }
        Ok(next)
    }
}

impl Store {
    /// The datasets a read's filters keep: `dataset` and `qid` (one id or a comma list),
    /// `state` (`HOLD|LIVE|EXPIRED`), `table` (an unknown table keeps none).
    pub(in crate::emulator) fn read_datasets(
        &self,
        args: &Args<'_>,
    ) -> Result<Vec<TextRow>, String> {
        let ids = |name: &str| -> Result<Option<Vec<u64>>, String> {
            args.non_empty(name)
                .map(|list| {
                    list.split(',')
                        .map(|id| id.trim().parse::<u64>())
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|_| format!("Bad argument: {name}"))
                })
                .transpose()
        };
        let (datasets, queues) = (ids("dataset")?, ids("qid")?);
        let state = args
            .non_empty("state")
            .map(|s| DatasetStatus::from_arg(s).ok_or_else(|| "Bad argument: state".to_owned()))
            .transpose()?;
        let table = args.non_empty("table");
        Ok(self
            .datasets
            .iter()
            .filter(|d| datasets.as_ref().is_none_or(|ids| ids.contains(&d.id)))
            .filter(|d| queues.as_ref().is_none_or(|ids| ids.contains(&d.qid)))
            .filter(|d| state.is_none_or(|s| d.status == s))
            .filter(|d| table.is_none_or(|t| self.tables[d.table].name == t))
            .map(Dataset::row)
            .collect())
    }

    /// Creates a dataset per row; `key` is the last new id.
    pub(in crate::emulator) fn create_datasets(&mut self, rows: &[Row]) -> WriteOutcome {
        let mut outcome = WriteOutcome::default();
        for row in rows {
            let next_id = self.datasets.iter().map(|d| d.id).max().unwrap_or(0) + 1;
            let table = match row
                .get(TABLE_FIELD)
                .map(str::trim)
                .filter(|t| !t.is_empty())
            {
                Some(name) => match self.tables.iter().position(|t| t.name == name) {
                    Some(index) => index,
                    None => {
                        outcome.refuse(format!("Table [{name}] does not exist."));
                        continue;
                    }
                },
                None => {
                    let qid = row.get("qid").and_then(|q| q.trim().parse::<u64>().ok());
                    self.datasets
                        .iter()
                        .find(|d| qid.is_some_and(|q| q != 0 && d.qid == q))
                        .map_or(0, |d| d.table)
                }
            };
            match Dataset::new(next_id, table).changed_by(row, true) {
                Ok(dataset) => {
                    outcome.total += 1;
                    outcome.key = dataset.id;
                    self.datasets.push(dataset);
                }
                Err(error) => outcome.refuse(error),
            }
        }
        outcome
    }

    /// Changes each row's dataset (its `dataset` field); its records follow a status change.
    pub(in crate::emulator) fn update_datasets(&mut self, rows: &[Row]) -> WriteOutcome {
        let mut outcome = WriteOutcome::default();
        for row in rows {
            let Some(text) = row.get("dataset").map(str::trim).filter(|s| !s.is_empty()) else {
                outcome.refuse("No dataset provided.".to_owned());
                continue;
            };
            let Some(index) = text
                .parse::<u64>()
                .ok()
                .and_then(|id| self.datasets.iter().position(|d| d.id == id))
            else {
                outcome.refuse(format!("Dataset [{text}] does not exist."));
                continue;
            };
            let current = &self.datasets[index];
            if current.status == DatasetStatus::Expired {
                outcome.refuse(format!("Dataset [{}] is expired.", current.id));
                continue;
            }
            if let Some(name) = row
                .0
                .iter()
                .map(|(n, _)| n)
                .find(|n| n.eq_ignore_ascii_case(TABLE_FIELD))
            {
                outcome.refuse(format!("Unknown field [{name}]."));
                continue;
            }
            match current.changed_by(row, false) {
                Ok(changed) => {
                    let (id, status) = (changed.id, changed.status);
                    self.datasets[index] = changed;
                    for record in self.records.values_mut().filter(|r| r.dataset == id) {
                        record.follow_dataset(status);
                    }
                    outcome.total += 1;
                }
                Err(error) => outcome.refuse(error),
            }
        }
        outcome
    }
}
