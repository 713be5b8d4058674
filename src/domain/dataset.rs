//! Datasets, campaign tables, campaign fields and outcome codes as the gateway shows them, and
//! the query of a dataset list.
//!
//! The upstream's spelling of each (`d_status`, `standard_field`, `Y`/`N`) is read in
//! `upstream::catalog`; these types hold clean values only.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ids::{MAX_ID, TableName};
use crate::error::{Error, FieldError};

/// The highest dataset priority (dialled first within a campaign).
pub const MAX_PRIORITY: u8 = 90;

/// A dataset's dialling status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DatasetStatus {
    /// Nothing is dialled.
    Hold,
    /// Records dial when agents of its queues are waiting.
    Live,
    /// Final: records can no longer be dialled, creates into it are refused.
    Expired,
}

impl DatasetStatus {
    /// Every status.
    pub const ALL: [Self; 3] = [Self::Hold, Self::Live, Self::Expired];

    /// The gateway's name (`hold`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Hold => "hold",
            Self::Live => "live",
            Self::Expired => "expired",
        }
    }
}

/// A ContactNow dataset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({"id": 351, "queue_id": 75674454, "status": "live", "priority": 0,
    "description": "MyNumber", "notes": "Loaded by Importer 2.1", "callbacks": "none",
    "locked": false, "campaign": "Willtest"}))]
pub struct Dataset {
    /// Dataset id.
    #[schema(minimum = 1, maximum = 9007199254740991_u64)]
    pub id: u64,
    /// The queue the dataset dials from (`0`: none).
    #[schema(maximum = 9007199254740991_u64)]
    pub queue_id: u64,
    /// Dialling status.
    pub status: DatasetStatus,
    /// Order within the campaign, 0 to 90 (90 first).
    #[schema(minimum = 0, maximum = 90)]
    pub priority: u8,
    /// Description.
    pub description: Option<String>,
    /// Notes.
    pub notes: Option<String>,
    /// ContactNow's callback setting (e.g. `none`).
    pub callbacks: Option<String>,
    /// Whether the dataset is locked.
    pub locked: bool,
    /// The campaign table the dataset belongs to, `null` when unknown.
    pub campaign: Option<String>,
}

/// `GET /datasets`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DatasetList {
    /// The datasets the caller may touch.
    pub datasets: Vec<Dataset>,
}

/// A campaign table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({"table": "Willtest"}))]
pub struct Campaign {
    /// The campaign table's name.
    #[schema(pattern = "^[A-Za-z0-9_]{1,64}$")]
    pub table: String,
}

/// `GET /campaigns`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignList {
    /// The campaign tables the caller may touch.
    pub campaigns: Vec<Campaign>,
}

/// A column of a campaign table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({"name": "company_name", "gateway_name": "custom.company_name",
    "type": "varchar", "size": 200, "group": "Custom", "prompt": "Company", "required": false,
    "read_only": false, "hidden": false, "searchable": true, "order": 12, "standard": false,
    "picklist": null}))]
pub struct CampaignField {
    /// ContactNow's column name.
    pub name: String,
    /// Where the field lives in a record body: `first_name` for `FirstName`, `custom.<name>` for
    /// the rest.
    pub gateway_name: String,
    /// ContactNow's column type (`int`, `varchar`, `select`, …).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// The longest value, when ContactNow says.
    pub size: Option<u32>,
    /// The group on agent screens.
    pub group: Option<String>,
    /// The label on agent screens.
    pub prompt: Option<String>,
    /// Whether agents must fill it.
    pub required: bool,
    /// Whether it is read-only on agent screens.
    pub read_only: bool,
    /// Whether it is hidden on agent screens.
    pub hidden: bool,
    /// Whether agents may search it.
    pub searchable: bool,
    /// Its place on agent screens.
    pub order: Option<u32>,
    /// Whether it is one of ContactNow's standard columns.
    pub standard: bool,
    /// The pick list it takes values from.
    pub picklist: Option<String>,
}

/// `GET /campaigns/{table}/fields`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldList {
    /// The table's columns, in ContactNow's order.
    pub fields: Vec<CampaignField>,
}

/// An outcome code of the account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({"code": 510456, "description": "Sales Completed", "complete": true,
    "dmc": true, "sale": true, "do_not_call": false, "answerphone": false}))]
pub struct OutcomeCode {
    /// The code, as records carry it in `outcome_code`.
    #[schema(minimum = 1, maximum = 999_999_999)]
    pub code: u32,
    /// What agents see.
    pub description: Option<String>,
    /// Setting it takes the record off the dialler.
    pub complete: bool,
    /// A decision maker was contacted.
    pub dmc: bool,
    /// The call made a sale.
    pub sale: bool,
    /// The number must not be called again.
    pub do_not_call: bool,
    /// An answering machine took the call.
    pub answerphone: bool,
}

/// `GET /outcome-codes`.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutcomeCodeList {
    /// The account's outcome codes.
    pub outcome_codes: Vec<OutcomeCode>,
}

/// The filters of `GET /datasets`, as the upstream read takes them (`state`, `table`, `qid`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DatasetQuery {
    /// Only datasets of this status.
    pub status: Option<DatasetStatus>,
    /// Only datasets of this campaign table.
    #[param(value_type = Option<String>, pattern = "^[A-Za-z0-9_]{1,64}$", example = "sandbox_campaign")]
    pub campaign: Option<TableName>,
    /// Only datasets of this queue.
    #[param(minimum = 1, maximum = 9007199254740991_u64, example = 75674454)]
    pub queue_id: Option<u64>,
}

impl DatasetQuery {
    /// Parses a query string: each of `status`, `campaign`, `queue_id` at most once; anything
    /// else is a `400`.
    pub fn parse_query(query: &str) -> Result<Self, Error> {
        let mut parsed = Self::default();
        let mut seen: Vec<String> = Vec::new();
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let key = key.into_owned();
            if seen.contains(&key) {
                return Err(Error::bad_field(key, "given more than once"));
            }
            match key.as_str() {
                "status" => {
                    parsed.status = Some(
                        DatasetStatus::ALL
                            .into_iter()
                            .find(|status| status.name() == value)
                            .ok_or_else(|| {
                                Error::bad_field("status", "one of hold, live, expired")
                            })?,
                    );
                }
                "campaign" => parsed.campaign = Some(TableName::parse("campaign", &value)?),
                "queue_id" => {
                    parsed.queue_id = Some(
                        value
                            .parse::<u64>()
                            .ok()
                            .filter(|id| (1..=MAX_ID).contains(id) && !value.starts_with('0'))
                            .ok_or_else(|| {
                                Error::bad_field("queue_id", "a positive integer below 2^53")
                            })?,
                    );
                }
                _ => {
                    return Err(Error::bad_field(
                        key,
                        "unknown query parameter: this route takes status, campaign and queue_id",
                    ));
                }
            }
            seen.push(key);
        }
        Ok(parsed)
    }
}

/// The fields `POST /datasets` takes.
const CREATE_FIELDS: [&str; 5] = ["queue_id", "description", "status", "priority", "notes"];
/// The fields `PATCH /datasets/{dataset}` takes.
const PATCH_FIELDS: [&str; 4] = ["status", "priority", "description", "notes"];

/// The body of `POST /datasets`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"queue_id": 75674454, "description": "Spring renewals",
    "status": "hold", "priority": 0, "notes": "Loaded by Importer 2.1"}))]
pub struct NewDataset {
    /// The queue the dataset dials from.
    #[schema(minimum = 1, maximum = 9007199254740991_u64)]
    pub queue_id: u64,
    /// Description.
    #[serde(default)]
    #[schema(value_type = String)]
    pub description: Option<String>,
    /// Dialling status, `hold` when absent (`expired` is refused: a new dataset could never
    /// dial).
    #[serde(default)]
    #[schema(value_type = DatasetStatus, default = "hold")]
    pub status: Option<DatasetStatus>,
    /// Order within the campaign, 0 to 90 (90 first).
    #[serde(default)]
    #[schema(value_type = u8, minimum = 0, maximum = 90, default = 0)]
    pub priority: Option<u8>,
    /// Notes.
    #[serde(default)]
    #[schema(value_type = String)]
    pub notes: Option<String>,
}

/// The body of `PATCH /datasets/{dataset}`: at least one field.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "live", "priority": 50}))]
pub struct DatasetPatch {
    /// New dialling status.
    #[serde(default)]
    #[schema(value_type = DatasetStatus)]
    pub status: Option<DatasetStatus>,
    /// New order within the campaign, 0 to 90 (90 first).
    #[serde(default)]
    #[schema(value_type = u8, minimum = 0, maximum = 90)]
    pub priority: Option<u8>,
    /// New description.
    #[serde(default)]
    #[schema(value_type = String)]
    pub description: Option<String>,
    /// New notes.
    #[serde(default)]
    #[schema(value_type = String)]
    pub notes: Option<String>,
}

/// Checks `body` is an object whose fields are all in `known` and of the right JSON type; each
/// problem is one field error.
fn check_fields(body: &serde_json::Value, known: &[&str]) -> Result<(), Error> {
    let Some(object) = body.as_object() else {
        return Err(Error::Validation(vec![FieldError::new(
            "body",
            "a JSON object",
        )]));
    };
    let mut errors = Vec::new();
    for (name, value) in object {
        let problem = match name.as_str() {
            _ if !known.contains(&name.as_str()) => Some(format!(
                "unknown field: this route takes {}",
                known.join(", ")
            )),
            "queue_id" => value
                .as_u64()
                .filter(|id| (1..=MAX_ID).contains(id))
                .is_none()
                .then(|| "a positive integer below 2^53".to_owned()),
            "priority" => value
                .as_u64()
                .filter(|p| *p <= u64::from(MAX_PRIORITY))
                .is_none()
                .then(|| format!("an integer from 0 to {MAX_PRIORITY}")),
            "status" => value
                .as_str()
                .filter(|text| DatasetStatus::ALL.iter().any(|s| s.name() == *text))
                .is_none()
                .then(|| "one of hold, live, expired".to_owned()),
            _ => (!value.is_string()).then(|| "a string".to_owned()),
        };
        if let Some(message) = problem {
            errors.push(FieldError::new(name.clone(), message));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation(errors))
    }
}

impl NewDataset {
    /// Validates a `POST /datasets` body: `queue_id` required, known fields only.
    pub fn parse_body(body: &serde_json::Value) -> Result<Self, Error> {
        check_fields(body, &CREATE_FIELDS)?;
        if body.get("queue_id").is_none() {
            return Err(Error::Validation(vec![FieldError::new(
                "queue_id", "required",
            )]));
        }
        let parsed: Self = serde_json::from_value(body.clone())
            .map_err(|error| Error::Validation(vec![FieldError::new("body", error.to_string())]))?;
        if parsed.status == Some(DatasetStatus::Expired) {
            return Err(Error::Validation(vec![FieldError::new(
                "status",
                "hold or live: a new dataset cannot be expired",
            )]));
        }
        Ok(parsed)
    }
}

impl DatasetPatch {
    /// Validates a `PATCH /datasets/{dataset}` body: known fields only, at least one.
    pub fn parse_body(body: &serde_json::Value) -> Result<Self, Error> {
        check_fields(body, &PATCH_FIELDS)?;
        let parsed: Self = serde_json::from_value(body.clone())
            .map_err(|error| Error::Validation(vec![FieldError::new("body", error.to_string())]))?;
        if parsed == Self::default() {
            return Err(Error::Validation(vec![FieldError::new(
                "body",
                "nothing to change: give status, priority, description or notes",
            )]));
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dataset_query_takes_its_three_filters_once_and_nothing_else() {
        let query =
            DatasetQuery::parse_query("status=live&campaign=Willtest&queue_id=75674454").unwrap();
        assert_eq!(query.status, Some(DatasetStatus::Live));
        assert_eq!(query.campaign.unwrap().as_str(), "Willtest");
        assert_eq!(query.queue_id, Some(75_674_454));
        assert_eq!(
            DatasetQuery::parse_query("").unwrap(),
            DatasetQuery::default()
        );
        for bad in [
            "status=LIVE",
            "status=on",
            "campaign=a%20b",
            "queue_id=0",
            "queue_id=-1",
            "queue_id=01",
            "status=live&status=hold",
            "limit=10",
        ] {
            assert!(DatasetQuery::parse_query(bad).is_err(), "{bad}");
        }
    }
}
