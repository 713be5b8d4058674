//! Constraints of the request schemas that the derives cannot express: at least one phone,
//! exactly one of `dataset` / `table`, custom column names, no control characters, id bounds.
//! They make the document say exactly what the parsers in `domain` accept, so that a request
//! that is valid by the document is accepted and one that is not is refused.

use serde_json::{Value, json};

use crate::domain::Column;
use crate::domain::filter::{MAX_SEARCH_CHARS, MAX_SEARCHES};
use crate::upstream::query::MAX_READ_URL_BYTES;

/// Text the domain accepts (`is_wire_text`): no control characters but tab and line breaks, no
/// noncharacters. The pattern names those of the first plane; the domain refuses those of every
/// plane (U+1FFFE, …), which a pattern without the `u` flag cannot name in a character class.
const TEXT: &str = "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F\\uFDD0-\\uFDEF\\uFFFE\\uFFFF]*$";
/// A phone: 6 to 20 of digits, spaces, `+ - ( )`, with a digit.
const PHONE: &str = "^[ +()\\-]*[0-9][0-9 +()\\-]*$";
/// A custom column name.
const CUSTOM_NAME: &str = "^[A-Za-z][A-Za-z0-9_]{0,63}$";
/// The largest id: 2^53 - 1.
const MAX_ID: u64 = (1 << 53) - 1;

fn text(max: u64, nullable: bool) -> Value {
    let kind = if nullable {
        json!(["string", "null"])
    } else {
        json!("string")
    };
    json!({"type": kind, "maxLength": max, "pattern": TEXT})
}

fn phone(nullable: bool) -> Value {
    let kind = if nullable {
        json!(["string", "null"])
    } else {
        json!("string")
    };
    json!({"type": kind, "minLength": 6, "maxLength": 20, "pattern": PHONE})
}

fn custom(nullable_values: bool) -> Value {
    json!({
        "type": ["object", "null"],
        "description": "Custom columns by their own names (not a standard name in any letter case).",
        "propertyNames": {"pattern": CUSTOM_NAME},
        "additionalProperties": text(255, nullable_values),
    })
}

/// The writable fields of a record body (`null` is no value on creates, a clear on updates).
fn fields(for_create: bool) -> serde_json::Map<String, Value> {
    let mut properties = serde_json::Map::new();
    for column in Column::writable() {
        let name = column.name();
        let schema = match name {
            _ if column.is_phone() => phone(true),
            "notes" => text(4000, true),
            _ => text(255, true),
        };
        properties.insert(name.into(), schema);
    }
    properties.insert("custom".into(), custom(!for_create));
    properties
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
        fields(true),
        json!({
            // At least one phone as a string: not (every phone absent or null). Said with `not`
            // rather than `anyOf` so that client generators keep one record model.
            "not": {"properties": Column::writable()
                .filter(|column| column.is_phone())
                .map(|column| (column.name().to_owned(), json!({"type": "null"})))
                .collect::<serde_json::Map<_, _>>()},
            "example": example,
        }),
    );
    schemas["CreateBody"] = json!({
        "description": "One record, or an array of 1 to 1000.",
        "oneOf": [
            {"$ref": "#/components/schemas/NewRecordBody"},
            {"type": "array", "items": {"$ref": "#/components/schemas/NewRecordBody"}, "minItems": 1, "maxItems": 1000},
        ],
    });
    let mut patch_fields = fields(false);
    patch_fields.insert("notes_append".into(), text(4000, true));
    schemas["DatasetRecordPatchBody"] = record_schema(
        "Changes to a record: any writable field (null clears it), notes_append, custom.",
        patch_fields.clone(),
        json!({"example": {"last_name": "Bloggs", "notes_append": "Called back"}}),
    );
    let mut targeted = patch_fields;
    targeted.insert(
        "dataset".into(),
        json!({"type": "integer", "minimum": 1, "maximum": MAX_ID}),
    );
    targeted.insert(
        "table".into(),
        json!({"type": "string", "pattern": "^[A-Za-z0-9_]{1,64}$"}),
    );
    schemas["RecordPatchBody"] = record_schema(
        "Changes to a record, naming exactly one of its dataset or campaign table.",
        targeted,
        json!({
            "oneOf": [{"required": ["dataset"]}, {"required": ["table"]}],
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
            if method == "patch" && path.starts_with("/datasets/") {
                operation["requestBody"]["content"]["application/json"]["schema"] =
                    json!({"$ref": "#/components/schemas/DatasetRecordPatchBody"});
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
            "Idempotency-Key" => {
                schema["type"] = json!("string");
                // Empty counts as no key.
                schema["pattern"] =
                    json!("^$|^\"([\\x20\\x21\\x23-\\x5B\\x5D-\\x7E]|\\\\[\"\\\\]){1,255}\"$");
            }
            "outcome" => schema["pattern"] = json!("^[0-9]{1,9}(,[0-9]{1,9})*$"),
            "agent" => schema["pattern"] = json!("^[A-Za-z0-9_.\\-]{1,64}$"),
            "phone" => {
                schema["minLength"] = json!(6);
                schema["maxLength"] = json!(20);
                schema["pattern"] = json!(PHONE);
            }
            "from" | "to" => schema["format"] = json!("date"),
            _ if name.starts_with("search[") => {
                schema["minLength"] = json!(1);
                schema["maxLength"] = json!(MAX_SEARCH_CHARS);
                schema["pattern"] = json!(TEXT);
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
