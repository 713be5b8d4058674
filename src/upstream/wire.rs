//! The upstream's wire: the answer envelope in JSON and XML, read rows, and write payloads.
//!
//! Everything spelled the upstream's way (mixed-case columns, `0000-00-00 00:00:00`, string ids,
//! `1`/`0` flags) is handled here and nowhere else.

use std::borrow::Cow;
use std::collections::BTreeMap;

use std::fmt;
use std::sync::LazyLock;

use chrono::{NaiveDate, NaiveDateTime};
use quick_xml::events::Event;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::domain::{
    CellReader, Column, ColumnKind, DatasetId, NewRecord, Record, RecordId, RecordPatch,
    UpdateTarget,
};
use crate::error::Error;

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

/// One row of a read: its columns in the order sent, values as the upstream spells them.
pub type Row = Vec<(RowKey, Option<String>)>;

/// A column of a read row, resolved while parsing so that standard names are never allocated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RowKey {
    /// A standard column (its upstream name in any case).
    Column(Column),
    /// A custom column, by its own name.
    Custom(String),
}

impl RowKey {
    /// The key an upstream column name stands for.
    pub fn of(name: &str) -> Self {
        column_of(name).map_or_else(|| RowKey::Custom(name.to_owned()), RowKey::Column)
    }

    fn of_owned(name: String) -> Self {
        column_of(&name).map_or(RowKey::Custom(name), RowKey::Column)
    }
}

impl<'de> Deserialize<'de> for RowKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = RowKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a column name")
            }
            fn visit_str<E>(self, name: &str) -> Result<RowKey, E> {
                Ok(RowKey::of(name))
            }
            fn visit_string<E>(self, name: String) -> Result<RowKey, E> {
                Ok(RowKey::of_owned(name))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// The answer envelope shared by `token.php` and `ecnow.php`.
#[derive(Debug, Default)]
pub struct Envelope {
    /// `success`.
    pub success: bool,
    /// `total`: records affected or matched.
    pub total: Option<u64>,
    /// `bad`: records refused.
    pub bad: Option<u64>,
    /// `key`: the created record's id.
    pub key: Option<u64>,
    /// `error`: the upstream's error text.
    pub error: Option<String>,
    /// `info`: the upstream's information text.
    pub info: Option<String>,
    /// `list`: the rows of a read.
    pub list: Option<Vec<Row>>,
    /// `token` (token.php).
    pub token: Option<String>,
    /// `expire`, unix seconds (token.php).
    pub expire: Option<i64>,
}

fn bad_answer(what: impl Into<String>) -> Error {
    Error::UpstreamFailed(format!("invalid answer: {}", what.into()))
}

impl Envelope {
    /// Parses an answer in `format`.
    pub fn parse(format: WireFormat, body: &[u8]) -> Result<Self, Error> {
        let mut fields = match format {
            WireFormat::Json => json_fields(body)?,
            WireFormat::Xml => xml_fields(body)?,
        };
        let success = match fields.scalars.remove("success") {
            Some(Some(flag)) => parse_flag(&flag).ok_or_else(|| bad_answer("success flag"))?,
            _ => return Err(bad_answer("no success flag")),
        };
        let mut text = |name: &str| {
            fields
                .scalars
                .remove(name)
                .flatten()
                .filter(|t| !t.is_empty())
        };
        let number = |value: Option<String>, name: &str| -> Result<Option<u64>, Error> {
            value
                .map(|v| {
                    v.trim()
                        .parse::<u64>()
                        .map_err(|_| bad_answer(format!("`{name}` is not a count")))
                })
                .transpose()
        };
        let (total, bad, key) = (text("total"), text("bad"), text("key"));
        let (error, info, token, expire) =
            (text("error"), text("info"), text("token"), text("expire"));
        Ok(Self {
            success,
            total: number(total, "total")?,
            bad: number(bad, "bad")?,
            key: number(key, "key")?,
            error,
            info,
            list: fields.list,
            token,
            expire: expire
                .map(|v| {
                    v.trim()
                        .parse::<i64>()
                        .map_err(|_| bad_answer("`expire` is not a time"))
                })
                .transpose()?,
        })
    }
}

/// The top-level scalars (by lower-case name) and the list of an answer.
#[derive(Default)]
struct Fields {
    scalars: BTreeMap<String, Option<String>>,
    list: Option<Vec<Row>>,
}

fn json_fields(body: &[u8]) -> Result<Fields, Error> {
    serde_json::from_slice::<JsonAnswer>(body)
        .map(|answer| answer.0)
        .map_err(|e| bad_answer(format!("JSON: {e}")))
}

/// A JSON answer read straight into [`Fields`], without an intermediate `serde_json::Value`
/// (that tree and its copy into `Fields` were a fifth of the gateway's own work per read).
struct JsonAnswer(Fields);

impl<'de> Deserialize<'de> for JsonAnswer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AnswerVisitor;
        impl<'de> Visitor<'de> for AnswerVisitor {
            type Value = JsonAnswer;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an answer object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonAnswer, A::Error> {
                let mut fields = Fields::default();
                while let Some(name) = map.next_key::<String>()? {
                    if name.eq_ignore_ascii_case("list") {
                        fields.list = Some(map.next_value::<JsonList>()?.0);
                    } else {
                        let Scalar(value) = map.next_value()?;
                        fields.scalars.insert(name.to_ascii_lowercase(), value);
                    }
                }
                Ok(JsonAnswer(fields))
            }
        }
        deserializer.deserialize_map(AnswerVisitor)
    }
}

/// A JSON scalar as the upstream's text: numbers as written, `true`/`false` as `1`/`0`.
struct Scalar(Option<String>);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl<'de> Visitor<'de> for ScalarVisitor {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar (a nested value where a scalar belongs)")
            }
            fn visit_unit<E>(self) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
            fn visit_none<E>(self) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
            fn visit_bool<E>(self, flag: bool) -> Result<Scalar, E> {
                Ok(Scalar(Some(if flag { "1" } else { "0" }.into())))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Scalar, E> {
                Ok(Scalar(Some(n.to_string())))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Scalar, E> {
                Ok(Scalar(Some(n.to_string())))
            }
            fn visit_f64<E>(self, n: f64) -> Result<Scalar, E> {
                Ok(Scalar(
                    serde_json::Number::from_f64(n).map(|n| n.to_string()),
                ))
            }
            fn visit_str<E>(self, text: &str) -> Result<Scalar, E> {
                Ok(Scalar(Some(text.to_owned())))
            }
            fn visit_string<E>(self, text: String) -> Result<Scalar, E> {
                Ok(Scalar(Some(text)))
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

/// `list`: PHP serialises it as an array, or as an object when its keys are not 0..n; `null`
/// is no rows.
struct JsonList(Vec<Row>);

impl<'de> Deserialize<'de> for JsonList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = JsonList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`list` as an array or object of rows")
            }
            fn visit_unit<E>(self) -> Result<JsonList, E> {
                Ok(JsonList(Vec::new()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonList, A::Error> {
                let mut rows = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
                while let Some(JsonRow(row)) = seq.next_element()? {
                    rows.push(row);
                }
                Ok(JsonList(rows))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonList, A::Error> {
                let mut rows = Vec::new();
                while let Some((IgnoredAny, JsonRow(row))) = map.next_entry()? {
                    rows.push(row);
                }
                Ok(JsonList(rows))
            }
        }
        deserializer.deserialize_any(ListVisitor)
    }
}

/// One row of `list`: its columns in the order sent.
struct JsonRow(Row);

impl<'de> Deserialize<'de> for JsonRow {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RowVisitor;
        impl<'de> Visitor<'de> for RowVisitor {
            type Value = JsonRow;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a `list` item as an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonRow, A::Error> {
                let mut row = Vec::with_capacity(map.size_hint().unwrap_or(32).min(256));
                while let Some((key, Scalar(value))) = map.next_entry::<RowKey, Scalar>()? {
                    row.push((key, value));
                }
                Ok(JsonRow(row))
            }
        }
        deserializer.deserialize_map(RowVisitor)
    }
}

fn xml_fields(body: &[u8]) -> Result<Fields, Error> {
    // Text is kept as sent (no trimming): entity references split it into several events.
    let mut reader = quick_xml::Reader::from_reader(body);
    let xml_error = |e: &dyn std::fmt::Display| bad_answer(format!("XML: {e}"));
    // The open elements below the root, with the text gathered for the innermost one.
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut row: Row = Vec::new();
    let mut fields = Fields::default();
    let mut seen_root = false;
    loop {
        match reader.read_event().map_err(|e| xml_error(&e))? {
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::DocType(_) => return Err(bad_answer("XML with a DOCTYPE")),
            Event::Start(start) => {
                let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                if !seen_root {
                    seen_root = true;
                    path.push(name);
                    continue;
                }
                if path.is_empty() {
                    return Err(bad_answer("XML with more than one root"));
                }
                path.push(name);
                text.clear();
                if path.len() == 2 && path[1].eq_ignore_ascii_case("list") {
                    fields.list.get_or_insert_with(Vec::new);
                }
                if path.len() > 4 {
                    return Err(bad_answer("XML nested too deep"));
                }
            }
            Event::Empty(empty) => {
                let name = String::from_utf8_lossy(empty.name().as_ref()).into_owned();
                match path.len() {
                    0 => return Err(bad_answer("XML answer is empty")),
                    1 if name.eq_ignore_ascii_case("list") => {
                        fields.list.get_or_insert_with(Vec::new);
                    }
                    1 => {
                        fields.scalars.insert(name.to_ascii_lowercase(), None);
                    }
                    2 => fields.list.get_or_insert_with(Vec::new).push(Vec::new()),
                    3 => row.push((RowKey::of_owned(name), None)),
                    _ => return Err(bad_answer("XML nested too deep")),
                }
            }
            Event::Text(t) => text.push_str(&t.decode().map_err(|e| xml_error(&e))?),
            Event::CData(t) => text.push_str(&t.decode().map_err(|e| xml_error(&e))?),
            Event::GeneralRef(reference) => {
                if let Some(c) = reference.resolve_char_ref().map_err(|e| xml_error(&e))? {
                    text.push(c);
                } else {
                    let name = reference.decode().map_err(|e| xml_error(&e))?;
                    text.push(match name.as_ref() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        _ => return Err(bad_answer("XML with an entity reference")),
                    });
                }
            }
            Event::End(_) => {
                let name = path
                    .pop()
                    .ok_or_else(|| bad_answer("XML end without start"))?;
                let value = (!text.is_empty()).then(|| std::mem::take(&mut text));
                match path.len() {
                    0 => {}
                    1 if name.eq_ignore_ascii_case("list") => {}
                    1 => {
                        fields.scalars.insert(name.to_ascii_lowercase(), value);
                    }
                    2 => fields
                        .list
                        .get_or_insert_with(Vec::new)
                        .push(std::mem::take(&mut row)),
                    _ => row.push((RowKey::of_owned(name), value)),
                }
                text.clear();
            }
            Event::Eof => break,
        }
    }
    if !seen_root || !path.is_empty() {
        return Err(bad_answer("XML answer is incomplete"));
    }
    Ok(fields)
}

fn parse_flag(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" => Some(true),
        "0" | "false" | "" => Some(false),
        _ => None,
    }
}

/// The columns by the length of their read name: a name is compared only with the few columns
/// whose names are as long (it is looked up for every field of every row).
static COLUMNS_BY_LENGTH: LazyLock<Vec<Vec<Column>>> = LazyLock::new(|| {
    let longest = Column::ALL.map(|column| column.read_name().len());
    let mut by_length = vec![Vec::new(); longest.into_iter().max().unwrap_or(0) + 1];
    for column in Column::ALL {
        by_length[column.read_name().len()].push(column);
    }
    by_length
});

/// The standard column an upstream name (in any case) stands for.
fn column_of(name: &str) -> Option<Column> {
    // Names of one length differ mostly in their last byte (`Address1` … `Address6`): compare
    // that first, the whole name only then.
    let last = name.as_bytes().last()?.to_ascii_lowercase();
    COLUMNS_BY_LENGTH
        .get(name.len())?
        .iter()
        .copied()
        .find(|column| {
            let known = column.read_name();
            known.as_bytes()[known.len() - 1].to_ascii_lowercase() == last
                && known.eq_ignore_ascii_case(name)
        })
}

/// The upstream's date of no date (`0000-00-00`, also the start of its zero datetime).
const ZERO_DATE: &str = "0000-00-00";
/// The length of `YYYY-MM-DD`.
const DATE_LEN: usize = 10;

/// The number written in `b[range]`, when every byte there is an ASCII digit.
fn digits(b: &[u8], range: std::ops::Range<usize>) -> Option<u32> {
    b.get(range)?.iter().try_fold(0u32, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
    })
}

/// `YYYY-MM-DD`, read by position.
fn fixed_date(value: &str) -> Option<NaiveDate> {
    let b = value.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    NaiveDate::from_ymd_opt(digits(b, 0..4)? as i32, digits(b, 5..7)?, digits(b, 8..10)?)
}

/// `YYYY-MM-DD HH:MM:SS`, read by position (the upstream's one datetime format).
fn fixed_datetime(value: &str) -> Option<NaiveDateTime> {
    let b = value.as_bytes();
    if b.len() != 19 || b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    fixed_date(value.get(..10)?)?.and_hms_opt(
        digits(b, 11..13)?,
        digits(b, 14..16)?,
        digits(b, 17..19)?,
    )
}

fn parse_datetime(value: &str, column: Column) -> Result<Option<NaiveDateTime>, Error> {
    if value.starts_with(ZERO_DATE) {
        return Ok(None);
    }
    fixed_datetime(value)
        .map(Some)
        .ok_or_else(|| bad_answer(format!("`{}` is not a datetime", column.read_name())))
}

fn parse_number<T: std::str::FromStr>(value: &str, column: Column) -> Result<T, Error> {
    value
        .trim()
        .parse()
        .map_err(|_| bad_answer(format!("`{}` is not a number", column.read_name())))
}

/// The records of a read's `list` (none when it has no list).
pub fn records(list: Option<Vec<Row>>) -> Result<Vec<Record>, Error> {
    list.unwrap_or_default()
        .into_iter()
        .map(record_from_row)
        .collect()
}

/// The upstream's datetime format, for query arguments (answers are read by position).
pub(crate) fn wire_datetime(value: &NaiveDateTime) -> String {
    value.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Turns an upstream row into a [`Record`]; every unknown column goes under `custom`.
pub fn record_from_row(row: Row) -> Result<Record, Error> {
    let mut record = Record::default();
    let (mut has_id, mut has_dataset) = (false, false);
    for (key, value) in row {
        let value = value.filter(|v| !v.is_empty());
        let column = match key {
            RowKey::Column(column) => column,
            RowKey::Custom(name) => {
                record.custom.insert(name, value);
                continue;
            }
        };
        let Some(value) = value else {
            if column.kind() == ColumnKind::Key {
                return Err(bad_answer(format!(
                    "a row with an empty `{}`",
                    column.read_name()
                )));
            }
            continue;
        };
        match column {
            Column::Id => has_id = true,
            Column::DatasetId => has_dataset = true,
            _ => {}
        }
        record.set(column, value, &WireCells)?;
    }
    if !has_id || !has_dataset {
        return Err(bad_answer("a row without `id` or `datasetid`"));
    }
    Ok(record)
}

/// The upstream's spelling of each kind of value: numbers as text, `0000-00-00` dates for
/// none, `1`/`0` flags, `0` for no agent.
struct WireCells;

impl CellReader for WireCells {
    type Error = Error;

    fn key(&self, column: Column, value: String) -> Result<u64, Error> {
        parse_number(&value, column)
    }

    fn text(&self, _: Column, value: String) -> Result<Option<String>, Error> {
        Ok(Some(value))
    }

    fn reference(&self, _: Column, value: String) -> Result<Option<String>, Error> {
        Ok(Some(value).filter(|v| v.trim() != "0"))
    }

    fn code(&self, column: Column, value: String) -> Result<Option<u32>, Error> {
        parse_number(&value, column).map(Some)
    }

    fn datetime(&self, column: Column, value: String) -> Result<Option<NaiveDateTime>, Error> {
        parse_datetime(&value, column)
    }

    fn date(&self, column: Column, value: String) -> Result<Option<NaiveDate>, Error> {
        if value.starts_with(ZERO_DATE) {
            return Ok(None);
        }
        let date = value.get(..DATE_LEN).unwrap_or(&value);
        // By position first; chrono's reader for the unpadded forms (`2019-1-7`).
        fixed_date(date)
            .or_else(|| NaiveDate::parse_from_str(date, "%Y-%m-%d").ok())
            .map(Some)
            .ok_or_else(|| bad_answer(format!("`{}` is not a date", column.read_name())))
    }

    fn flag(&self, column: Column, value: String) -> Result<bool, Error> {
        parse_flag(&value)
            .ok_or_else(|| bad_answer(format!("`{}` is not a flag", column.read_name())))
    }
}

/// The payload of an `update` of record `id`: `id`, the dataset or table, the changed
/// standard columns by their write names (a cleared one as `""`), the custom columns, then
/// `notes_append`.
pub fn update_payload(
    id: RecordId,
    target: &UpdateTarget,
    patch: &RecordPatch,
    format: WireFormat,
) -> Vec<u8> {
    let mut row: Vec<(Cow<'_, str>, Cow<'_, str>)> = vec![("id".into(), id.to_string().into())];
    match target {
        UpdateTarget::Dataset(dataset) => row.push(("dataset".into(), dataset.to_string().into())),
        UpdateTarget::Table(table) => row.push(("table".into(), table.as_str().into())),
    }
    row.extend(
        patch
            .changes()
            .map(|(c, v)| (c.write_name().into(), v.unwrap_or("").into())),
    );
    row.extend(
        patch
            .custom()
            .map(|(n, v)| (n.as_str().into(), v.unwrap_or("").into())),
    );
    if let Some(notes) = patch.notes_append() {
        row.push(("notes_append".into(), notes.into()));
    }
    WireRow::payload(&[WireRow(row)], format)
}

/// The payload of a `create`: one row per record, `dataset` first, then the standard columns by
/// their write names in order, then the custom columns.
pub fn create_payload(dataset: DatasetId, records: &[NewRecord], format: WireFormat) -> Vec<u8> {
    let dataset = dataset.to_string();
    let rows: Vec<WireRow<'_>> = records
        .iter()
        .map(|record| {
            let mut row = vec![(Cow::Borrowed("dataset"), Cow::Borrowed(dataset.as_str()))];
            row.extend(
                record
                    .values()
                    .map(|(c, v)| (c.write_name().into(), v.into())),
            );
            row.extend(record.custom().map(|(n, v)| (n.as_str().into(), v.into())));
            WireRow(row)
        })
        .collect();
    WireRow::payload(&rows, format)
}

/// One record of a write payload: upstream names and string values, in order.
#[derive(Debug, Default)]
pub(crate) struct WireRow<'a>(pub Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl WireRow<'_> {
    /// Renders rows as the payload of a `create` or `update` in `format`.
    pub fn payload(rows: &[WireRow<'_>], format: WireFormat) -> Vec<u8> {
        match format {
            WireFormat::Json => serde_json::to_vec(rows).expect("string maps always serialise"),
            WireFormat::Xml => {
                let mut xml =
                    String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<easycall>");
                for row in rows {
                    xml.push_str("<ecnow_records>");
                    for (name, value) in &row.0 {
                        let value = quick_xml::escape::escape(value.as_ref());
                        xml.push_str(&format!("<{name}>{value}</{name}>"));
                    }
                    xml.push_str("</ecnow_records>");
                }
                xml.push_str("</easycall>");
                xml.into_bytes()
            }
        }
    }
}

impl Serialize for WireRow<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let envelope = Envelope::parse(WireFormat::Json, ARTICLE_ROW.as_bytes()).unwrap();
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
    fn a_list_sent_as_an_object_keeps_the_order_sent() {
        let rows: String = (0..12)
            .map(|n| format!(r#""{n}":{{"id":"{}","datasetid":"100"}}"#, 550000 + n))
            .collect::<Vec<_>>()
            .join(",");
        let body = format!(r#"{{"success":true,"total":12,"list":{{{rows}}}}}"#);
        let envelope = Envelope::parse(WireFormat::Json, body.as_bytes()).unwrap();
        let ids: Vec<u64> = envelope
            .list
            .unwrap()
            .into_iter()
            .map(|row| record_from_row(row).unwrap().id)
            .collect();
        assert_eq!(ids, (550000..550012).collect::<Vec<_>>());
        let empty = Envelope::parse(WireFormat::Json, br#"{"success":1,"list":null}"#).unwrap();
        assert_eq!(empty.list.map(|rows| rows.len()), Some(0));
        for nested in [
            &br#"{"success":true,"total":{"n":1}}"#[..],
            br#"{"success":true,"list":[[1]]}"#,
        ] {
            assert!(Envelope::parse(WireFormat::Json, nested).is_err());
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
                let envelope = Envelope::parse(WireFormat::Json, body.to_string().as_bytes()).unwrap();
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
        let envelope = Envelope::parse(WireFormat::Xml, xml).unwrap();
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
                Envelope::parse(format, body).is_err(),
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

    #[test]
    fn payloads_keep_order_and_escape_values() {
        let row = WireRow(vec![
            ("dataset".into(), "100".into()),
            ("firstname".into(), "Joe&action=delete <b>".into()),
        ]);
        let json = WireRow::payload(std::slice::from_ref(&row), WireFormat::Json);
        assert_eq!(
            json,
            br#"[{"dataset":"100","firstname":"Joe&action=delete <b>"}]"#
        );
        let xml = String::from_utf8(WireRow::payload(&[row], WireFormat::Xml)).unwrap();
        assert!(xml.ends_with(
            "<easycall><ecnow_records><dataset>100</dataset>\
             <firstname>Joe&amp;action=delete &lt;b&gt;</firstname></ecnow_records></easycall>"
        ));
    }
}
