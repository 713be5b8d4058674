//! Operations: Prometheus metrics, readiness, and a graceful drain on stop.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{full_token, json_of, problem_of, spawn_app};

fn metric(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find(|line| line.starts_with(name_and_labels))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_count_requests_upstream_calls_and_tokens_with_bounded_labels() {
    let app = spawn_app().await;
    json_of(app.get("/datasets/100/records/550000").await, 200).await;
    json_of(app.get("/datasets/100/records/550000").await, 200).await;
    problem_of(app.get("/datasets/100/records/999999").await, 404).await;
    json_of(
        app.post(
            "/datasets/100/records",
            &json!({"mobile_phone": "07123456789"}),
        )
        .await,
        201,
    )
    .await;
    app.emulator().expire_tokens();
    json_of(app.get("/datasets/100/records?limit=1").await, 200).await;

    let response = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    let route = r#"ecnow_gateway_http_requests_total{method="GET",route="/datasets/{dataset}/records/{id}",status="200"}"#;
    assert_eq!(metric(&text, route), 2.0, "{text}");
    assert_eq!(
        metric(
            &text,
            r#"ecnow_gateway_http_requests_total{method="GET",route="/datasets/{dataset}/records/{id}",status="404"}"#
        ),
        1.0
    );
    assert_eq!(
        metric(
            &text,
            r#"ecnow_gateway_upstream_requests_total{action="create",outcome="ok"}"#
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            r#"ecnow_gateway_upstream_requests_total{action="read",outcome="token_refresh"}"#
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            r#"ecnow_gateway_upstream_token_fetches_total{outcome="ok"}"#
        ),
        2.0,
        "{text}"
    );
    assert!(
        metric(&text, "ecnow_gateway_upstream_token_cache_hits_total") >= 3.0,
        "{text}"
    );
    assert!(text.contains("ecnow_gateway_http_request_duration_seconds_bucket"));
    assert!(text.contains("ecnow_gateway_upstream_request_duration_seconds_bucket"));
    assert!(!text.contains("550000"), "no ids in labels");
    assert!(
        !text.contains(&app.emulator().current_token().unwrap()),
        "no tokens in labels"
    );
}

#[tokio::test]
async fn a_stop_drains_in_flight_requests_and_turns_readiness_off() {
    let app = spawn_app().await;
    json_of(app.get("/readyz").await, 200).await;
    app.emulator().set_latency(Duration::from_millis(600));
    let before = app.emulator().records_in_dataset(100);
    let create = {
        let request = app
            .http
            .post(app.url("/datasets/100/records"))
            .bearer_auth(full_token())
            .json(&json!({"mobile_phone": "07123456789"}));
        tokio::spawn(request.send())
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    let stopper = app.stopper.clone();
    let stopped = tokio::spawn(async move { stopper.stop().await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    // New connections are refused while the in-flight create finishes.
    let fresh = reqwest::Client::new().get(app.url("/readyz")).send().await;
    assert!(fresh.is_err() || fresh.unwrap().status() == 503);
    let response = create
        .await
        .unwrap()
        .expect("the in-flight create got its answer");
    json_of(response, 201).await;
    tokio::time::timeout(Duration::from_secs(5), stopped)
        .await
        .expect("the server stopped")
        .unwrap();
    assert_eq!(
        app.emulator().records_in_dataset(100),
        before + 1,
        "created once, not replayed"
    );
    assert_eq!(app.emulator().calls().create, 1);
}
