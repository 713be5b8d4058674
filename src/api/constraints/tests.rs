//! Every bound and pattern the document states, read from the generated document and run
//! through the parser it describes: the document cannot drift from `domain`.

use regex::Regex;
use serde_json::{Value, json};

use crate::domain::value::is_wire_text;
use crate::domain::{
    BodyTarget, Column, ColumnKind, CustomFieldName, DatasetId, NewRecord, Phone, ReadFilter,
    RecordId, RecordPatch, TableName,
};

fn number(value: &Value) -> usize {
    usize::try_from(value.as_u64().expect("a bound")).expect("a small bound")
}

fn pattern(schema: &Value) -> Regex {
    Regex::new(schema["pattern"].as_str().expect("a pattern")).expect("a valid pattern")
}

fn parameter<'a>(doc: &'a Value, path: &str, method: &str, name: &str) -> &'a Value {
    doc["paths"][path][method]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .find(|parameter| parameter["name"] == name)
        .unwrap_or_else(|| panic!("{method} {path} documents {name}"))
}

fn read(query: &str) -> bool {
    ReadFilter::parse_query(query).is_ok()
}

#[test]
fn record_fields_take_exactly_the_documented_lengths_and_patterns() {
    let doc = crate::api::openapi::document();
    let schemas = &doc["components"]["schemas"];
    let create = schemas["NewRecordBody"]["properties"].as_object().unwrap();
    assert!(
        create
            .keys()
            .eq(schemas["DatasetRecordPatchBody"]["properties"]
                .as_object()
                .unwrap()
                .keys()),
        "creates and updates take the same fields"
    );
    for (name, schema) in create {
        let dialler = Column::from_name(name).is_some_and(|column| {
            matches!(
                column.kind(),
                ColumnKind::Code | ColumnKind::DateTime | ColumnKind::Reference | ColumnKind::Flag
            )
        });
        if name == "custom" || dialler {
            continue;
        }
        let is_phone = schema.get("minLength").is_some();
        let fill = |n: usize| if is_phone { "0" } else { "x" }.repeat(n);
        let anchor = if name == "mobile_phone" {
            "home_phone"
        } else {
            "mobile_phone"
        };
        let accepted = |value: String| {
            let mut record = json!({anchor: "07123456789"});
            record[name.as_str()] = json!(value);
            let patched =
                RecordPatch::parse_body(&json!({name.as_str(): value}), BodyTarget::FromPath);
            let created = NewRecord::parse_body(&record).is_ok();
            assert_eq!(created, patched.is_ok(), "{name}");
            patched.is_ok()
        };
        let max = number(&schema["maxLength"]);
        assert!(accepted(fill(max)), "{name} of {max}");
        assert!(!accepted(fill(max + 1)), "{name} of {}", max + 1);
        if is_phone {
            let min = number(&schema["minLength"]);
            assert!(accepted(fill(min)), "{name} of {min}");
            assert!(!accepted(fill(min - 1)), "{name} of {}", min - 1);
        }
        let documented = pattern(schema);
        let examples = [
            "+44 (0)7123-456789",
            "07123456789",
            "((((((",
            "------1",
            "0712345678a",
            "Joe Blogs",
            "a\tb\r\nc",
            "Zoë 東京 🙂",
            "a\u{1}bcdefg",
            "\u{1b}[0m123",
            "abc\u{7f}def",
            "abc\u{85}def",
            "abc\u{FFFE}def",
            "abc\u{FDD0}def",
        ];
        for example in examples {
            let parsed = if is_phone {
                Phone::parse(example).is_ok()
            } else {
                is_wire_text(example)
            };
            assert_eq!(documented.is_match(example), parsed, "{name}: {example:?}");
        }
    }
    let names = pattern(&create["custom"]["propertyNames"]);
    for name in [
        format!("a{}", "b".repeat(63)),
        format!("a{}", "b".repeat(64)),
        "company_name".into(),
        "1abc".into(),
        "a-b".into(),
    ] {
        assert_eq!(
            names.is_match(&name),
            CustomFieldName::parse(&name).is_ok(),
            "{name}"
        );
    }
}

/// Whether a create with `field: value` (and a phone) and an update with it are accepted; they
/// must agree.
fn dialler_value_accepted(field: &str, value: Value) -> bool {
    let created = NewRecord::parse_body(&json!({"mobile_phone": "07123456789", field: value}));
    let patched = RecordPatch::parse_body(&json!({field: value}), BodyTarget::FromPath);
    assert_eq!(created.is_ok(), patched.is_ok(), "{field}: {value}");
    patched.is_ok()
}

#[test]
fn dialler_fields_take_exactly_the_documented_types_bounds_and_patterns() {
    let doc = crate::api::openapi::document();
    let fields = &doc["components"]["schemas"]["NewRecordBody"]["properties"];
    let outcome = &fields["outcome_code"];
    assert_eq!(outcome["type"], json!(["integer", "null"]));
    let (min, max) = (
        outcome["minimum"].as_u64().unwrap(),
        outcome["maximum"].as_u64().unwrap(),
    );
    for (code, valid) in [(min, true), (min - 1, false), (max, true), (max + 1, false)] {
        assert_eq!(
            dialler_value_accepted("outcome_code", json!(code)),
            valid,
            "{code}"
        );
    }
    for refused in [json!("200"), json!(200.5), json!(true)] {
        assert!(!dialler_value_accepted("outcome_code", refused));
    }
    for flag in ["callback_same_time", "agent_specific"] {
        assert_eq!(fields[flag]["type"], json!(["boolean", "null"]), "{flag}");
        assert!(dialler_value_accepted(flag, json!(false)));
        assert!(!dialler_value_accepted(flag, json!("1")), "{flag}");
    }
    let callback = pattern(&fields["callback_at"]);
    for example in [
        "2026-12-01T10:00:00",
        "2026-12-01 10:00:00",
        "2026-12-01T10:00",
        "2026-12-01T10:00:00Z",
        "2026-1-01T10:00:00",
        "x026-12-01T10:00:00",
    ] {
        assert_eq!(
            callback.is_match(example),
            dialler_value_accepted("callback_at", json!(example)),
            "callback_at {example}"
        );
    }
    // The pattern says the shape; a date that does not exist is refused too.
    assert!(!dialler_value_accepted(
        "callback_at",
        json!("2026-02-30T10:00:00")
    ));
    let agent = &fields["agent_ref"];
    let documented = pattern(agent);
    let longest = number(&agent["maxLength"]);
    assert_eq!(number(&agent["minLength"]), 1);
    for example in [
        "1".into(),
        "1001".into(),
        "0".into(),
        "000".into(),
        "007".into(),
        "a1".into(),
        "1 2".into(),
        String::new(),
        "9".repeat(longest),
        "9".repeat(longest + 1),
    ] {
        let documented = documented.is_match(&example) && example.len() <= longest;
        assert_eq!(
            documented,
            dialler_value_accepted("agent_ref", json!(example)),
            "agent_ref {example:?}"
        );
    }
    assert!(!dialler_value_accepted("agent_ref", json!(1001)));
}

#[test]
fn ids_batches_and_targets_take_exactly_the_documented_bounds() {
    let doc = crate::api::openapi::document();
    for (path, method, name) in [
        ("/datasets/{dataset}/records", "post", "dataset"),
        ("/datasets/{dataset}/records/{id}", "get", "id"),
        ("/records/{id}", "patch", "id"),
    ] {
        let schema = &parameter(&doc, path, method, name)["schema"];
        let (min, max) = (schema["minimum"].as_u64(), schema["maximum"].as_u64());
        let (min, max) = (min.unwrap(), max.unwrap());
        for (id, valid) in [(min, true), (min - 1, false), (max, true), (max + 1, false)] {
            let parsed = match name {
                "dataset" => DatasetId::parse(name, &id.to_string()).is_ok(),
                _ => RecordId::parse(name, &id.to_string()).is_ok(),
            };
            assert_eq!(parsed, valid, "{name} {id}");
        }
    }
    let schemas = &doc["components"]["schemas"];
    let dataset = &schemas["RecordPatchBody"]["properties"]["dataset"];
    let max = dataset["maximum"].as_u64().unwrap();
    for (id, valid) in [(max, true), (max + 1, false), (0, false)] {
        let body = json!({"dataset": id, "notes": "x"});
        let parsed = RecordPatch::parse_body(&body, BodyTarget::Required).is_ok();
        assert_eq!(parsed, valid, "dataset {id}");
    }
    let table = pattern(&schemas["RecordPatchBody"]["properties"]["table"]);
    let in_path = pattern(&parameter(&doc, "/campaigns/{table}/records", "get", "table")["schema"]);
    for name in [
        "a".repeat(64),
        "a".repeat(65),
        String::new(),
        "a-b".into(),
        "t_1".into(),
    ] {
        let parsed = TableName::parse("table", &name).is_ok();
        assert_eq!(table.is_match(&name), parsed, "{name}");
        assert_eq!(in_path.is_match(&name), parsed, "{name}");
    }
    let batch = &schemas["CreateBody"]["oneOf"][1];
    let record = json!({"mobile_phone": "07123456789"});
    for (count, valid) in [
        (number(&batch["minItems"]), true),
        (number(&batch["minItems"]) - 1, false),
        (number(&batch["maxItems"]), true),
        (number(&batch["maxItems"]) + 1, false),
    ] {
        let body = Value::Array(vec![record.clone(); count]);
        assert_eq!(
            NewRecord::parse_body(&body).is_ok(),
            valid,
            "{count} records"
        );
    }
}

#[test]
fn read_parameters_take_exactly_the_documented_bounds_and_patterns() {
    let doc = crate::api::openapi::document();
    let get = |name| &parameter(&doc, "/datasets/{dataset}/records", "get", name)["schema"];
    let limit = get("limit");
    let (min, max) = (number(&limit["minimum"]), number(&limit["maximum"]));
    assert!(read(&format!("limit={min}")) && read(&format!("limit={max}")));
    assert!(!read(&format!("limit={}", min - 1)) && !read(&format!("limit={}", max + 1)));

    let search = parameter(
        &doc,
        "/datasets/{dataset}/records",
        "get",
        "search[last_name]",
    );
    let longest = number(&search["schema"]["maxLength"]);
    assert_eq!(number(&search["schema"]["minLength"]), 1);
    assert!(!read("search[last_name]="));
    assert!(read(&format!("search[last_name]={}", "x".repeat(longest))));
    assert!(!read(&format!(
        "search[last_name]={}",
        "x".repeat(longest + 1)
    )));
    let description = search["description"].as_str().unwrap();
    let most: usize = Regex::new(r"At most (\d+) `search")
        .unwrap()
        .captures(description)
        .expect("the search cap is documented")[1]
        .parse()
        .unwrap();
    let searches = |count: usize| {
        (1..=count)
            .map(|n| format!("search[c{n}]=a"))
            .collect::<Vec<_>>()
            .join("&")
    };
    assert!(read(&searches(most)) && !read(&searches(most + 1)));

    let phone = get("phone");
    let (shortest, longest) = (number(&phone["minLength"]), number(&phone["maxLength"]));
    assert!(read(&format!("phone={}", "0".repeat(shortest))));
    assert!(read(&format!("phone={}", "0".repeat(longest))));
    assert!(!read(&format!("phone={}", "0".repeat(shortest - 1))));
    assert!(!read(&format!("phone={}", "0".repeat(longest + 1))));

    let cases: [(&str, &[&str]); 5] = [
        (
            "phone",
            &[
                "%2B44%20(0)7123-456789",
                "0712345678a",
                "%28%28%28%28%28%28",
            ],
        ),
        (
            "agent",
            &[
                "7",
                "agent_7.a-b",
                "a%20b",
                &"a".repeat(64),
                &"a".repeat(65),
            ],
        ),
        ("outcome", &["100", "100,200", "1,a", ",100"]),
        (
            "from",
            &[
                "2019-01-07",
                "2019-01-07T10:15",
                "2019-01-07T10:15:00",
                "2019-01-07 10:15:00",
                "2019-01-07T10:15:00Z",
                "07/01/2019",
            ],
        ),
        (
            "to",
            &["2019-01-31", "2019-01-31T23:59:59", "2019-01-31T23"],
        ),
    ];
    for (name, examples) in cases {
        let schema = get(name);
        assert!(schema.get("format").is_none(), "{name} has no format");
        let documented = pattern(schema);
        for example in examples {
            let decoded = percent_encoding::percent_decode_str(example)
                .decode_utf8()
                .unwrap();
            assert_eq!(
                documented.is_match(&decoded),
                read(&format!("{name}={example}")),
                "{name}={example}"
            );
        }
    }
}
