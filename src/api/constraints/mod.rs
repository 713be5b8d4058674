//! Constraints of the request schemas that the derives cannot express: at least one phone,
//! exactly one of `dataset` / `table`, custom column names, no control characters, id bounds.
//! They make the document say exactly what the parsers in `domain` accept, so that a request
//! that is valid by the document is accepted and one that is not is refused.

use serde_json::{Value, json};

use crate::domain::filter::{
    AGENT_PATTERN, MAX_LIMIT, MAX_SEARCH_CHARS, MAX_SEARCHES, OUTCOMES_PATTERN, TIME_PATTERN,
};
use crate::domain::ids::{MAX_ID, TABLE_NAME_PATTERN};
use crate::domain::value::{
    AGENT_REF_PATTERN, CALLBACK_PATTERN, CUSTOM_NAME_PATTERN, MAX_AGENT_REF_DIGITS, MAX_NOTES,
    MAX_OUTCOME_CODE, MAX_PHONE_CHARS, MAX_TEXT, MIN_OUTCOME_CODE, MIN_PHONE_CHARS, PHONE_PATTERN,
    WIRE_TEXT_PATTERN,
};
use crate::domain::write::MAX_BATCH;
use crate::domain::{Column, ColumnKind};
use crate::upstream::query::MAX_READ_URL_BYTES;

/// An `Idempotency-Key` (a Structured Field string of 1 to 255 characters), or empty for none.
const IDEMPOTENCY_KEY_PATTERN: &str =
    "^$|^\"([\\x20\\x21\\x23-\\x5B\\x5D-\\x7E]|\\\\[\"\\\\]){1,255}\"$";

/// Whether a value may be `null`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Null {
    /// `null` is a value (no value on creates, a clear on updates).
    Allowed,
    /// Only a string.
    Refused,
}

fn string_type(null: Null) -> Value {
    match null {
        Null::Allowed => json!(["string", "null"]),
        Null::Refused => json!("string"),
    }
}

fn text(max: usize, null: Null) -> Value {
    json!({"type": string_type(null), "maxLength": max, "pattern": WIRE_TEXT_PATTERN})
}

fn phone(null: Null) -> Value {
    json!({
        "type": string_type(null),
        "minLength": MIN_PHONE_CHARS,
        "maxLength": MAX_PHONE_CHARS,
        "pattern": PHONE_PATTERN,
    })
}

fn custom(values: Null) -> Value {
    json!({
        "type": ["object", "null"],
        "description": "Custom columns by their own names (not a standard name in any letter case).",
        "propertyNames": {"pattern": CUSTOM_NAME_PATTERN},
        "additionalProperties": text(MAX_TEXT, values),
    })
}

/// Which body the fields are of.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Body {
    /// A create: custom values are documented as strings (the parser ignores a `null` one).
    Create,
    /// An update: a `null` custom value clears it.
    Update,
}

/// The dialler fields' meaning, as the document describes them.
fn dialler_description(column: Column) -> Option<&'static str> {
    Some(match column {
        Column::OutcomeCode => {
            "Outcome code of the record. One whose `complete` is true takes the record off the \
             dialler (the answer's `live` is false)."
        }
        Column::CallbackAt => {
            "When the dialler should call back, in the account's local time (no offset); \
             null clears the callback."
        }
        Column::CallbackNotes => "A note for the agent taking the callback.",
        Column::CallbackSameTime => "Whether the callback redials at the same time of day.",
        Column::AgentRef => "The id of the agent the record is assigned to; null: nobody.",
        Column::AgentSpecific => {
            "Whether only that agent may take the record; `true` needs an `agent_ref`, in the \
             body or already on the record."
        }
        _ => return None,
    })
}

/// The writable fields of a record body (`null` is no value on creates, a clear on updates),
/// by the column table: each column's kind gives its rules. Both bodies take `notes_append`.
fn fields(body: Body) -> serde_json::Map<String, Value> {
    let mut properties = serde_json::Map::new();
    for column in Column::writable() {
        let mut schema = match column.kind() {
            ColumnKind::Phone => phone(Null::Allowed),
            ColumnKind::Notes => text(MAX_NOTES, Null::Allowed),
            ColumnKind::Code => json!({
                "type": ["integer", "null"],
                "minimum": MIN_OUTCOME_CODE,
                "maximum": MAX_OUTCOME_CODE,
            }),
            ColumnKind::DateTime => json!({
                "type": string_type(Null::Allowed),
                "pattern": CALLBACK_PATTERN,
                "example": "2026-12-01T10:00:00",
            }),
            ColumnKind::Reference => json!({
                "type": string_type(Null::Allowed),
                "minLength": 1,
                "maxLength": MAX_AGENT_REF_DIGITS,
                "pattern": AGENT_REF_PATTERN,
            }),
            ColumnKind::Flag => json!({"type": ["boolean", "null"]}),
            _ => text(MAX_TEXT, Null::Allowed),
        };
        if let Some(description) = dialler_description(column) {
            schema["description"] = json!(description);
        }
        properties.insert(column.name().into(), schema);
    }
    let custom_values = match body {
        Body::Create => Null::Refused,
        Body::Update => Null::Allowed,
    };
    properties.insert("custom".into(), custom(custom_values));
    properties.insert("notes_append".into(), text(MAX_NOTES, Null::Allowed));
    properties
}

/// `agent_specific: true` needs an `agent_ref` that is a string (on a create always; on an
/// update the record's own agent may do, so only a cleared one is refused).
fn agent_specific_rule(body: Body) -> Value {
    let agent = match body {
        Body::Create => {
            json!({"required": ["agent_ref"], "properties": {"agent_ref": {"type": "string"}}})
        }
        Body::Update => json!({"properties": {"agent_ref": {"type": "string"}}}),
    };
    json!({
        "if": {"required": ["agent_specific"], "properties": {"agent_specific": {"const": true}}},
        "then": agent,
    })
}

fn record_schema(
    description: &str,
    properties: serde_json::Map<String, Value>,
    extra: Value,
) -> Value {
    let mut schema = json!({
        "type": "object",
        "description": description,
        "properties": properties,
        "additionalProperties": false,
    });
    if let (Some(schema), Some(extra)) = (schema.as_object_mut(), extra.as_object()) {
        schema.extend(extra.clone());
    }
    schema
}

/// Applies the constraints to the document.
pub fn tighten(doc: &mut Value) {
    let schemas = &mut doc["components"]["schemas"];
    let example = schemas["NewRecordBody"]["example"].take();
    schemas["NewRecordBody"] = record_schema(
        "A record to create: the writable fields, at least one phone; unknown fields are refused.",
        fields(Body::Create),
        json!({
            // At least one phone as a string: not (every phone absent or null). Said with `not`
            // rather than `anyOf` so that client generators keep one record model.
            "not": {"properties": Column::writable()
                .filter(|column| column.is_phone())
                .map(|column| (column.name().to_owned(), json!({"type": "null"})))
                .collect::<serde_json::Map<_, _>>()},
            "if": agent_specific_rule(Body::Create)["if"],
            "then": agent_specific_rule(Body::Create)["then"],
            "example": example,
        }),
    );
    schemas["CreateBody"] = json!({
        "description": format!("One record, or an array of 1 to {MAX_BATCH}."),
        "oneOf": [
            {"$ref": "#/components/schemas/NewRecordBody"},
            {"type": "array", "items": {"$ref": "#/components/schemas/NewRecordBody"}, "minItems": 1, "maxItems": MAX_BATCH},
        ],
    });
    let patch_fields = fields(Body::Update);
    let update_rule = agent_specific_rule(Body::Update);
    // utoipa-gen 5.5 writes `min_properties` as `maxProperties`, so the bound is set here.
    if let Some(dataset_patch) = schemas["DatasetPatch"].as_object_mut() {
        dataset_patch.remove("maxProperties");
        dataset_patch.insert("minProperties".into(), json!(1));
    }
    schemas["DatasetRecordPatchBody"] = record_schema(
        "Changes to a record: any writable field (null clears it), notes_append, custom.",
        patch_fields.clone(),
        json!({
            "if": update_rule["if"],
            "then": update_rule["then"],
            "example": {"outcome_code": 300, "callback_at": "2026-12-01T10:00:00",
                        "agent_ref": "1001", "notes_append": "Called back"},
        }),
    );
    let mut targeted = patch_fields;
    targeted.insert(
        "dataset".into(),
        json!({"type": "integer", "minimum": 1, "maximum": MAX_ID}),
    );
    targeted.insert(
        "table".into(),
        json!({"type": "string", "pattern": TABLE_NAME_PATTERN}),
    );
    schemas["RecordPatchBody"] = record_schema(
        "Changes to a record, naming exactly one of its dataset or campaign table.",
        targeted,
        json!({
            "oneOf": [{"required": ["dataset"]}, {"required": ["table"]}],
            "if": update_rule["if"],
            "then": update_rule["then"],
            "example": {"dataset": 100, "last_name": "Bloggs", "notes_append": "Called back"},
        }),
    );

    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in item.iter_mut() {
            tighten_parameters(operation);
            if let Some(unavailable) = operation["responses"]["503"]["description"].as_str()
                && !unavailable.contains("upstream_auth_failed")
            {
                // Every route that reaches ContactNow needs its token first.
                operation["responses"]["503"]["description"] = json!(format!(
                    "{unavailable}; or ContactNow refused the gateway's API credentials \
                     (`upstream_auth_failed`)"
                ));
            }
            if method == "patch" && path == "/datasets/{dataset}/records/{id}" {
                operation["requestBody"]["content"]["application/json"]["schema"] =
                    json!({"$ref": "#/components/schemas/DatasetRecordPatchBody"});
            }
            if method == "patch" && path.ends_with("/records/{id}") {
                // `Prefer: return=representation` answers the record itself: one union, so that
                // generated clients can read either answer.
                operation["responses"]["200"]["content"]["application/json"]["schema"] = json!({"oneOf": [
                    {"$ref": "#/components/schemas/UpdatedRecord"},
                    {"$ref": "#/components/schemas/Record"},
                ]});
            }
            if method == "post" && path == "/datasets/{dataset}/records" {
                let responses = &mut operation["responses"];
                responses["201"]["content"]["application/json"]["schema"] = json!({"oneOf": [
                    {"$ref": "#/components/schemas/CreatedRecord"},
                    {"$ref": "#/components/schemas/BatchResult"},
                ]});
                // A refused batch answers its counts (application/json), anything else a problem:
                // one union under both types, so that generated clients can read either.
                let refused = json!({"oneOf": [
                    {"$ref": "#/components/schemas/Problem"},
                    {"$ref": "#/components/schemas/BatchResult"},
                ]});
                for content_type in ["application/problem+json", "application/json"] {
                    responses["422"]["content"][content_type]["schema"] = refused.clone();
                }
            }
        }
    }
}

fn tighten_parameters(operation: &mut Value) {
    let Some(parameters) = operation
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for parameter in parameters {
        let name = parameter["name"].as_str().unwrap_or_default().to_owned();
        let schema = &mut parameter["schema"];
        match name.as_str() {
            "dataset" | "id" => {
                schema["minimum"] = json!(1);
                schema["maximum"] = json!(MAX_ID);
            }
            "table" => schema["pattern"] = json!(TABLE_NAME_PATTERN),
            "Idempotency-Key" => {
                schema["type"] = json!("string");
                schema["pattern"] = json!(IDEMPOTENCY_KEY_PATTERN);
            }
            "outcome" => schema["pattern"] = json!(OUTCOMES_PATTERN),
            "agent" => schema["pattern"] = json!(AGENT_PATTERN),
            "phone" => *schema = phone(Null::Refused),
            "from" | "to" => *schema = json!({"type": "string", "pattern": TIME_PATTERN}),
            "limit" => {
                schema["minimum"] = json!(1);
                schema["maximum"] = json!(MAX_LIMIT);
            }
            _ if name.starts_with("search[") => {
                schema["minLength"] = json!(1);
                schema["maxLength"] = json!(MAX_SEARCH_CHARS);
                schema["pattern"] = json!(WIRE_TEXT_PATTERN);
            }
            _ => {}
        }
        if name.starts_with("search[") {
            let described = parameter["description"].as_str().unwrap_or_default();
            parameter["description"] = json!(format!(
                "{described} At most {MAX_SEARCHES} `search[…]` parameters per read, and the \
                 read's ContactNow URL (every argument percent-encoded) at most \
                 {MAX_READ_URL_BYTES} bytes; more is a 400."
            ));
        }
    }
}

#[cfg(test)]
mod tests;
