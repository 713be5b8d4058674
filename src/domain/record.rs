//! A ContactNow record as the gateway shows it. The struct, [`Record`], follows from the column
//! table in [`super::column`]; here is its example.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};

pub use super::column::Record;

impl Record {
    /// The record of the vendor article's read example, as the gateway answers it, with a
    /// callback booked for its agent (the OpenAPI examples of `Record` and of record pages).
    pub fn example() -> serde_json::Value {
        let text = |value: &str| Some(value.to_owned());
        let record = Record {
            id: 550431,
            dataset_id: 100,
            title: text("Mr"),
            first_name: text("Joe"),
            last_name: text("Blogs"),
            mobile_phone: text("07123456789"),
            outcome_code: Some(100),
            process_type: text("New Prospect"),
            callback_at: NaiveDateTime::parse_from_str("2019-02-01T10:15:00", "%Y-%m-%dT%H:%M:%S")
                .ok(),
            callback_notes: text("Asked for a call after ten"),
            agent_ref: text("1001"),
            agent_specific: true,
            load_date: NaiveDate::from_ymd_opt(2019, 1, 7),
            source_file: text("api_data_100.dat"),
            custom: BTreeMap::from([
                ("company_name".to_owned(), text("Company Name")),
                ("test_field".to_owned(), None),
            ]),
            // Every other column is empty: a new column shows in the example as `null`.
            ..Record::default()
        };
        serde_json::to_value(record).expect("a record serialises")
    }
}
