//! Read rows written straight into the gateway's record JSON: the read path's transcoder. No
//! [`Record`] is built and no value is copied out of the answer unless it had escapes; each
//! row's values are read by the same rules as [`super::record_from_row`], and a property test
//! and the `upstream_json` fuzz target hold the two to the same bytes (serde_json's for the
//! `Record`) and the same refusals.

use std::borrow::Cow;

use chrono::{NaiveDate, NaiveDateTime};

use super::row::{
    ListItem, ReadRecord, RowKey, empty_key, is_no_reference, missing_keys, parse_date,
    parse_datetime, parse_number, parse_row_flag,
};
use crate::domain::json::write_plain;
use crate::domain::{Column, ColumnKind, JsonValue, Record};
use crate::error::Error;

/// About the bytes one record takes in the gateway's JSON.
const RECORD_JSON_BYTES: usize = 768;

/// A record read from ContactNow, already in the gateway's JSON (as [`Record`] serialises).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordJson {
    id: u64,
    dataset_id: u64,
    json: Vec<u8>,
}

impl RecordJson {
    /// The JSON serde_json writes for `record`: the reference the transcoder is held to (the
    /// fuzz target and the tests), never the read path.
    pub fn of(record: &Record) -> Self {
        Self {
            id: record.id,
            dataset_id: record.dataset_id,
            json: serde_json::to_vec(record).expect("a record serialises"),
        }
    }

    /// The record's JSON object.
    pub fn as_bytes(&self) -> &[u8] {
        &self.json
    }

    /// The record's JSON object, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        self.json
    }
}

impl JsonValue for RecordJson {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.json);
    }
}

impl ListItem for Result<RecordJson, Error> {
    /// The row's JSON, or why it is not a record: a bad value does not stop the answer's
    /// parse, so that its envelope is judged first, as for rows read into [`Row`]s.
    fn from_fields<'a>(fields: impl Iterator<Item = (RowKey, Option<Cow<'a, str>>)>) -> Self {
        let mut cells = RowCells {
            columns: [const { None }; Column::ALL.len()],
            custom: Vec::new(),
        };
        for (key, value) in fields {
            cells.take(key, value)?;
        }
        cells.into_json()
    }
}

impl ReadRecord for RecordJson {
    type Item = Result<RecordJson, Error>;
    fn from_item(item: Self::Item) -> Result<Self, Error> {
        item
    }
    fn id(&self) -> u64 {
        self.id
    }
    fn dataset_id(&self) -> u64 {
        self.dataset_id
    }
}

/// A standard column's value, read by its kind.
enum Cell<'de> {
    Text(Cow<'de, str>),
    Number(u64),
    DateTime(NaiveDateTime),
    Date(NaiveDate),
    Flag(bool),
    Null,
}

impl<'de> Cell<'de> {
    /// A non-empty value of `column`, read as [`super::record_from_row`] reads it.
    fn read(column: Column, value: Cow<'de, str>) -> Result<Self, Error> {
        Ok(match column.kind() {
            ColumnKind::Key => Cell::Number(parse_number::<u64>(&value, column)?),
            ColumnKind::Code => Cell::Number(parse_number::<u32>(&value, column)?.into()),
            ColumnKind::Text | ColumnKind::Notes | ColumnKind::Phone => Cell::Text(value),
            ColumnKind::Reference if is_no_reference(&value) => Cell::Null,
            ColumnKind::Reference => Cell::Text(value),
            ColumnKind::DateTime => {
                parse_datetime(&value, column)?.map_or(Cell::Null, Cell::DateTime)
            }
            ColumnKind::Date => parse_date(&value, column)?.map_or(Cell::Null, Cell::Date),
            ColumnKind::Flag => Cell::Flag(parse_row_flag(&value, column)?),
        })
    }

    fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Cell::Text(text) => write_text(text, out),
            Cell::Number(n) => n.write_json(out),
            Cell::DateTime(at) => at.write_json(out),
            Cell::Date(day) => day.write_json(out),
            Cell::Flag(flag) => flag.write_json(out),
            Cell::Null => out.extend_from_slice(b"null"),
        }
    }
}

/// A value's JSON string: borrowed text is written as it came (it holds nothing to escape,
/// see [`ListItem::from_fields`]), owned text escaped as needed.
#[expect(clippy::ptr_arg, reason = "whether the text is borrowed is the point")]
fn write_text(text: &Cow<'_, str>, out: &mut Vec<u8>) {
    match text {
        Cow::Borrowed(text) => write_plain(text, out),
        Cow::Owned(text) => text.write_json(out),
    }
}

/// A row's values as read so far: the last non-empty value of each standard column, and the
/// custom columns in the order sent.
struct RowCells<'de> {
    columns: [Option<Cell<'de>>; Column::ALL.len()],
    custom: Vec<(String, Option<Cow<'de, str>>)>,
}

impl<'de> RowCells<'de> {
    /// Takes one field, as [`super::record_from_row`] does: an empty value is no value (an
    /// error in a key column), a custom column keeps even an empty one.
    fn take(&mut self, key: RowKey, value: Option<Cow<'de, str>>) -> Result<(), Error> {
        let value = value.filter(|v| !v.is_empty());
        match key {
            RowKey::Custom(name) => self.custom.push((name, value)),
            RowKey::Column(column) => match value {
                None if column.kind() == ColumnKind::Key => return Err(empty_key(column)),
                None => {}
                Some(value) => self.columns[column as usize] = Some(Cell::read(column, value)?),
            },
        }
        Ok(())
    }

    /// The record's JSON: every column in table order (a missing one `null`, a flag `false`),
    /// then `custom` by name, the last of a repeated name kept, as a `BTreeMap` would.
    fn into_json(mut self) -> Result<RecordJson, Error> {
        let key = |cell: &Option<Cell>| match cell {
            Some(Cell::Number(n)) => Some(*n),
            _ => None,
        };
        let (Some(id), Some(dataset_id)) = (
            key(&self.columns[Column::Id as usize]),
            key(&self.columns[Column::DatasetId as usize]),
        ) else {
            return Err(missing_keys());
        };
        let mut json = Vec::with_capacity(RECORD_JSON_BYTES);
        for (column, cell) in Column::ALL.into_iter().zip(&self.columns) {
            json.extend_from_slice(column.json_key().as_bytes());
            match cell {
                Some(cell) => cell.write_json(&mut json),
                None if column.kind() == ColumnKind::Flag => false.write_json(&mut json),
                None => json.extend_from_slice(b"null"),
            }
        }
        json.extend_from_slice(b",\"custom\":{");
        self.custom.sort_by(|a, b| a.0.cmp(&b.0));
        let mut written = 0;
        for (n, (name, value)) in self.custom.iter().enumerate() {
            if self.custom.get(n + 1).is_some_and(|next| next.0 == *name) {
                continue;
            }
            if written > 0 {
                json.push(b',');
            }
            written += 1;
            name.write_json(&mut json);
            json.push(b':');
            match value {
                Some(text) => write_text(text, &mut json),
                None => json.extend_from_slice(b"null"),
            }
        }
        json.extend_from_slice(b"}}");
        json[0] = b'{';
        Ok(RecordJson {
            id,
            dataset_id,
            json,
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::upstream::wire::{Envelope, Row, WireFormat, record_from_row};

    /// A read row's field: a standard column in any spelling, or a custom one; a value that
    /// may or may not read as its column's kind.
    fn field() -> impl Strategy<Value = (String, Option<String>)> {
        let name = prop_oneof![
            proptest::sample::select(Column::ALL.to_vec()).prop_map(|c| c.read_name().to_owned()),
            proptest::sample::select(Column::ALL.to_vec())
                .prop_map(|c| c.read_name().to_ascii_uppercase()),
            "[a-z_]{1,6}",
        ];
        let value = proptest::option::of(prop_oneof![
            Just(String::new()),
            Just("0".to_owned()),
            Just("1".to_owned()),
            Just("0000-00-00 00:00:00".to_owned()),
            Just("2019-01-07".to_owned()),
            Just("2019-1-7".to_owned()),
            Just("2019-02-01 10:15:00".to_owned()),
            "[0-9]{1,5}",
            " [0-9]{1,3} ",
            ".{0,6}",
            "[\"\\\\\u{1}é/]{0,4}",
        ]);
        (name, value)
    }

    fn row_answer(rows: &[Vec<(String, Option<String>)>]) -> Vec<u8> {
        let rows: Vec<String> = rows
            .iter()
            .map(|row| {
                let fields: Vec<String> = row
                    .iter()
                    .map(|(name, value)| {
                        format!("{}:{}", serde_json::json!(name), serde_json::json!(value))
                    })
                    .collect();
                format!("{{{}}}", fields.join(","))
            })
            .collect();
        format!(r#"{{"success":true,"list":[{}]}}"#, rows.join(",")).into_bytes()
    }

    proptest! {
        #[test]
        fn rows_are_transcoded_to_the_bytes_of_their_records(
            keys in (any::<bool>(), any::<bool>(), 1u64..1_000_000, 1u64..1000),
            fields in proptest::collection::vec(field(), 0..12),
        ) {
            let mut row = fields;
            if keys.0 {
                row.insert(0, ("id".into(), Some(keys.2.to_string())));
            }
            if keys.1 {
                row.push(("datasetid".into(), Some(keys.3.to_string())));
            }
            let body = row_answer(&[row]);
            let rows = Envelope::<Row>::parse(WireFormat::Json, &body).unwrap().list.unwrap();
            let expected = record_from_row(rows.into_iter().next().unwrap());
            let transcoded = Envelope::<Result<RecordJson, Error>>::parse(WireFormat::Json, &body)
                .unwrap()
                .list
                .unwrap()
                .remove(0);
            match (expected, transcoded) {
                (Ok(record), Ok(json)) => {
                    prop_assert_eq!(
                        String::from_utf8(json.into_bytes()).unwrap(),
                        serde_json::to_string(&record).unwrap()
                    );
                }
                (Err(expected), Err(error)) => prop_assert_eq!(expected.to_string(), error.to_string()),
                (expected, transcoded) => prop_assert!(false, "{expected:?} but {transcoded:?}"),
            }
        }
    }

    #[test]
    fn the_article_row_is_transcoded_and_xml_rows_take_the_record_path() {
        let json = br#"{"success":true,"list":[{"id":"550431","datasetid":"100","FirstName":"Jo\"e","AgentRef":"0","company_name":"","Zed":"z","company_name":"X"}]}"#;
        let row = Envelope::<Result<RecordJson, Error>>::parse(WireFormat::Json, json)
            .unwrap()
            .list
            .unwrap()
            .remove(0)
            .unwrap();
        assert_eq!((row.id(), row.dataset_id()), (550431, 100));
        let value: serde_json::Value = serde_json::from_slice(&row.into_bytes()).unwrap();
        assert_eq!(value["first_name"], "Jo\"e");
        assert_eq!(value["agent_ref"], serde_json::Value::Null);
        assert_eq!(
            value["custom"],
            serde_json::json!({"Zed": "z", "company_name": "X"})
        );
        let xml = br#"<result><success>1</success><list><ecnow_record><id>7</id><datasetid>100</datasetid><FirstName>Jo</FirstName></ecnow_record></list></result>"#;
        let row = Envelope::<Result<RecordJson, Error>>::parse(WireFormat::Xml, xml)
            .unwrap()
            .list
            .unwrap()
            .remove(0)
            .unwrap();
        let value: serde_json::Value = serde_json::from_slice(&row.into_bytes()).unwrap();
        assert_eq!(
            (value["id"].as_u64(), value["first_name"].as_str()),
            (Some(7), Some("Jo"))
        );
    }
}
