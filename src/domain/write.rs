//! What callers write: new records and patches.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

use super::ids::table_name_rule;
use super::value::{
    CustomFieldName, MAX_NOTES, MAX_TEXT, NOT_WIRE_TEXT, Phone, WriteValue, agent_ref,
    callback_time, is_wire_text, outcome_code,
};
use super::{Column, ColumnKind, DatasetId, TableName};
use crate::error::{Error, FieldError};

/// The most records one create may carry.
pub const MAX_BATCH: usize = 1000;

/// A create body, parsed: one record (answered with its id) or a batch (answered with counts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreateRequest {
    /// A body that is one object.
    One(NewRecord),
    /// A body that is an array of 1 to [`MAX_BATCH`] objects.
    Many(Vec<NewRecord>),
}

impl CreateRequest {
    /// The records to create, in the order given.
    pub fn records(&self) -> &[NewRecord] {
        match self {
            CreateRequest::One(record) => std::slice::from_ref(record),
            CreateRequest::Many(records) => records,
        }
    }
}

/// The message of an `agent_specific: true` without an agent to be specific to.
const AGENT_SPECIFIC_NEEDS_AGENT: &str = "`agent_specific: true` needs an `agent_ref`";

/// A record to create: writable standard columns, custom columns and notes to append, with at
/// least one phone, and an `agent_ref` when `agent_specific` is true.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRecord {
    values: BTreeMap<Column, WriteValue>,
    custom: BTreeMap<CustomFieldName, String>,
    notes_append: Option<String>,
}

impl NewRecord {
    /// The standard values, in upstream write order (absent fields are not listed).
    pub fn values(&self) -> impl Iterator<Item = (Column, &WriteValue)> {
        self.values.iter().map(|(column, value)| (*column, value))
    }

    /// Text to append to the notes.
    pub fn notes_append(&self) -> Option<&str> {
        self.notes_append.as_deref()
    }

    /// The custom values.
    pub fn custom(&self) -> impl Iterator<Item = (&CustomFieldName, &str)> {
        self.custom
            .iter()
            .map(|(name, value)| (name, value.as_str()))
    }

    /// Parses a create body: one object, or an array of 1 to [`MAX_BATCH`] objects.
    pub fn parse_body(body: &Value) -> Result<CreateRequest, Error> {
        match body {
            Value::Object(object) => Ok(CreateRequest::One(
                Self::parse(object, "").map_err(Error::Validation)?,
            )),
            Value::Array(items) if items.is_empty() || items.len() > MAX_BATCH => {
                Err(Error::Validation(vec![FieldError::new(
                    "",
                    format!("a batch holds 1 to {MAX_BATCH} records"),
                )]))
            }
            Value::Array(items) => {
                let mut records = Vec::with_capacity(items.len());
                let mut errors = Vec::new();
                for (index, item) in items.iter().enumerate() {
                    let prefix = format!("[{index}].");
                    match item.as_object() {
                        Some(object) => match Self::parse(object, &prefix) {
                            Ok(record) => records.push(record),
                            Err(mut more) => errors.append(&mut more),
                        },
                        None => {
                            errors.push(FieldError::new(format!("[{index}]"), "must be an object"))
                        }
                    }
                }
                if errors.is_empty() {
                    Ok(CreateRequest::Many(records))
                } else {
                    Err(Error::Validation(errors))
                }
            }
            _ => Err(Error::BadRequest {
                detail: "the body must be a record object or an array of record objects".into(),
                errors: Vec::new(),
            }),
        }
    }

    /// Parses one record object; field names in errors are prefixed with `prefix`.
    pub fn parse(object: &Map<String, Value>, prefix: &str) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut values = BTreeMap::new();
        let mut custom = BTreeMap::new();
        let mut notes_append = None;
        let mut phone_given = false;
        for (name, value) in object {
            let field = || format!("{prefix}{name}");
            if name == "custom" {
                parse_custom(value, &field(), &mut errors, |name, value| {
                    if let Some(value) = value {
                        custom.insert(name, value);
                    }
                });
                continue;
            }
            if name == "notes_append" {
                match text(value, MAX_NOTES) {
                    Ok(text) => notes_append = text,
                    Err(message) => errors.push(FieldError::new(field(), message)),
                }
                continue;
            }
            match Column::from_name(name).filter(|column| column.is_writable()) {
                Some(column) => match parse_value(column, value) {
                    Err(message) if column.is_phone() => {
                        phone_given = true;
                        errors.push(FieldError::new(field(), message));
                    }
                    Ok(Some(text)) => {
                        values.insert(column, text);
                    }
                    Ok(None) => {}
                    Err(message) => errors.push(FieldError::new(field(), message)),
                },
                None => errors.push(FieldError::new(
                    field(),
                    unknown_field_message(name, BodyTarget::FromPath),
                )),
            }
        }
        if !phone_given && !values.keys().any(|column| column.is_phone()) {
            errors.push(FieldError::new(
                format!("{prefix}mobile_phone"),
                "at least one phone (mobile_phone, home_phone or work_phone) is required",
            ));
        }
        let agent_specific = values.get(&Column::AgentSpecific) == Some(&WriteValue::Flag(true));
        if agent_specific && !values.contains_key(&Column::AgentRef) {
            errors.push(FieldError::new(
                format!("{prefix}agent_specific"),
                AGENT_SPECIFIC_NEEDS_AGENT,
            ));
        }
        if errors.is_empty() {
            Ok(Self {
                values,
                custom,
                notes_append,
            })
        } else {
            Err(errors)
        }
    }
}

/// Where an update applies: the record's dataset or its campaign table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpdateTarget {
    /// The record's dataset.
    Dataset(DatasetId),
    /// The campaign table that holds the record.
    Table(TableName),
}

/// Where an update body may name the record's dataset or campaign table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyTarget {
    /// `PATCH /records/{id}`: the body names exactly one of `dataset` / `table`.
    Required,
    /// `PATCH /datasets/{dataset}/records/{id}`: the path names the dataset; the body names
    /// neither.
    FromPath,
}

/// Changes to a record: values to set (`None` clears), notes to append, and, for
/// `PATCH /records/{id}`, the dataset or table the record is in.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RecordPatch {
    changes: BTreeMap<Column, Option<WriteValue>>,
    custom: BTreeMap<CustomFieldName, Option<String>>,
    notes_append: Option<String>,
    target: Option<UpdateTarget>,
    needs_record_agent: bool,
}

impl RecordPatch {
    /// The standard columns to change, in write order; `None` clears the value.
    pub fn changes(&self) -> impl Iterator<Item = (Column, Option<&WriteValue>)> {
        self.changes
            .iter()
            .map(|(column, value)| (*column, value.as_ref()))
    }

    /// Whether the patch sets `agent_specific: true` without an `agent_ref`: it may be sent only
    /// when the record already has an agent (see [`RecordPatch::record_agent_missing`]).
    pub fn needs_record_agent(&self) -> bool {
        self.needs_record_agent
    }

    /// The refusal of a patch that [`RecordPatch::needs_record_agent`] for a record without an
    /// agent.
    pub fn record_agent_missing(id: impl std::fmt::Display) -> Error {
        Error::Validation(vec![FieldError::new(
            "agent_specific",
            format!("{AGENT_SPECIFIC_NEEDS_AGENT}: record {id} has none; send `agent_ref` along"),
        )])
    }

    /// The custom columns to change; `None` clears the value.
    pub fn custom(&self) -> impl Iterator<Item = (&CustomFieldName, Option<&str>)> {
        self.custom
            .iter()
            .map(|(name, value)| (name, value.as_deref()))
    }

    /// Text to append to the notes.
    pub fn notes_append(&self) -> Option<&str> {
        self.notes_append.as_deref()
    }

    /// The dataset or table named in the body, if any.
    pub fn target(&self) -> Option<&UpdateTarget> {
        self.target.as_ref()
    }

    /// Parses an update body; `target` says whether it names the dataset or table.
    pub fn parse_body(body: &Value, target: BodyTarget) -> Result<Self, Error> {
        let names_target = target == BodyTarget::Required;
        let Some(object) = body.as_object() else {
            return Err(Error::BadRequest {
                detail: "the body must be a JSON object".into(),
                errors: Vec::new(),
            });
        };
        let mut errors = Vec::new();
        let mut patch = RecordPatch::default();
        let mut targets = Vec::new();
        for (name, value) in object {
            match name.as_str() {
                "custom" => parse_custom(value, name, &mut errors, |name, value| {
                    patch.custom.insert(name, value);
                }),
                "notes_append" => match text(value, MAX_NOTES) {
                    Ok(Some(text)) => patch.notes_append = Some(text),
                    Ok(None) => {}
                    Err(message) => errors.push(FieldError::new(name, message)),
                },
                "dataset" if names_target => match dataset_value(value) {
                    Some(dataset) => targets.push(UpdateTarget::Dataset(dataset)),
                    None => errors.push(FieldError::new(name, "must be a positive integer")),
                },
                "table" if names_target => {
                    match value.as_str().map(|t| TableName::parse(name, t)) {
                        Some(Ok(table)) => targets.push(UpdateTarget::Table(table)),
                        _ => errors.push(FieldError::new(
                            name,
                            format!("must be {}", table_name_rule()),
                        )),
                    }
                }
                _ => match Column::from_name(name).filter(|column| column.is_writable()) {
                    Some(column) if value.is_null() => {
                        patch.changes.insert(column, None);
                    }
                    Some(column) => match parse_value(column, value) {
                        Ok(value) => {
                            patch.changes.insert(column, value);
                        }
                        Err(message) => errors.push(FieldError::new(name, message)),
                    },
                    None => errors.push(FieldError::new(name, unknown_field_message(name, target))),
                },
            }
        }
        if patch.changes.get(&Column::AgentSpecific) == Some(&Some(WriteValue::Flag(true))) {
            match patch.changes.get(&Column::AgentRef) {
                Some(Some(_)) => {}
                Some(None) => errors.push(FieldError::new(
                    "agent_specific",
                    format!("{AGENT_SPECIFIC_NEEDS_AGENT}; it cannot be true while `agent_ref` is cleared"),
                )),
                None => patch.needs_record_agent = true,
            }
        }
        if names_target {
            match targets.len() {
                1 => patch.target = targets.pop(),
                0 if errors.is_empty() => errors.push(FieldError::new(
                    "dataset",
                    "name the record's `dataset` or `table`",
                )),
                0 => {}
                _ => errors.push(FieldError::new(
                    "table",
                    "name either `dataset` or `table`, not both",
                )),
            }
        }
        if errors.is_empty() {
            Ok(patch)
        } else {
            Err(Error::Validation(errors))
        }
    }
}

fn unknown_field_message(name: &str, target: BodyTarget) -> String {
    match name {
        "dataset" | "table" if target == BodyTarget::FromPath => {
            "the path names the dataset; the body may not name another".into()
        }
        _ if Column::from_name(name).is_some() => format!("`{name}` is read-only"),
        _ => format!("unknown field `{name}` (custom columns go under `custom`)"),
    }
}

fn dataset_value(value: &Value) -> Option<DatasetId> {
    match value {
        Value::Number(number) => number
            .as_u64()
            .or_else(|| {
                number
                    .as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 1.0 && *f < 9.1e15)
                    .map(|f| f as u64)
            })
            .and_then(|n| DatasetId::try_from(n).ok()),
        Value::String(text) => DatasetId::parse("dataset", text).ok(),
        _ => None,
    }
}

/// A text value: a string that [`is_wire_text`], of at most `max` characters; `null` or `""`
/// is no value.
fn text(value: &Value, max: usize) -> Result<Option<String>, String> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) if text.is_empty() => Ok(None),
        Value::String(text) if text.len() > max && text.chars().count() > max => {
            Err(format!("must be at most {max} characters"))
        }
        Value::String(text) if !is_wire_text(text) => Err(NOT_WIRE_TEXT.into()),
        Value::String(text) => Ok(Some(text.clone())),
        _ => Err("must be a string".into()),
    }
}

/// A standard column's value, checked by the column's kind; `null` (and `""` for text) is no
/// value.
fn parse_value(column: Column, value: &Value) -> Result<Option<WriteValue>, String> {
    if value.is_null() {
        return Ok(None);
    }
    if column.is_phone() && value.as_str() == Some("") {
        // A phone is a number or `null` (no value / clear), never an empty string.
        return Err("a phone must be 6 to 20 characters long (use null for none)".into());
    }
    let string = || {
        value
            .as_str()
            .ok_or_else(|| String::from("must be a string"))
    };
    let value = match column.kind() {
        ColumnKind::Code => WriteValue::Code(outcome_code(value)?),
        ColumnKind::DateTime => WriteValue::DateTime(callback_time(string()?)?),
        ColumnKind::Reference => WriteValue::Text(agent_ref(string()?)?),
        ColumnKind::Flag => {
            WriteValue::Flag(value.as_bool().ok_or("must be true or false (or null)")?)
        }
        ColumnKind::Phone => match text(value, MAX_TEXT)? {
            Some(number) => WriteValue::Text(Phone::parse(&number)?.into_string()),
            None => return Ok(None),
        },
        ColumnKind::Notes => match text(value, MAX_NOTES)? {
            Some(text) => WriteValue::Text(text),
            None => return Ok(None),
        },
        ColumnKind::Text | ColumnKind::Key | ColumnKind::Date => match text(value, MAX_TEXT)? {
            Some(text) => WriteValue::Text(text),
            None => return Ok(None),
        },
    };
    Ok(Some(value))
}

fn parse_custom(
    value: &Value,
    field: &str,
    errors: &mut Vec<FieldError>,
    mut accept: impl FnMut(CustomFieldName, Option<String>),
) {
    let object = match value {
        Value::Object(object) => object,
        Value::Null => return,
        _ => {
            errors.push(FieldError::new(
                field,
                "must be an object of custom columns",
            ));
            return;
        }
    };
    for (name, value) in object {
        match (CustomFieldName::parse(name), text(value, MAX_TEXT)) {
            (Ok(name), Ok(value)) => accept(name, value),
            (Err(message), _) | (_, Err(message)) => {
                errors.push(FieldError::new(format!("{field}.{name}"), message));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(error: Error) -> Vec<String> {
        match error {
            Error::Validation(errors) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn a_record_needs_a_phone_and_known_fields() {
        let body = json!({"first_name": "Joe", "mobile_phone": "07123456789",
                          "custom": {"company_name": "ACME"}});
        let request = NewRecord::parse_body(&body).unwrap();
        assert!(matches!(request, CreateRequest::One(_)));
        let records = request.records();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].values().count(), 2);
        assert_eq!(
            fields(NewRecord::parse_body(&json!({"first_name": "Joe"})).unwrap_err()),
            ["mobile_phone"]
        );
        assert_eq!(
            fields(
                NewRecord::parse_body(&json!({"mobile_phone": "0712345", "firstname": "x"}))
                    .unwrap_err()
            ),
            ["firstname"]
        );
        assert_eq!(
            fields(
                NewRecord::parse_body(&json!({"mobile_phone": "0712345", "id": 3})).unwrap_err()
            ),
            ["id"]
        );
    }

    #[test]
    fn phones_and_custom_names_are_checked() {
        for bad in ["12345", "123456789012345678901", "0712345678a", "      "] {
            assert!(Phone::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Phone::parse("+44 (0)7123-456789").is_ok());
        let empty = json!({"mobile_phone": "", "home_phone": "0712345678"});
        assert!(
            NewRecord::parse_body(&empty).is_err(),
            "an empty phone is refused, not dropped"
        );
        assert!(
            RecordPatch::parse_body(&json!({"mobile_phone": ""}), BodyTarget::FromPath).is_err()
        );
        assert!(
            RecordPatch::parse_body(&json!({"mobile_phone": null}), BodyTarget::FromPath).is_ok()
        );
        for bad in [
            "FirstName",
            "DATASET",
            "1abc",
            "a-b",
            "mobilephone",
            "Token",
        ] {
            assert!(CustomFieldName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(CustomFieldName::parse("company_name").is_ok());
    }

    #[test]
    fn batches_are_bounded_and_errors_name_the_item() {
        let items: Vec<_> = (0..1001)
            .map(|_| json!({"mobile_phone": "0712345678"}))
            .collect();
        assert!(NewRecord::parse_body(&Value::Array(items)).is_err());
        let body = json!([{"mobile_phone": "0712345678"}, {"mobile_phone": "x"}]);
        assert_eq!(
            fields(NewRecord::parse_body(&body).unwrap_err()),
            ["[1].mobile_phone"]
        );
    }

    #[test]
    fn dialler_fields_are_typed_and_agent_specific_needs_an_agent() {
        let body = json!({"mobile_phone": "0712345678", "outcome_code": 510456,
                          "callback_at": "2026-12-01T10:00:00", "callback_same_time": false,
                          "agent_ref": "1001", "agent_specific": true, "notes_append": "x"});
        let request = NewRecord::parse_body(&body).unwrap();
        let record = &request.records()[0];
        assert_eq!(record.notes_append(), Some("x"));
        let values: BTreeMap<Column, &WriteValue> = record.values().collect();
        assert_eq!(values[&Column::OutcomeCode], &WriteValue::Code(510456));
        assert_eq!(values[&Column::CallbackSameTime], &WriteValue::Flag(false));
        assert_eq!(values[&Column::AgentRef], &WriteValue::Text("1001".into()));
        let lone = json!({"mobile_phone": "0712345678", "agent_specific": true});
        assert_eq!(
            fields(NewRecord::parse_body(&lone).unwrap_err()),
            ["agent_specific"]
        );

        let from_record =
            RecordPatch::parse_body(&json!({"agent_specific": true}), BodyTarget::FromPath)
                .unwrap();
        assert!(from_record.needs_record_agent());
        let given = json!({"agent_specific": true, "agent_ref": "7"});
        assert!(
            !RecordPatch::parse_body(&given, BodyTarget::FromPath)
                .unwrap()
                .needs_record_agent()
        );
        let cleared = json!({"agent_specific": true, "agent_ref": null});
        assert_eq!(
            fields(RecordPatch::parse_body(&cleared, BodyTarget::FromPath).unwrap_err()),
            ["agent_specific"]
        );
        let off = json!({"agent_specific": false, "agent_ref": null, "callback_at": null});
        let patch = RecordPatch::parse_body(&off, BodyTarget::FromPath).unwrap();
        assert!(!patch.needs_record_agent());
        assert_eq!(
            patch.changes().collect::<Vec<_>>(),
            [
                (Column::CallbackAt, None),
                (Column::AgentRef, None),
                (Column::AgentSpecific, Some(&WriteValue::Flag(false)))
            ]
        );
    }

    #[test]
    fn patches_need_a_target_on_the_bare_route_and_something_to_change() {
        let patch = RecordPatch::parse_body(
            &json!({"dataset": "100", "notes": null}),
            BodyTarget::Required,
        )
        .unwrap();
        assert_eq!(
            patch.target(),
            Some(&UpdateTarget::Dataset(DatasetId::try_from(100).unwrap()))
        );
        assert_eq!(patch.changes().collect::<Vec<_>>(), [(Column::Notes, None)]);
        assert!(RecordPatch::parse_body(&json!({"notes": "x"}), BodyTarget::Required).is_err());
        assert!(
            RecordPatch::parse_body(
                &json!({"dataset": 100, "table": "t", "notes": "x"}),
                BodyTarget::Required
            )
            .is_err()
        );
        assert!(
            RecordPatch::parse_body(&json!({"dataset": 100}), BodyTarget::Required).is_ok(),
            "a no-op update"
        );
        assert!(
            RecordPatch::parse_body(&json!({"dataset": 100, "notes": "x"}), BodyTarget::FromPath)
                .is_err()
        );
    }
}
