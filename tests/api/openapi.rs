//! The OpenAPI document: generated from the handlers, committed, served, with Swagger UI.

use serde_json::{Value, json};

use crate::helpers::{full_token, json_of, spawn_app, token_for};

/// `schema` with a top-level `$ref` replaced by the component it names.
fn resolved<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.trim_start_matches("#/components/schemas/");
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// Whether `answer` has every field one of the alternatives of `schema` requires (a `oneOf`,
/// or the schema itself), and only fields that alternative names.
fn fits_one_of(doc: &Value, schema: &Value, answer: &Value) -> bool {
    let alternatives = match schema["oneOf"].as_array() {
        Some(alternatives) => alternatives.iter().collect(),
        None => vec![schema],
    };
    let fields = answer.as_object().expect("a JSON object");
    alternatives.into_iter().any(|alternative| {
        let alternative = resolved(doc, alternative);
        let properties = alternative["properties"].as_object().expect("properties");
        let required = alternative["required"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        required
            .iter()
            .all(|name| fields.contains_key(name.as_str().expect("a field name")))
            && fields.keys().all(|name| properties.contains_key(name))
    })
}

#[tokio::test]
async fn the_committed_document_matches_the_generated_one() {
    let generated = ecnow_gateway::api::openapi::document_json();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(path).expect("openapi/openapi.json is committed");
    assert!(
        committed == generated,
        "openapi/openapi.json is stale: run `cargo run -- openapi > openapi/openapi.json`"
    );
}

#[tokio::test]
async fn the_document_and_swagger_ui_are_served() {
    let app = spawn_app().await;
    let served = json_of(
        app.http.get(app.url("/openapi.json")).send().await.unwrap(),
        200,
    )
    .await;
    let generated: Value =
        serde_json::from_str(&ecnow_gateway::api::openapi::document_json()).unwrap();
    assert_eq!(served, generated);
    for path in [
        "/datasets/{dataset}/records",
        "/datasets/{dataset}/records/{id}",
        "/records/{id}",
        "/campaigns/{table}/records",
        "/campaigns/{table}/records/{id}",
    ] {
        assert!(served["paths"][path].is_object(), "{path} is documented");
    }
    assert_eq!(
        served["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );

    let redirect = app.http.get(app.url("/swagger-ui")).send().await.unwrap();
    assert_eq!(redirect.status(), 301);
    assert_eq!(redirect.headers()["location"], "/swagger-ui/");
    let page = app.http.get(app.url("/swagger-ui/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("swagger-ui"));
    let config = app
        .http
        .get(app.url("/swagger-ui/swagger-initializer.js"))
        .send()
        .await
        .unwrap();
    assert!(config.text().await.unwrap().contains("/openapi.json"));
}

#[tokio::test]
async fn the_patch_routes_document_the_bodies_they_take_and_the_answers_they_give() {
    let app = spawn_app().await;
    let doc = json_of(
        app.http.get(app.url("/openapi.json")).send().await.unwrap(),
        200,
    )
    .await;

    // PATCH /datasets/{dataset} documents the dataset's fields, and its own example is a body
    // the route takes and the schema's bounds allow.
    let operation = &doc["paths"]["/datasets/{dataset}"]["patch"];
    let body = resolved(
        &doc,
        &operation["requestBody"]["content"]["application/json"]["schema"],
    );
    let properties = body["properties"].as_object().expect("properties");
    for field in ["status", "priority", "description", "notes"] {
        assert!(properties.contains_key(field), "{field} in {body}");
    }
    assert!(!properties.contains_key("first_name"), "{body}");
    let example = &body["example"];
    let count = example.as_object().expect("an example").len() as u64;
    assert!(
        body["minProperties"]
            .as_u64()
            .is_some_and(|min| count >= min),
        "{body}"
    );
    assert!(
        body["maxProperties"]
            .as_u64()
            .is_none_or(|max| count <= max),
        "{body}"
    );
    let token = token_for("records:read datasets:write", None, None);
    let changed = app
        .send(
            reqwest::Method::PATCH,
            "/datasets/400",
            Some(&token),
            Some(example),
        )
        .await;
    let changed = json_of(changed, 200).await;
    assert!(
        fits_one_of(
            &doc,
            &operation["responses"]["200"]["content"]["application/json"]["schema"],
            &changed
        ),
        "{changed}"
    );

    // Both record PATCH routes document both of their 200 answers: the short one and, with
    // `Prefer: return=representation`, the record.
    for (path, documented, body) in [
        (
            "/datasets/100/records/550000",
            "/datasets/{dataset}/records/{id}",
            json!({"notes": "x"}),
        ),
        (
            "/records/550001",
            "/records/{id}",
            json!({"dataset": 100, "notes": "y"}),
        ),
    ] {
        let schema = &doc["paths"][documented]["patch"]["responses"]["200"]["content"]["application/json"]
            ["schema"];
        for prefer in [None, Some("return=representation")] {
            let mut request = app
                .http
                .patch(app.url(path))
                .bearer_auth(full_token())
                .json(&body);
            if let Some(prefer) = prefer {
                request = request.header("Prefer", prefer);
            }
            let answer = json_of(request.send().await.unwrap(), 200).await;
            assert!(
                fits_one_of(&doc, schema, &answer),
                "PATCH {path} (Prefer {prefer:?}) answered {answer}, which {schema} does not describe"
            );
        }
    }
}
