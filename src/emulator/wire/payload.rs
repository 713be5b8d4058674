//! Write payloads (`raw=1` bodies): a JSON array of objects or an `<easycall>` XML document,
//! read into [`Row`]s.

use std::fmt;

use quick_xml::Reader;
use quick_xml::events::Event;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

/// One record of a write payload: field names and values as sent, in order.
#[derive(Debug, Default, PartialEq, Eq)]
pub(in crate::emulator) struct Row(pub(in crate::emulator) Vec<(String, String)>);

impl Row {
    /// The value of the last field whose name equals `name` in any letter case.
    pub(in crate::emulator) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl<'de> Deserialize<'de> for Row {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RowVisitor;

        impl<'de> Visitor<'de> for RowVisitor {
            type Value = Row;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of strings and numbers")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Row, A::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(8).min(64));
                while let Some((name, Scalar(value))) = map.next_entry::<String, Scalar>()? {
                    fields.push((name, value));
                }
                Ok(Row(fields))
            }
        }

        deserializer.deserialize_map(RowVisitor)
    }
}

/// A payload value as PHP would cast it to a string: numbers as written, `true` as `1`,
/// `false` and `null` as empty; arrays and objects are refused.
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;

        impl Visitor<'_> for ScalarVisitor {
            type Value = Scalar;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a number")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_owned()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
                Ok(Scalar(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(if v { "1" } else { "" }.to_owned()))
            }

            fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar(String::new()))
            }

            fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar(String::new()))
            }
        }

        deserializer.deserialize_any(ScalarVisitor)
    }
}

/// Why a write payload was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::emulator) enum PayloadError {
    /// A JSON object where an array of objects belongs.
    NotAnArray,
    /// Not well-formed, not the expected shape, or carrying a document type declaration.
    Malformed,
}

impl PayloadError {
    /// The upstream's error text for this refusal.
    pub(in crate::emulator) fn message(self) -> &'static str {
        match self {
            Self::NotAnArray => "Bad argument: payload must be an array",
            Self::Malformed => "Bad argument: payload",
        }
    }
}

/// Reads a JSON payload: an array of objects whose values are strings or numbers.
pub(in crate::emulator) fn parse_json_rows(body: &[u8]) -> Result<Vec<Row>, PayloadError> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => return Err(PayloadError::NotAnArray),
        Some(b'[') => {}
        _ => return Err(PayloadError::Malformed),
    }
    serde_json::from_slice(body).map_err(|_| PayloadError::Malformed)
}

/// Reads an XML payload: `<easycall>` holding one `<item>` element (the method's name, e.g.
/// `ecnow_records`) per row, each holding one element per field. Entities are never expanded: a document type
/// declaration, or any reference other than the five predefined ones and character
/// references, refuses the payload.
pub(in crate::emulator) fn parse_xml_rows(
    body: &[u8],
    item: &str,
) -> Result<Vec<Row>, PayloadError> {
    parse_xml(body, item.as_bytes()).ok_or(PayloadError::Malformed)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum XmlState {
    BeforeRoot,
    InRoot,
    InRecord,
    InField,
    AfterRoot,
}

fn parse_xml(body: &[u8], item: &[u8]) -> Option<Vec<Row>> {
    let text = std::str::from_utf8(body).ok()?;
    let mut reader = Reader::from_str(text);
    let mut state = XmlState::BeforeRoot;
    let mut rows = Vec::new();
    let mut row = Row::default();
    let mut field = String::new();
    let mut value = String::new();
    loop {
        match (reader.read_event().ok()?, state) {
            (Event::Decl(_) | Event::Comment(_), _) => {}
            (Event::DocType(_) | Event::PI(_), _) => return None,
            (Event::Start(e), XmlState::BeforeRoot) if e.name().as_ref() == b"easycall" => {
                state = XmlState::InRoot;
            }
            (Event::Empty(e), XmlState::BeforeRoot) if e.name().as_ref() == b"easycall" => {
                state = XmlState::AfterRoot;
            }
            (Event::Start(e), XmlState::InRoot) if e.name().as_ref() == item => {
                state = XmlState::InRecord;
            }
            (Event::Empty(e), XmlState::InRoot) if e.name().as_ref() == item => {
                rows.push(Row::default());
            }
            (Event::Start(e), XmlState::InRecord) => {
                field = std::str::from_utf8(e.name().as_ref()).ok()?.to_owned();
                value.clear();
                state = XmlState::InField;
            }
            (Event::Empty(e), XmlState::InRecord) => {
                let name = std::str::from_utf8(e.name().as_ref()).ok()?.to_owned();
                row.0.push((name, String::new()));
            }
            (Event::End(_), XmlState::InField) => {
                row.0
                    .push((std::mem::take(&mut field), std::mem::take(&mut value)));
                state = XmlState::InRecord;
            }
            (Event::End(_), XmlState::InRecord) => {
                rows.push(std::mem::take(&mut row));
                state = XmlState::InRoot;
            }
            (Event::End(_), XmlState::InRoot) => state = XmlState::AfterRoot,
            (Event::Text(t), XmlState::InField) => value.push_str(&t.xml10_content().ok()?),
            (Event::CData(t), XmlState::InField) => value.push_str(&t.xml10_content().ok()?),
            (Event::GeneralRef(r), XmlState::InField) => {
                let c = match r.resolve_char_ref().ok()? {
                    Some(c) => c,
                    None => match r.as_ref() {
                        b"lt" => '<',
                        b"gt" => '>',
                        b"amp" => '&',
                        b"quot" => '"',
                        b"apos" => '\'',
                        _ => return None,
                    },
                };
                value.push(c);
            }
            (Event::Text(t), _) if t.iter().all(u8::is_ascii_whitespace) => {}
            (Event::Eof, XmlState::AfterRoot) => return Some(rows),
            _ => return None,
        }
    }
}
