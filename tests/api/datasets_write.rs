//! Dataset writes: `POST /datasets` and `PATCH /datasets/{dataset}`, against the emulator and a
//! wiremock upstream whose payloads are asserted exactly.

use reqwest::Method;
use serde_json::{Value, json};
use wiremock::matchers::{path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;

/// Read scope plus the dataset write scope, on everything.
fn dataset_writer() -> String {
    token_for("records:read datasets:write", None, None)
}

async fn mount_datasets(server: &MockServer, action: &str, body: Value, times: u64) {
    Mock::given(path("/ecnow.php"))
        .and(query_param("method", "ecnow_datasets"))
        .and(query_param("action", action))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .expect(times)
        .named(format!("ecnow_datasets {action}"))
        .mount(server)
        .await;
}

async fn mount_no_tables(server: &MockServer) {
    Mock::given(path("/ecnow.php"))
        .and(query_param("method", "campaign_tables"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"success": true, "list": []})),
        )
        .named("campaign_tables read")
        .mount(server)
        .await;
}

fn dataset_row(id: &str, status: &str, priority: &str) -> Value {
    json!({"dataset": id, "qid": "75674454", "d_status": status, "d_priority": priority,
        "notes": "n", "callbacks": "none", "description": "d", "locked": "0"})
}

#[tokio::test]
async fn a_created_dataset_is_201_with_location_and_the_dataset_read_back_on_hold() {
    let app = spawn_app().await;
    let token = dataset_writer();
    let body = json!({"queue_id": 75674454, "description": "Spring renewals", "notes": "batch 7"});
    let response = app
        .send(Method::POST, "/datasets", Some(&token), Some(&body))
        .await;
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created = json_of(response, 201).await;
    let id = created["id"].as_u64().unwrap();
    assert_eq!(location, format!("/datasets/{id}"));
    assert_eq!(created["status"], "hold");
    assert_eq!(created["priority"], 0);
    assert_eq!(created["queue_id"], 75674454);
    assert_eq!(created["description"], "Spring renewals");
    assert_eq!(created["notes"], "batch 7");
    let read = json_of(app.get(&location).await, 200).await;
    assert_eq!(read, created);
}

#[tokio::test]
async fn patch_puts_a_dataset_live_with_a_priority_and_later_reads_see_it() {
    let app = spawn_app().await;
    let token = dataset_writer();
    // Warm the cache with the held dataset 400 first: the write must not be hidden by it.
    let before = json_of(app.get("/datasets/400").await, 200).await;
    assert_eq!(before["status"], "hold");
    let body = json!({"status": "live", "priority": 50});
    let changed = json_of(
        app.send(Method::PATCH, "/datasets/400", Some(&token), Some(&body))
            .await,
        200,
    )
    .await;
    assert_eq!(changed["status"], "live");
    assert_eq!(changed["priority"], 50);
    let read = json_of(app.get("/datasets/400").await, 200).await;
    assert_eq!(read["status"], "live");
    let live = json_of(app.get("/datasets?status=live").await, 200).await;
    assert!(
        live["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["id"] == 400)
    );
}

#[tokio::test]
async fn writes_without_datasets_write_are_403_and_a_limited_token_cannot_create() {
    let app = spawn_app().await;
    let body = json!({"queue_id": 75674454});
    let records_only = full_token();
    let response = app
        .send(Method::POST, "/datasets", Some(&records_only), Some(&body))
        .await;
    let problem = problem_of(response, 403).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("datasets:write")
    );
    let patch = json!({"status": "live"});
    problem_of(
        app.send(
            Method::PATCH,
            "/datasets/400",
            Some(&records_only),
            Some(&patch),
        )
        .await,
        403,
    )
    .await;
    let limited = token_for("records:read datasets:write", Some(vec![400]), None);
    problem_of(
        app.send(Method::POST, "/datasets", Some(&limited), Some(&body))
            .await,
        403,
    )
    .await;
    let calls = app.emulator().calls();
    assert_eq!(calls.other, 0, "nothing reached ContactNow's datasets");
}

#[tokio::test]
async fn a_limited_caller_may_patch_only_its_datasets() {
    let app = spawn_app().await;
    let limited = token_for("records:read datasets:write", Some(vec![400]), None);
    let patch = json!({"priority": 10});
    let own = json_of(
        app.send(Method::PATCH, "/datasets/400", Some(&limited), Some(&patch))
            .await,
        200,
    )
    .await;
    assert_eq!(own["priority"], 10);
    problem_of(
        app.send(Method::PATCH, "/datasets/100", Some(&limited), Some(&patch))
            .await,
        403,
    )
    .await;
    let other = json_of(app.get("/datasets/100").await, 200).await;
    assert_ne!(other["priority"], 10);
}

#[tokio::test]
async fn an_expired_dataset_is_409_and_no_update_is_sent() {
    let app = spawn_app_with_mock().await;
    let server = app.mock();
    mount_token(server, 1).await;
    mount_no_tables(server).await;
    mount_datasets(
        server,
        "read",
        json!({"success": true, "total": 1, "list": [dataset_row("300", "EXPIRED", "0")]}),
        1,
    )
    .await;
    mount_datasets(server, "update", json!({"success": true, "total": 1}), 0).await;
    let problem = problem_of(
        app.send(
            Method::PATCH,
            "/datasets/300",
            Some(&dataset_writer()),
            Some(&json!({"status": "live"})),
        )
        .await,
        409,
    )
    .await;
    assert!(problem["detail"].as_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn an_expired_dataset_of_the_emulator_stays_expired() {
    let app = spawn_app().await;
    let response = app
        .send(
            Method::PATCH,
            "/datasets/300",
            Some(&dataset_writer()),
            Some(&json!({"status": "live"})),
        )
        .await;
    problem_of(response, 409).await;
    let read = json_of(app.get("/datasets/300").await, 200).await;
    assert_eq!(read["status"], "expired");
}

#[tokio::test]
async fn invalid_dataset_writes_are_422_or_400_and_nothing_is_sent() {
    let app = spawn_app().await;
    let token = dataset_writer();
    for (method, route, body, field) in [
        (
            Method::PATCH,
            "/datasets/400",
            json!({"priority": 91}),
            "priority",
        ),
        (
            Method::PATCH,
            "/datasets/400",
            json!({"status": "open"}),
            "status",
        ),
        (
            Method::PATCH,
            "/datasets/400",
            json!({"colour": "red"}),
            "colour",
        ),
        (Method::PATCH, "/datasets/400", json!({}), "body"),
        (
            Method::POST,
            "/datasets",
            json!({"description": "x"}),
            "queue_id",
        ),
        (
            Method::POST,
            "/datasets",
            json!({"queue_id": 1, "priority": -1}),
            "priority",
        ),
        (
            Method::POST,
            "/datasets",
            json!({"queue_id": 1, "status": "expired"}),
            "status",
        ),
        (
            Method::POST,
            "/datasets",
            json!({"queue_id": 1, "qid": 2}),
            "qid",
        ),
    ] {
        let problem = problem_of(
            app.send(method.clone(), route, Some(&token), Some(&body))
                .await,
            422,
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], field, "{method} {body}");
    }
    problem_of(
        app.send(
            Method::POST,
            "/datasets?dry_run=1",
            Some(&token),
            Some(&json!({"queue_id": 1})),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(app.emulator().calls().other, 0);
}

#[tokio::test]
async fn dataset_writes_send_the_exact_upstream_payloads() {
    let app = spawn_app_with_mock().await;
    let server = app.mock();
    mount_token(server, 1).await;
    mount_no_tables(server).await;
    mount_datasets(
        server,
        "create",
        json!({"success": true, "total": 1, "bad": 0, "key": 351}),
        1,
    )
    .await;
    mount_datasets(
        server,
        "update",
        json!({"success": true, "total": 1, "bad": 0}),
        1,
    )
    .await;
    mount_datasets(
        server,
        "read",
        json!({"success": true, "total": 1, "list": [dataset_row("351", "HOLD", "0")]}),
        3,
    )
    .await;
    let token = dataset_writer();
    let create = json!({"queue_id": 75674454, "description": "MyNumber", "status": "hold",
        "priority": 0, "notes": "Loaded"});
    let response = app
        .send(Method::POST, "/datasets", Some(&token), Some(&create))
        .await;
    assert_eq!(response.headers()["location"], "/datasets/351");
    json_of(response, 201).await;
    let patch = json!({"status": "live", "priority": 90, "notes": "go"});
    json_of(
        app.send(Method::PATCH, "/datasets/351", Some(&token), Some(&patch))
            .await,
        200,
    )
    .await;
    let writes: Vec<(String, Value)> = ecnow_requests(server)
        .await
        .into_iter()
        .filter(|(query, _)| query.contains("action=create") || query.contains("action=update"))
        .map(|(query, body)| (query, serde_json::from_str(&body).unwrap()))
        .collect();
    assert_eq!(writes.len(), 2);
    assert!(writes[0].0.contains("method=ecnow_datasets&action=create"));
    assert_eq!(
        writes[0].1,
        json!([{"qid": "75674454", "description": "MyNumber", "d_status": "HOLD",
            "d_priority": "0", "notes": "Loaded"}])
    );
    assert!(writes[1].0.contains("method=ecnow_datasets&action=update"));
    assert_eq!(
        writes[1].1,
        json!([{"dataset": "351", "d_status": "LIVE", "d_priority": "90", "notes": "go"}])
    );
}

#[tokio::test]
async fn a_dataset_create_retried_with_its_idempotency_key_creates_once() {
    let app = spawn_app().await;
    let token = dataset_writer();
    let body = json!({"queue_id": 75674454, "description": "once"});
    let mut locations = Vec::new();
    for _ in 0..2 {
        let response = app
            .http
            .post(app.url("/datasets"))
            .bearer_auth(&token)
            .header("Idempotency-Key", "\"ds-once-1\"")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        locations.push(response.headers()["location"].to_str().unwrap().to_owned());
    }
    assert_eq!(locations[0], locations[1]);
    let list = json_of(app.get("/datasets").await, 200).await;
    let named_once = list["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["description"] == "once")
        .count();
    assert_eq!(named_once, 1);
}
