//! The upstream's wire: the answer envelope in JSON and XML, read rows, and write payloads.
//!
//! Everything spelled the upstream's way (mixed-case columns, `0000-00-00 00:00:00`, string ids,
//! `1`/`0` flags) is handled here and nowhere else.
//!
//! Layout:
//! - [`envelope`]: [`Envelope`], the answer's fields, and its JSON reader.
//! - `scan`: the fast reader of JSON answers, which leaves what it is not sure of to serde_json.
//! - `xml`: the XML reader of the same fields.
//! - [`row`]: read rows ([`Row`], [`RowKey`]) → [`crate::domain::Record`], by the column table,
//!   and what a list's rows may be read into ([`ListItem`], [`ReadRecord`]).
//! - [`transcode`]: JSON read rows written straight into the gateway's record JSON
//!   ([`RecordJson`]), the read path's fast way.
//! - [`payload`]: the bodies of `create` and `update`.
//! - here: [`WireFormat`] and what the readers share.

pub mod envelope;
pub mod payload;
pub mod row;
mod scan;
pub mod transcode;
mod xml;

use crate::error::Error;

pub use envelope::{Envelope, assert_json_readers_agree};
pub use payload::{create_payload, update_payload};
pub(crate) use row::wire_datetime;
pub use row::{ListItem, ReadRecord, Row, RowKey, record_from_row, records};
pub use transcode::RecordJson;

/// The wire format spoken to the upstream (`CONTACTNOW_FORMAT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum WireFormat {
    /// `format=json`
    Json,
    /// `format=xml`
    Xml,
}

impl WireFormat {
    /// The value of the `format` argument.
    pub fn as_str(self) -> &'static str {
        match self {
            WireFormat::Json => "json",
            WireFormat::Xml => "xml",
        }
    }
}

pub(super) fn bad_answer(what: impl Into<String>) -> Error {
    Error::UpstreamFailed(format!("invalid answer: {}", what.into()))
}

/// A flag as the upstream spells it: `1`/`0`, `true`/`false` in any case, empty for false.
pub(super) fn parse_flag(value: &str) -> Option<bool> {
    let value = value.trim();
    if value == "1" || value.eq_ignore_ascii_case("true") {
        Some(true)
    } else if value == "0" || value.is_empty() || value.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Column;
    use row::fixed_datetime;
    const ARTICLE_ROW: &str = r#"{"success":true,"total":5,"list":[{"Address1":"","Address2":"",
        "Address3":"","Address4":"","Address5":"","Address6":"","AgentRef":"0","Agent_Specific":"0",
        "callback":"0000-00-00 00:00:00","Call_Back_Notes":"","Call_Back_Sametime":"0",
        "company_name":"Company Name","datasetid":"100","FirstName":"Joe","HomePhone":"",
        "id":"550431","LastName":"Blogs","loaddate":"2019-01-07","MobilePhone":"07123456789",
        "notes":"","outcomecode":"100","Postcode":"","ProcessDate":"0000-00-00 00:00:00",
        "ProcessType":"New Prospect","sourcefile":"api_data_100.dat","test_field":"","Title":"Mr",
        "URN":null,"VENDOR_URN":null,"WorkPhone":""}]}"#;

    #[test]
    fn the_article_row_becomes_the_spec_record() {
        let envelope = Envelope::<Row>::parse(WireFormat::Json, ARTICLE_ROW.as_bytes()).unwrap();
        assert_eq!(envelope.total, Some(5));
        let record = record_from_row(envelope.list.unwrap().remove(0)).unwrap();
        let expected = serde_json::json!({"id": 550431, "dataset_id": 100, "title": "Mr",
            "first_name": "Joe", "last_name": "Blogs", "mobile_phone": "07123456789",
            "home_phone": null, "work_phone": null, "address1": null, "address2": null,
            "address3": null, "address4": null, "address5": null, "address6": null,
            "postcode": null, "notes": null, "outcome_code": 100, "process_type": "New Prospect",
            "process_date": null, "callback_at": null, "callback_notes": null,
            "callback_same_time": false, "agent_ref": null, "agent_specific": false,
            "load_date": "2019-01-07", "source_file": "api_data_100.dat", "urn": null,
            "vendor_urn": null, "custom": {"company_name": "Company Name", "test_field": null}});
        assert_eq!(serde_json::to_value(record).unwrap(), expected);
    }

    #[test]
    fn json_answers_are_text_whole_or_refused() {
        let named = |name: &[u8]| {
            [
                br#"{"success":true,"list":[{"id":"1","datasetid":"100","FirstName":""#.as_slice(),
                name,
                br#""}]}"#.as_slice(),
            ]
            .concat()
        };
        let envelope =
            Envelope::<Row>::parse(WireFormat::Json, &named("Zoë 李".as_bytes())).unwrap();
        let record = record_from_row(envelope.list.unwrap().remove(0)).unwrap();
        assert_eq!(record.first_name.as_deref(), Some("Zoë 李"));
        for broken in [b"Zo\xeb".as_slice(), b"\xff", b"\xc3"] {
            let error = Envelope::<Row>::parse(WireFormat::Json, &named(broken)).unwrap_err();
            assert!(matches!(error, Error::UpstreamFailed(_)), "{error:?}");
        }
    }

    #[test]
    fn a_repeated_scalar_keeps_its_last_value_in_either_reader() {
        let text = r#"{"success":true,"Total":1,"bad":0,"total":2}"#;
        let envelope = Envelope::<Row>::parse(WireFormat::Json, text.as_bytes()).unwrap();
        assert_eq!((envelope.total, envelope.bad), (Some(2), Some(0)));
        let envelope = Envelope::<Row>::parse(
            WireFormat::Json,
            b" {\"total\":1.0,\"success\":1,\"total\":3} ",
        )
        .unwrap();
        assert_eq!(envelope.total, Some(3));
    }

    #[test]
    fn a_list_sent_as_an_object_keeps_the_order_sent() {
        let rows: String = (0..12)
            .map(|n| format!(r#""{n}":{{"id":"{}","datasetid":"100"}}"#, 550000 + n))
            .collect::<Vec<_>>()
            .join(",");
        let body = format!(r#"{{"success":true,"total":12,"list":{{{rows}}}}}"#);
        let envelope = Envelope::<Row>::parse(WireFormat::Json, body.as_bytes()).unwrap();
        let ids: Vec<u64> = envelope
            .list
            .unwrap()
            .into_iter()
            .map(|row| record_from_row(row).unwrap().id)
            .collect();
        assert_eq!(ids, (550000..550012).collect::<Vec<_>>());
        let empty =
            Envelope::<Row>::parse(WireFormat::Json, br#"{"success":1,"list":null}"#).unwrap();
        assert_eq!(empty.list.map(|rows| rows.len()), Some(0));
        for nested in [
            &br#"{"success":true,"total":{"n":1}}"#[..],
            br#"{"success":true,"list":[[1]]}"#,
        ] {
            assert!(Envelope::<Row>::parse(WireFormat::Json, nested).is_err());
        }
        let loose = vec![
            (RowKey::of("id"), Some("1".to_string())),
            (RowKey::of("datasetid"), Some("100".to_string())),
            (RowKey::of("loaddate"), Some("2019-1-7".to_string())),
        ];
        let load_date = record_from_row(loose).unwrap().load_date.unwrap();
        assert_eq!(load_date.to_string(), "2019-01-07");
    }

    mod properties {
        use proptest::collection::{btree_map, vec};
        use proptest::prelude::*;

        use super::super::*;

        proptest! {
            #[test]
            fn json_rows_arrive_as_sent(
                rows in vec(
                    btree_map("[A-Za-z_][A-Za-z0-9_]{0,10}", proptest::option::of(".{0,10}"), 0..6),
                    0..5,
                ),
                as_object in any::<bool>(),
            ) {
                let items: Vec<serde_json::Value> =
                    rows.iter().map(|row| serde_json::json!(row)).collect();
                let list = if as_object {
                    serde_json::Value::Object(
                        items.iter().enumerate().map(|(n, row)| (n.to_string(), row.clone())).collect(),
                    )
                } else {
                    serde_json::Value::Array(items)
                };
                let body = serde_json::json!({"Success": true, "TOTAL": rows.len(), "list": list});
                let envelope = Envelope::<Row>::parse(WireFormat::Json, body.to_string().as_bytes()).unwrap();
                prop_assert!(envelope.success);
                prop_assert_eq!(envelope.total, Some(rows.len() as u64));
                let expected: Vec<Row> = rows
                    .iter()
                    .map(|row| row.iter().map(|(k, v)| (RowKey::of(k), v.clone())).collect())
                    .collect();
                prop_assert_eq!(envelope.list.unwrap(), expected);
            }

            #[test]
            fn any_bytes_are_parsed_or_refused_without_panicking(bytes in vec(any::<u8>(), 0..400)) {
                let _ = crate::fuzzing::upstream_answer(WireFormat::Json, &bytes);
                let _ = crate::fuzzing::upstream_answer(WireFormat::Xml, &bytes);
            }
        }
    }

    #[test]
    fn xml_answers_parse_like_json_ones() {
        let xml = br#"<?xml version="1.0" encoding="utf-8" ?><result><success>1</success>
            <total>1</total><list><ecnow_record><id>550423</id><datasetid>100</datasetid>
            <FirstName>Jo &amp; Co</FirstName><notes /><callback>2019-02-01 10:15:00</callback>
            </ecnow_record></list></result>"#;
        let envelope = Envelope::<Row>::parse(WireFormat::Xml, xml).unwrap();
        assert!(envelope.success);
        let record = record_from_row(envelope.list.unwrap().remove(0)).unwrap();
        assert_eq!(record.first_name.as_deref(), Some("Jo & Co"));
        assert_eq!(
            record.callback_at.unwrap().to_string(),
            "2019-02-01 10:15:00"
        );
    }

    #[test]
    fn malformed_answers_are_errors_not_guesses() {
        let cases: [(WireFormat, &[u8]); 9] = [
            (WireFormat::Json, b"{\"success\":tr"),
            (WireFormat::Json, b"<html>Fatal error</html>"),
            (WireFormat::Json, b"{\"total\":1}"),
            (WireFormat::Json, b"{\"success\":\"maybe\"}"),
            (WireFormat::Json, b"{\"success\":true,\"total\":\"many\"}"),
            (
                WireFormat::Xml,
                b"<result><success>1</success><LastName>Blogs<LastName /></result>",
            ),
            (
                WireFormat::Xml,
                b"<!DOCTYPE r [<!ENTITY x \"y\">]><result><success>1</success></result>",
            ),
            (WireFormat::Xml, b"<result><success>&x;</success></result>"),
            (WireFormat::Xml, b"<result><success>1</success>"),
        ];
        for (format, body) in cases {
            assert!(
                Envelope::<Row>::parse(format, body).is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let row = vec![(RowKey::of("ID"), Some("abc".to_string()))];
        assert_eq!(row[0].0, RowKey::Column(Column::Id));
        assert!(record_from_row(row).is_err());
        for bad in [
            "+019-+1-07 10:15:00",
            "2019-01-07T10:15:00",
            "2019-02-30 10:15:00",
            "2019-01-07 24:00:00",
        ] {
            assert!(fixed_datetime(bad).is_none(), "{bad}");
        }
        assert_eq!(
            fixed_datetime("2019-01-07 10:15:00").unwrap().to_string(),
            "2019-01-07 10:15:00"
        );
    }
}
