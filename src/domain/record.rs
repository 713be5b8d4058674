//! A ContactNow record as the gateway shows it. The struct, [`Record`], follows from the column
//! table in [`super::column`]; here is its example.

pub use super::column::Record;

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
