//! The OpenAPI document: generated from the handlers, committed, served, with Swagger UI.

use serde_json::Value;

use crate::helpers::{json_of, spawn_app};

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
