//! The payloads of `create` and `update`: upstream write names and string values, in order.

use std::borrow::Cow;

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::{WireFormat, wire_datetime};
use crate::domain::{
    Column, ColumnKind, DatasetId, NewRecord, RecordId, RecordPatch, UpdateTarget, WriteValue,
};

/// What the upstream stores for "no callback".
const NO_DATETIME: &str = "0000-00-00 00:00:00";
/// What the upstream stores for "no agent" (and a flag that is off).
const NO_REFERENCE: &str = "0";
/// A flag that is on.
const FLAG_ON: &str = "1";

/// A written value the upstream's way: text as given, datetimes as `YYYY-MM-DD HH:MM:SS`,
/// flags as `1`/`0`.
fn wire_value(value: &WriteValue) -> Cow<'_, str> {
    match value {
        WriteValue::Text(text) => text.as_str().into(),
        WriteValue::Code(code) => code.to_string().into(),
        WriteValue::DateTime(at) => wire_datetime(at).into(),
        WriteValue::Flag(true) => FLAG_ON.into(),
        WriteValue::Flag(false) => NO_REFERENCE.into(),
    }
}

/// What clears `column` upstream: the zero datetime, `0` for no agent and an unset flag, `""`
/// for the rest.
fn wire_cleared(column: Column) -> &'static str {
    match column.kind() {
        ColumnKind::DateTime => NO_DATETIME,
        ColumnKind::Reference | ColumnKind::Flag => NO_REFERENCE,
        _ => "",
    }
}

/// The payload of an `update` of record `id`: `id`, the dataset or table, the changed
/// standard columns by their write names (a cleared one as [`wire_cleared`] says), the custom
/// columns, then `notes_append`.
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
    row.extend(patch.changes().map(|(c, v)| {
        (
            c.write_name().into(),
            v.map_or(wire_cleared(c).into(), wire_value),
        )
    }));
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
/// their write names in order, then the custom columns, then `notes_append`.
pub fn create_payload(dataset: DatasetId, records: &[NewRecord], format: WireFormat) -> Vec<u8> {
    let dataset = dataset.to_string();
    let rows: Vec<WireRow<'_>> = records
        .iter()
        .map(|record| {
            let mut row = vec![(Cow::Borrowed("dataset"), Cow::Borrowed(dataset.as_str()))];
            row.extend(
                record
                    .values()
                    .map(|(c, v)| (c.write_name().into(), wire_value(v))),
            );
            row.extend(record.custom().map(|(n, v)| (n.as_str().into(), v.into())));
            if let Some(notes) = record.notes_append() {
                row.push(("notes_append".into(), notes.into()));
            }
            WireRow(row)
        })
        .collect();
    WireRow::payload(&rows, format)
}

/// One record of a write payload: upstream names and string values, in order.
#[derive(Debug, Default)]
pub(crate) struct WireRow<'a>(pub Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl WireRow<'_> {
    /// Renders rows as the payload of a records `create` or `update` in `format`.
    pub fn payload(rows: &[WireRow<'_>], format: WireFormat) -> Vec<u8> {
        Self::payload_of(rows, "ecnow_records", format)
    }

    /// Renders rows as the payload of a `create` or `update` of `method` in `format` (XML
    /// wraps each row in an element named after the method).
    pub fn payload_of(rows: &[WireRow<'_>], method: &str, format: WireFormat) -> Vec<u8> {
        match format {
            WireFormat::Json => serde_json::to_vec(rows).expect("string maps always serialise"),
            WireFormat::Xml => {
                let mut xml =
                    String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<easycall>");
                for row in rows {
                    xml.push_str(&format!("<{method}>"));
                    for (name, value) in &row.0 {
                        let value = xml_text(value);
                        xml.push_str(&format!("<{name}>{value}</{name}>"));
                    }
                    xml.push_str(&format!("</{method}>"));
                }
                xml.push_str("</easycall>");
                xml.into_bytes()
            }
        }
    }
}

/// Escapes a value as XML element text. A carriage return is written as `&#13;`: an XML 1.0
/// parser turns a literal CR (and CRLF) into LF, so the value would be stored differently than
/// the same value sent as JSON; the character reference survives.
fn xml_text(value: &str) -> Cow<'_, str> {
    let escaped = quick_xml::escape::escape(value);
    match escaped.contains('\r') {
        true => Cow::Owned(escaped.replace('\r', "&#13;")),
        false => escaped,
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
    use crate::domain::BodyTarget;
    use serde_json::json;

    #[test]
    fn dialler_values_and_clears_are_spelled_the_upstreams_way_in_both_formats() {
        let body = json!({"callback_at": null, "agent_ref": null, "agent_specific": false,
                          "callback_same_time": true, "outcome_code": 200,
                          "callback_notes": null});
        let patch = RecordPatch::parse_body(&body, BodyTarget::FromPath).unwrap();
        let id = RecordId::parse("id", "7").unwrap();
        let target = UpdateTarget::Dataset(DatasetId::try_from(100).unwrap());
        let json = update_payload(id, &target, &patch, WireFormat::Json);
        assert_eq!(
            String::from_utf8(json).unwrap(),
            r#"[{"id":"7","dataset":"100","outcomecode":"200","callback":"0000-00-00 00:00:00","call_back_notes":"","call_back_sametime":"1","agentref":"0","agent_specific":"0"}]"#
        );
        let xml = String::from_utf8(update_payload(id, &target, &patch, WireFormat::Xml)).unwrap();
        assert!(
            xml.contains("<callback>0000-00-00 00:00:00</callback>")
                && xml.contains("<agentref>0</agentref>")
                && xml.contains("<call_back_sametime>1</call_back_sametime>"),
            "{xml}"
        );
        let record = json!({"mobile_phone": "0712345678", "callback_at": "2026-12-01T10:00:00"});
        let request = NewRecord::parse_body(&record).unwrap();
        let created = create_payload(
            DatasetId::try_from(100).unwrap(),
            request.records(),
            WireFormat::Xml,
        );
        assert!(
            String::from_utf8(created)
                .unwrap()
                .contains("<callback>2026-12-01 10:00:00</callback>")
        );
    }

    #[test]
    fn payloads_keep_order_and_escape_values() {
        let row = WireRow(vec![
            ("dataset".into(), "100".into()),
            ("firstname".into(), "Joe&action=delete <b>".into()),
            ("notes".into(), "line 1\r\nline 2".into()),
        ]);
        let json = WireRow::payload(std::slice::from_ref(&row), WireFormat::Json);
        assert_eq!(
            json,
            br#"[{"dataset":"100","firstname":"Joe&action=delete <b>","notes":"line 1\r\nline 2"}]"#
        );
        let xml = String::from_utf8(WireRow::payload(&[row], WireFormat::Xml)).unwrap();
        assert!(xml.ends_with(
            "<easycall><ecnow_records><dataset>100</dataset>\
             <firstname>Joe&amp;action=delete &lt;b&gt;</firstname>\
             <notes>line 1&#13;\nline 2</notes></ecnow_records></easycall>"
        ));
    }
}
