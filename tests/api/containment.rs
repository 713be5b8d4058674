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
    API_USER, AppOptions, TestApp, ecnow_requests, json_of, mount_ecnow, mount_token, problem_of,
    spawn_app, spawn_app_with, spawn_app_with_mock, token_for,
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
        .and(query_param("method", "ecnow_records"))
        .and(query_param("action", "read"))
        .and(query_param("id", "777"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"success": true, "total": 1, "list": [row("777", "200")]})),
        )
        .mount(app.mock())
        .await;
    Mock::given(path("/ecnow.php"))
        .and(query_param("method", "ecnow_records"))
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

/// The table the campaign tests read.
const TABLE: &str = "sandbox_campaign";

/// Mounts an `ecnow.php` `ecnow_datasets` read of [`TABLE`] answering `body` after `delay`,
/// expected `times` times.
async fn mount_table_datasets(app: &TestApp, body: serde_json::Value, delay: Duration, times: u64) {
    Mock::given(path("/ecnow.php"))
        .and(query_param("method", "ecnow_datasets"))
        .and(query_param("action", "read"))
        .and(query_param("table", TABLE))
        .and(query_param("raw", "1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(body)
                .set_delay(delay),
        )
        .expect(times)
        .named("ecnow_datasets read")
        .mount(app.mock())
        .await;
}

/// Mounts a lying `ecnow_records` read: an `id` search of 777 answers the record of dataset 200,
/// one of 550000 the record of dataset 100; a read without `id` answers rows of datasets 100
/// and 200.
async fn mount_lying_table_reads(app: &TestApp) {
    let row = |id: &str, dataset: &str| json!({"id": id, "datasetid": dataset, "FirstName": "Joe"});
    Mock::given(path("/ecnow.php"))
        .and(query_param("method", "ecnow_records"))
        .and(query_param("action", "read"))
        .and(query_param("id", "550000"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"success": true, "total": 1, "list": [row("550000", "100")]}),
            ),
        )
        .mount(app.mock())
        .await;
    Mock::given(path("/ecnow.php"))
        .and(query_param("method", "ecnow_records"))
        .and(query_param("action", "read"))
        .and(query_param("id", "777"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"success": true, "total": 1, "list": [row("777", "200")]})),
        )
        .mount(app.mock())
        .await;
    Mock::given(path("/ecnow.php"))
        .and(query_param("method", "ecnow_records"))
        .and(query_param("action", "read"))
        .and(query_param_is_missing("id"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "success": true, "total": 3,
            "list": [row("550000", "100"), row("777", "200"), row("550001", "100")],
        })))
        .mount(app.mock())
        .await;
}

/// The (id, dataset) pairs of a record list.
fn shown(list: &serde_json::Value) -> Vec<(u64, u64)> {
    list["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_u64().unwrap(), r["dataset_id"].as_u64().unwrap()))
        .collect()
}

/// The `ecnow.php` requests of `method` and `action` wiremock received.
async fn calls_of(app: &TestApp, method: &str, action: &str) -> usize {
    ecnow_requests(app.mock())
        .await
        .iter()
        .filter(|(query, _)| {
            query.contains(&format!("method={method}&"))
                && query.contains(&format!("action={action}&"))
        })
        .count()
}

#[tokio::test]
async fn rows_of_a_dataset_outside_the_table_are_never_shown_nor_let_a_table_update_through() {
    let app = spawn_app_with_mock().await;
    mount_token(app.mock(), 1).await;
    let dataset = |id: &str| json!({"dataset": id, "qid": "75674454", "d_status": "LIVE"});
    mount_table_datasets(
        &app,
        json!({"success": true, "total": 2, "list": [dataset("100"), dataset("351")]}),
        Duration::ZERO,
        1,
    )
    .await;
    mount_lying_table_reads(&app).await;
    mount_ecnow(
        app.mock(),
        "update",
        json!({"success": true, "total": 1}),
        0,
    )
    .await;

    let route = format!("/campaigns/{TABLE}/records");
    let problem = problem_of(app.get(&format!("{route}/777")).await, 404).await;
    assert_eq!(problem["code"], "not_found");
    let list = json_of(app.get(&route).await, 200).await;
    assert_eq!(shown(&list), [(550000, 100), (550001, 100)]);
    assert_eq!(list["total"], 2, "total less the dropped row");

    let table_only = token_for("records:read records:write", None, Some(vec![TABLE]));
    let record = json_of(
        app.send(
            Method::GET,
            &format!("{route}/550000"),
            Some(&table_only),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(record["id"], 550000, "{record}");
    let body = json!({"table": TABLE, "notes": "mine now"});
    let problem = problem_of(
        app.send(
            Method::PATCH,
            "/records/777",
            Some(&table_only),
            Some(&body),
        )
        .await,
        404,
    )
    .await;
    assert_eq!(problem["code"], "not_found");
    assert_eq!(calls_of(&app, "ecnow_records", "update").await, 0);

    let (query, _) = ecnow_requests(app.mock())
        .await
        .into_iter()
        .find(|(query, _)| query.contains("method=ecnow_datasets"))
        .unwrap();
    assert!(
        query.ends_with(
            "&method=ecnow_datasets&action=read&format=json&raw=1&table=sandbox_campaign"
        ),
        "{query}"
    );
    let metrics = app.metrics_text().await;
    for line in [
        "ecnow_gateway_upstream_foreign_rows_total 3",
        "ecnow_gateway_metadata_fetches_total{outcome=\"ok\"} 1",
        "ecnow_gateway_metadata_fetches_total{outcome=\"refused\"} 0",
        "ecnow_gateway_metadata_cache_hits_total 3",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line}\n{metrics}");
    }
}

#[tokio::test]
async fn concurrent_table_reads_share_one_dataset_list_fetch() {
    let app = spawn_app_with_mock().await;
    mount_token(app.mock(), 1).await;
    mount_table_datasets(
        &app,
        json!({"success": true, "total": 1, "list": [{"dataset": "100"}]}),
        Duration::from_millis(300),
        1,
    )
    .await;
    mount_lying_table_reads(&app).await;
    let route = format!("/campaigns/{TABLE}/records");
    let lists = join_all((0..20).map(|_| app.get(&route))).await;
    for response in lists {
        let list = json_of(response, 200).await;
        assert_eq!(shown(&list), [(550000, 100), (550001, 100)]);
    }
    assert_eq!(calls_of(&app, "ecnow_datasets", "read").await, 1);
    assert_eq!(calls_of(&app, "ecnow_records", "read").await, 20);
}

#[tokio::test]
async fn a_refused_dataset_list_shows_an_unlimited_caller_the_rows_and_a_table_limited_one_nothing()
{
    let app = spawn_app_with_mock().await;
    mount_token(app.mock(), 1).await;
    mount_table_datasets(
        &app,
        json!({"success": false, "error": "Bad argument: method"}),
        Duration::ZERO,
        1,
    )
    .await;
    mount_lying_table_reads(&app).await;
    mount_ecnow(
        app.mock(),
        "update",
        json!({"success": true, "total": 1}),
        0,
    )
    .await;
    let route = format!("/campaigns/{TABLE}/records");

    // A caller that may read every table sees what ContactNow answers, as before.
    let list = json_of(app.get(&route).await, 200).await;
    assert_eq!(shown(&list), [(550000, 100), (777, 200), (550001, 100)]);
    let record = json_of(app.get(&format!("{route}/777")).await, 200).await;
    assert_eq!(record["dataset_id"], 200);
    let reads_so_far = calls_of(&app, "ecnow_records", "read").await;
    assert_eq!(reads_so_far, 2);

    // A caller limited to the table is shown nothing, and its update is not sent.
    let table_only = token_for("records:read records:write", None, Some(vec![TABLE]));
    for path in [route.clone(), format!("{route}/550000")] {
        let problem = problem_of(
            app.send(Method::GET, &path, Some(&table_only), None).await,
            503,
        )
        .await;
        assert_eq!(problem["code"], "table_unchecked", "{problem}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("ecnow_datasets"),
            "{problem}"
        );
    }
    let body = json!({"table": TABLE, "notes": "x"});
    let problem = problem_of(
        app.send(
            Method::PATCH,
            "/records/550000",
            Some(&table_only),
            Some(&body),
        )
        .await,
        503,
    )
    .await;
    assert_eq!(problem["code"], "table_unchecked");
    assert_eq!(
        calls_of(&app, "ecnow_records", "read").await,
        reads_so_far,
        "nothing read for the limited caller"
    );
    assert_eq!(calls_of(&app, "ecnow_records", "update").await, 0);
    let metrics = app.metrics_text().await;
    assert!(
        metrics
            .lines()
            .any(|l| l == "ecnow_gateway_metadata_fetches_total{outcome=\"refused\"} 1"),
        "the refusal is kept, not asked again: {metrics}"
    );
}

async fn a_table_limited_caller_reads_its_table_in_the_sandbox(format: WireFormat) {
    let app = spawn_app_with(AppOptions {
        format,
        ..AppOptions::default()
    })
    .await;
    let table_only = token_for("records:read", None, Some(vec![TABLE]));
    let list = json_of(
        app.send(
            Method::GET,
            &format!("/campaigns/{TABLE}/records"),
            Some(&table_only),
            None,
        )
        .await,
        200,
    )
    .await;
    let shown = shown(&list);
    assert!(!shown.is_empty(), "{list}");
    assert!(
        shown
            .iter()
            .all(|(_, dataset)| [100, 200].contains(dataset)),
        "{shown:?}"
    );
    let metrics = app.metrics_text().await;
    assert!(
        metrics
            .lines()
            .any(|l| l == "ecnow_gateway_metadata_fetches_total{outcome=\"ok\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_table_limited_caller_reads_its_table_in_the_sandbox_over_json() {
    a_table_limited_caller_reads_its_table_in_the_sandbox(WireFormat::Json).await;
}

#[tokio::test]
async fn a_table_limited_caller_reads_its_table_in_the_sandbox_over_xml() {
    a_table_limited_caller_reads_its_table_in_the_sandbox(WireFormat::Xml).await;
}
