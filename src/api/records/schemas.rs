//! The answer, query and body types of the record resources, as the document shows them.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{JsonValue, Record};
use crate::upstream::wire::RecordJson;

/// The answer to a single-record create.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 550447, "dataset_id": 100, "live": true, "info": "Record is LIVE on the dialer."}))]
pub struct CreatedRecord {
    /// The new record's id.
    pub id: u64,
    /// Its dataset.
    pub dataset_id: u64,
    /// Whether the record is live on the dialler.
    pub live: bool,
    /// ContactNow's information text.
    pub info: Option<String>,
}

/// The answer to a batch create.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"created": 2, "rejected": 1, "info": ["records 0..3: 2 created, 1 rejected: No phone number provided."]}))]
pub struct BatchResult {
    /// Records created.
    pub created: u64,
    /// Records refused (or not confirmed, see `info`).
    pub rejected: u64,
    /// One line per upstream exchange: what ContactNow said about that chunk.
    pub info: Vec<String>,
}

/// A page of records.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = RecordList::example)]
pub struct RecordList {
    /// Every match, even those `limit` cut: ContactNow's count, less the rows of this page that
    /// were dropped for being outside the dataset read.
    #[schema(example = 1)]
    pub total: u64,
    /// The records returned.
    pub records: Vec<Record>,
}

impl RecordList {
    /// The JSON of a page of records read as JSON, as serde_json writes a `RecordList`.
    pub fn json(total: u64, records: &[RecordJson]) -> Vec<u8> {
        let length: usize = records
            .iter()
            .map(|record| record.as_bytes().len() + 1)
            .sum();
        let mut out = Vec::with_capacity(length + 48);
        out.extend_from_slice(b"{\"total\":");
        total.write_json(&mut out);
        out.extend_from_slice(b",\"records\":");
        records.write_json(&mut out);
        out.push(b'}');
        out
    }

    /// A page holding the example record.
    pub fn example() -> serde_json::Value {
        serde_json::json!({"total": 1, "records": [Record::example()]})
    }
}

/// The answer to an update.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 550447, "live": true, "info": "Record is LIVE on the dialer."}))]
pub struct UpdatedRecord {
    /// The record's id.
    pub id: u64,
    /// Whether the record is live on the dialler.
    pub live: bool,
    /// ContactNow's information text.
    pub info: Option<String>,
}

/// `mode`: which records a read keeps by their process state.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ModeParam {
    /// New or needing more work.
    Active,
    /// Live on the dialler.
    Live,
    /// With a callback set.
    Callbacks,
    /// Live, with a callback set.
    LiveCallbacks,
    /// Not expired.
    Unexpired,
}

/// `time_field`: the datetime column `from` / `to` apply to.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TimeFieldParam {
    /// The callback time.
    Callback,
    /// The last processing time.
    ProcessDate,
}

/// `match`: how `search[...]` values match.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchParam {
    /// Equal.
    Exact,
    /// Contains (`*` and `%` are wildcards); the default.
    Wildcard,
}

/// The query of a table read. Filters combine with AND; any other parameter is a 400.
#[derive(Debug, Serialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReadQuery {
    /// Comma list of outcome codes, e.g. `100,200`.
    pub outcome: Option<String>,
    /// Process state to keep.
    #[param(inline)]
    pub mode: Option<ModeParam>,
    /// Agent reference.
    pub agent: Option<String>,
    /// A phone matching any of the three phones.
    pub phone: Option<String>,
    /// The datetime column `from` / `to` apply to (needs one of them).
    #[param(inline)]
    pub time_field: Option<TimeFieldParam>,
    /// Inclusive start, ISO 8601 without offset (`2019-01-07` or `2019-01-07T10:15:00`).
    pub from: Option<String>,
    /// Inclusive end, ISO 8601 without offset.
    pub to: Option<String>,
    /// Search `last_name`. Any gateway field name or custom column name works in the brackets,
    /// e.g. `search[company_name]=ACME`.
    #[serde(rename = "search[last_name]")]
    pub search_last_name: Option<String>,
    /// Search `first_name`.
    #[serde(rename = "search[first_name]")]
    pub search_first_name: Option<String>,
    /// Search `postcode`.
    #[serde(rename = "search[postcode]")]
    pub search_postcode: Option<String>,
    /// How `search[...]` values match.
    #[serde(rename = "match")]
    #[param(inline)]
    pub match_: Option<MatchParam>,
    // Its bounds are written in `constraints`, from `domain::filter::MAX_LIMIT`.
    /// The most records to return: 1 to 1000, default 100.
    pub limit: Option<u32>,
}

/// The create body's record. Only a name and an example here: its schema (writable fields with
/// the dialler fields, at least one phone, `agent_specific: true` only with an `agent_ref`, no
/// unknown fields) is written in `constraints`, beside the other rules the
/// derive cannot express, and mirrors `NewRecord::parse`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"title": "Mr", "first_name": "Joe", "last_name": "Blogs",
    "mobile_phone": "07123456789", "callback_at": "2026-12-01T10:00:00",
    "callback_notes": "Asked for a call after ten", "agent_ref": "1001", "agent_specific": true,
    "custom": {"company_name": "Company Name"}}))]
pub struct NewRecordBody {}

/// A create body: one record, or an array of 1 to 1000.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum CreateBody {
    /// One record.
    One(Box<NewRecordBody>),
    /// A batch.
    Many(Vec<NewRecordBody>),
}

/// An update body: any writable field, dialler fields included (`null` clears it),
/// `notes_append`, and on
/// `PATCH /records/{id}` exactly one of `dataset` / `table`. Its schema is written in
/// `constraints` and mirrors `RecordPatch::parse_body`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"dataset": 100, "last_name": "Bloggs", "notes_append": "Called back"}))]
pub struct RecordPatchBody {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_list_is_written_as_serde_json_writes_it() {
        let example = Record {
            id: 550431,
            first_name: Some("Jo \"Jo\"".into()),
            custom: [("company_name".to_owned(), None)].into(),
            ..Record::default()
        };
        for records in [vec![], vec![example, Record::default()]] {
            let json: Vec<RecordJson> = records.iter().map(RecordJson::of).collect();
            let list = RecordList { total: 7, records };
            assert_eq!(
                RecordList::json(7, &json),
                serde_json::to_vec(&list).unwrap()
            );
        }
    }
}
