//! A ContactNow record as the gateway shows it.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;
use utoipa::ToSchema;

/// A record in clean shape: `null` for empty values and zero dates, numbers for ids and
/// outcome codes, ISO 8601 datetimes without offset (the account's local time), and every
/// column the gateway does not know under `custom`.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
#[schema(example = Record::example)]
pub struct Record {
    /// Record id.
    pub id: u64,
    /// Dataset the record belongs to.
    pub dataset_id: u64,
    /// Title (`Mr`, `Ms`, …).
    pub title: Option<String>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Mobile phone.
    pub mobile_phone: Option<String>,
    /// Home phone.
    pub home_phone: Option<String>,
    /// Work phone.
    pub work_phone: Option<String>,
    /// Address line 1.
    pub address1: Option<String>,
    /// Address line 2.
    pub address2: Option<String>,
    /// Address line 3.
    pub address3: Option<String>,
    /// Address line 4.
    pub address4: Option<String>,
    /// Address line 5.
    pub address5: Option<String>,
    /// Address line 6.
    pub address6: Option<String>,
    /// Postcode.
    pub postcode: Option<String>,
    /// Free notes.
    pub notes: Option<String>,
    /// Outcome code of the last call.
    pub outcome_code: Option<u32>,
    /// Process type (`New Prospect`, `COMPLETE`, …).
    pub process_type: Option<String>,
    /// When the record was last processed (ISO 8601, no offset: the account's local time).
    #[schema(value_type = Option<String>, pattern = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$", example = "2019-01-07T10:15:00")]
    pub process_date: Option<NaiveDateTime>,
    /// Callback time, if one is set (ISO 8601, no offset).
    #[schema(value_type = Option<String>, pattern = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$", example = "2019-02-01T10:15:00")]
    pub callback_at: Option<NaiveDateTime>,
    /// Notes for the callback.
    pub callback_notes: Option<String>,
    /// Whether the callback is at the same time of day.
    pub callback_same_time: bool,
    /// Reference of the agent the record is tied to.
    pub agent_ref: Option<String>,
    /// Whether only that agent may take the record.
    pub agent_specific: bool,
    /// Day the record was loaded.
    pub load_date: Option<NaiveDate>,
    /// File or feed the record came from.
    pub source_file: Option<String>,
    /// Unique reference number.
    pub urn: Option<String>,
    /// Vendor's unique reference number.
    pub vendor_urn: Option<String>,
    /// Custom columns by their own names.
    pub custom: BTreeMap<String, Option<String>>,
}

impl Record {
    /// The record of the vendor article's read example, as the gateway answers it (the
    /// OpenAPI examples of `Record` and of record pages).
    pub fn example() -> serde_json::Value {
        serde_json::json!({
            "id": 550431, "dataset_id": 100, "title": "Mr", "first_name": "Joe", "last_name": "Blogs",
            "mobile_phone": "07123456789", "home_phone": null, "work_phone": null,
            "address1": null, "address2": null, "address3": null, "address4": null, "address5": null,
            "address6": null, "postcode": null, "notes": null,
            "outcome_code": 100, "process_type": "New Prospect", "process_date": null,
            "callback_at": null, "callback_notes": null, "callback_same_time": false,
            "agent_ref": null, "agent_specific": false, "load_date": "2019-01-07",
            "source_file": "api_data_100.dat", "urn": null, "vendor_urn": null,
            "custom": {"company_name": "Company Name", "test_field": null}
        })
    }
}
