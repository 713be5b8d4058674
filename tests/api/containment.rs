//! What one caller, or a lying upstream, must not be able to do to everyone: open the circuit
//! breaker with oversized reads, make every probe resend refused credentials, show a row of
//! another dataset, or smuggle text the wire cannot carry.

use std::time::Duration;

use ecnow_gateway::emulator::EmulatorConfig;
use ecnow_gateway::upstream::breaker::BreakerSettings;
use ecnow_gateway::upstream::{AUTH_RETRY_INTERVAL, WireFormat};
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::json;
use wiremock::matchers::{path, query_param, query_param_is_missing};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{
    API_USER, AppOptions, ecnow_requests, json_of, mount_ecnow, mount_token, problem_of, spawn_app,
    spawn_app_with, spawn_app_with_mock, token_for,
};

#[tokio::test]
async fn reads_over_the_search_cap_or_the_url_budget_are_400_and_send_nothing() {
    let app = spawn_app().await;
    let searches = |count: usize, value: &str| {
        (1..=count)
            .map(|n| format!("search[c{n}]={value}"))
            .collect::<Vec<_>>()
            .join("&")
    };
    // The red team's read: 100 searches of 255 characters, about 27 KB.
    let long = "x".repeat(255);
    let problem = problem_of(
        app.get(&format!("/datasets/100/records?{}", searches(100, &long)))
            .await,
        400,
    )
    .await;
    assert!(
        problem["detail"].as_str().unwrap().contains("at most 20"),
        "{problem}"
    );
    problem_of(
        app.get(&format!("/datasets/100/records?{}", searches(21, "a")))
            .await,
        400,
    )
    .await;
    // Twenty searches of 255 two-byte characters: each value is 1530 bytes percent-encoded.
    let wide = "%C3%A9".repeat(255);
    let problem = problem_of(
        app.get(&format!(
            "/campaigns/sandbox_campaign/records?{}",
            searches(20, &wide)
        ))
        .await,
        400,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "query", "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("8192-byte budget"),
        "{problem}"
    );
    problem_of(
        app.get(&format!(
            "/datasets/100/records?search[last_name]={}",
            "x".repeat(256)
        ))
        .await,
        400,
    )
    .await;
    let calls = app.emulator().calls();
    assert_eq!((calls.read, calls.token_get), (0, 0), "{calls:?}");
}

#[tokio::test]
async fn upstream_4xx_answers_never_open_the_circuit_breaker() {
    let app = spawn_app_with(AppOptions {
        emulator: None,
        breaker: BreakerSettings {
            failures: 2,
            cooldown: Duration::from_secs(10),
        },
        ..AppOptions::default()
    })
    .await;
    mount_token(app.mock(), 1).await;
    Mock::given(path("/ecnow.php"))
        .and(query_param("action", "read"))
        .respond_with(ResponseTemplate::new(414))
        .mount(app.mock())
        .await;
    for _ in 0..5 {
        let problem = problem_of(app.get("/datasets/100/records?limit=1").await, 502).await;
        assert_eq!(problem["code"], "upstream_failed");
    }
    assert_eq!(
        ecnow_requests(app.mock()).await.len(),
        5,
        "every read reached the upstream: the breaker stayed closed"
    );
    let ready = json_of(app.http.get(app.url("/readyz")).send().await.unwrap(), 200).await;
    assert_eq!(ready["status"], "ready");
    assert!(
        app.metrics_text()
            .await
            .contains("ecnow_gateway_upstream_circuit_state 0")
    );
}

#[tokio::test]
async fn refused_credentials_are_asked_again_at_most_once_per_interval() {
    let app = spawn_app_with(AppOptions {
        emulator: Some(EmulatorConfig {
            username: API_USER.into(),
            api_key: "a-revoked-key".into(),
            ..EmulatorConfig::default()
        }),
        ..AppOptions::default()
    })
    .await;
    let probes = join_all((0..50).map(|_| app.http.get(app.url("/readyz")).send())).await;
    for probe in probes {
        let problem = problem_of(probe.unwrap(), 503).await;
        assert_eq!(problem["code"], "upstream_auth_failed", "{problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains("credentials"),
            "/readyz says why: {problem}"
        );
    }
    let read = app.get("/datasets/100/records").await;
    assert_eq!(read.headers()["retry-after"], "10");
    let answers = [
        read,
        app.get("/datasets/100/records/550000").await,
        app.post(
            "/datasets/100/records",
            &json!({"mobile_phone": "07123456789"}),
        )
        .await,
        app.patch("/datasets/100/records/550000", &json!({"notes": "x"}))
            .await,
    ];
    for answer in answers {
        let problem = problem_of(answer, 503).await;
        assert_eq!(problem["code"], "upstream_auth_failed", "{problem}");
    }
    let calls = app.emulator().calls();
    assert_eq!(
        calls.token_get, 1,
        "one refusal serves every probe and caller: {calls:?}"
    );
    assert_eq!(
        (calls.read, calls.create, calls.update),
        (0, 0, 0),
        "{calls:?}"
    );

    tokio::time::sleep(AUTH_RETRY_INTERVAL + Duration::from_millis(200)).await;
    for _ in 0..5 {
        let probe = app.http.get(app.url("/readyz")).send().await.unwrap();
        problem_of(probe, 503).await;
    }
    assert_eq!(
        app.emulator().calls().token_get,
        2,
        "asked again once the interval passed, and once only"
    );
}

#[tokio::test]
async fn rows_of_another_dataset_are_never_shown_nor_let_an_update_through() {
    let app = spawn_app_with_mock().await;
    mount_token(app.mock(), 1).await;
    let row = |id: &str, dataset: &str| json!({"id": id, "datasetid": dataset, "FirstName": "Joe"});
    // A lying upstream: an `id` search overrides the dataset filter.
    Mock::given(path("/ecnow.php"))
        .and(query_param("action", "read"))
        .and(query_param("id", "777"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"success": true, "total": 1, "list": [row("777", "200")]})),
        )
        .mount(app.mock())
        .await;
    Mock::given(path("/ecnow.php"))
        .and(query_param("action", "read"))
        .and(query_param_is_missing("id"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "success": true, "total": 3,
            "list": [row("550000", "100"), row("777", "200"), row("550001", "100")],
        })))
        .mount(app.mock())
        .await;
    mount_ecnow(
        app.mock(),
        "update",
        json!({"success": true, "total": 1}),
        0,
    )
    .await;

    let problem = problem_of(app.get("/datasets/100/records/777").await, 404).await;
    assert_eq!(problem["code"], "not_found");
    let list = json_of(app.get("/datasets/100/records").await, 200).await;
    let shown: Vec<(u64, u64)> = list["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_u64().unwrap(), r["dataset_id"].as_u64().unwrap()))
        .collect();
    assert_eq!(shown, [(550000, 100), (550001, 100)]);
    assert_eq!(list["total"], 2, "total less the dropped row");

    let dataset_100 = token_for("records:read records:write", Some(vec![100]), None);
    for (route, body) in [
        ("/records/777", json!({"dataset": 100, "notes": "mine now"})),
        ("/datasets/100/records/777", json!({"notes": "mine now"})),
    ] {
        let response = app
            .send(Method::PATCH, route, Some(&dataset_100), Some(&body))
            .await;
        problem_of(response, 404).await;
    }
    let metrics = app.metrics_text().await;
    assert!(
        metrics
            .lines()
            .any(|line| line == "ecnow_gateway_upstream_foreign_rows_total 4"),
        "{metrics}"
    );
}

#[tokio::test]
async fn query_text_that_is_not_utf8_is_400_never_rewritten() {
    let app = spawn_app().await;
    for (query, field) in [
        ("search[last_name]=%FF%FE", "search[last_name]"),
        ("search%5Blast_name%5D=Bl%C3", "search[last_name]"),
        ("agent=%C3", "agent"),
        ("search%5B%FF%5D=x", "query"),
        ("limit=5&%FE=1", "query"),
    ] {
        let problem = problem_of(
            app.get(&format!("/datasets/100/records?{query}")).await,
            400,
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], field, "{query}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains("UTF-8"),
            "{query}: {problem}"
        );
    }
    let calls = app.emulator().calls();
    assert_eq!((calls.read, calls.token_get), (0, 0), "{calls:?}");
}

/// Every text field of creates and updates, and search values, refuse what XML 1.0 cannot carry,
/// in both formats alike, before anything is sent.
async fn text_the_wire_cannot_carry_is_refused_before_sending(format: WireFormat) {
    let app = spawn_app_with(AppOptions {
        format,
        ..AppOptions::default()
    })
    .await;
    let phone = "07123456789";
    for (body, field) in [
        (
            json!({"first_name": "Joe\u{FFFF}", "mobile_phone": phone}),
            "first_name",
        ),
        (
            json!({"notes": "a\u{FFFE}b", "mobile_phone": phone}),
            "notes",
        ),
        (
            json!({"last_name": "\u{FDD0}", "mobile_phone": phone}),
            "last_name",
        ),
        (
            json!({"address1": "\u{1FFFF}", "mobile_phone": phone}),
            "address1",
        ),
        (
            json!({"postcode": "\u{1b}[2J", "mobile_phone": phone}),
            "postcode",
        ),
        (
            json!({"custom": {"company_name": "ACME\u{FFFF}"}, "mobile_phone": phone}),
            "custom.company_name",
        ),
        (
            json!([{"mobile_phone": phone}, {"title": "\u{FFFF}", "mobile_phone": phone}]),
            "[1].title",
        ),
    ] {
        let problem = problem_of(app.post("/datasets/100/records", &body).await, 422).await;
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
        assert!(
            problem["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("noncharacters"),
            "{problem}"
        );
    }
    for (route, body) in [
        (
            "/datasets/100/records/550000",
            json!({"notes_append": "\u{FFFF}"}),
        ),
        (
            "/datasets/100/records/550000",
            json!({"first_name": "x\u{FDEF}"}),
        ),
        (
            "/records/550000",
            json!({"dataset": 100, "custom": {"company_name": "\u{10FFFE}"}}),
        ),
    ] {
        problem_of(app.patch(route, &body).await, 422).await;
    }
    for query in ["search[last_name]=%EF%BF%BF", "search[company_name]=a%07b"] {
        problem_of(
            app.get(&format!("/datasets/100/records?{query}")).await,
            400,
        )
        .await;
    }
    let calls = app.emulator().calls();
    assert_eq!(
        (calls.create, calls.update, calls.read, calls.token_get),
        (0, 0, 0, 0),
        "nothing reached the upstream: {calls:?}"
    );
}

#[tokio::test]
async fn text_the_wire_cannot_carry_is_refused_over_json() {
    text_the_wire_cannot_carry_is_refused_before_sending(WireFormat::Json).await;
}

#[tokio::test]
async fn text_the_wire_cannot_carry_is_refused_over_xml() {
    text_the_wire_cannot_carry_is_refused_before_sending(WireFormat::Xml).await;
}
