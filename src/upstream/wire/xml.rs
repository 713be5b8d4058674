//! The XML reader of an answer's fields.

use std::borrow::Cow;

use quick_xml::events::Event;

use super::bad_answer;
use super::row::{Fields, Row, RowKey};
use crate::error::Error;

/// The top-level scalars and the list of an XML answer.
pub(super) fn fields(body: &[u8]) -> Result<Fields, Error> {
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
                        fields.scalars.insert(&name, None);
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
                        fields.scalars.insert(&name, value.map(Cow::Owned));
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
