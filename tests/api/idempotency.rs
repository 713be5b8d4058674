//! `Idempotency-Key`: retries replay, never duplicate; the store is memory or a shared Redis.

use std::time::Duration;

use ecnow_gateway::emulator::Fault;
use ecnow_gateway::idempotency::IdempotencySettings;
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    AppOptions, TestApp, full_token, json_of, problem_of, spawn_app, spawn_app_with, start_redis,
};

async fn keyed(
    app: &TestApp,
    method: Method,
    path: &str,
    key: &str,
    body: &Value,
) -> reqwest::Response {
    app.http
        .request(method, app.url(path))
        .bearer_auth(full_token())
        .header("idempotency-key", format!("\"{key}\""))
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_thousand_creates_sent_up_to_three_times_make_a_thousand_records() {
    let app = spawn_app().await;
    let before = app.emulator().records_in_dataset(200);
    let sends = (0..1000u32).flat_map(|i| {
        let copies = 1 + i % 3;
        (0..copies).map(move |copy| (i, copy))
    });
    // Copies of one key go out together (concurrent) or after the first finished (sequential),
    // depending on how the stream interleaves them.
    let answers: Vec<(u32, u16, Option<u64>, bool)> = futures_util::stream::iter(sends)
        .map(|(i, _)| {
            let app = &app;
            async move {
                let body = json!({"first_name": format!("Idem{i}"), "mobile_phone": format!("0770{i:07}")});
                let response = keyed(app, Method::POST, "/datasets/200/records", &format!("key-{i}"), &body).await;
                let status = response.status().as_u16();
                let replayed = response.headers().get("idempotent-replayed").is_some();
                let body: Value = response.json().await.unwrap();
                (i, status, body["id"].as_u64(), replayed)
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    assert_eq!(app.emulator().records_in_dataset(200), before + 1000);
    assert_eq!(app.emulator().calls().create, 1000);
    let mut ids = std::collections::HashMap::new();
    for (i, status, id, replayed) in answers {
        match status {
            201 => {
                let first = ids.entry(i).or_insert(id);
                assert_eq!(*first, id, "a replay returns the first id");
            }
            409 => assert!(!replayed),
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(ids.len(), 1000, "every key got its record");
}

#[tokio::test]
async fn a_replay_is_marked_and_identical() {
    let app = spawn_app().await;
    let body = json!({"first_name": "Once", "mobile_phone": "07111111111"});
    let first = keyed(&app, Method::POST, "/datasets/100/records", "k1", &body).await;
    let location = first.headers()["location"].clone();
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first = json_of(first, 201).await;
    let again = keyed(&app, Method::POST, "/datasets/100/records", "k1", &body).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["location"], location);
    assert_eq!(json_of(again, 201).await, first);
    assert_eq!(app.emulator().calls().create, 1);

    // Updates too.
    let path = format!("/datasets/100/records/{}", first["id"]);
    let patch = json!({"notes_append": "called"});
    json_of(keyed(&app, Method::PATCH, &path, "u1", &patch).await, 200).await;
    json_of(keyed(&app, Method::PATCH, &path, "u1", &patch).await, 200).await;
    assert_eq!(app.emulator().calls().update, 1);
    let record = json_of(app.get(&path).await, 200).await;
    assert_eq!(record["notes"], "called", "appended once");
}

#[tokio::test]
async fn the_same_key_with_another_body_or_path_is_422() {
    let app = spawn_app().await;
    json_of(
        keyed(
            &app,
            Method::POST,
            "/datasets/100/records",
            "k",
            &json!({"mobile_phone": "07111111111"}),
        )
        .await,
        201,
    )
    .await;
    let problem = problem_of(
        keyed(
            &app,
            Method::POST,
            "/datasets/100/records",
            "k",
            &json!({"mobile_phone": "07222222222"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem["code"], "idempotency_key_reused");
    problem_of(
        keyed(
            &app,
            Method::POST,
            "/datasets/200/records",
            "k",
            &json!({"mobile_phone": "07111111111"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(app.emulator().calls().create, 1);
}

#[tokio::test]
async fn a_duplicate_while_the_first_runs_is_409() {
    let app = spawn_app().await;
    json_of(app.get("/readyz").await, 200).await;
    app.emulator().set_latency(Duration::from_millis(500));
    let body = json!({"mobile_phone": "07111111111"});
    let (first, second) = tokio::join!(
        keyed(&app, Method::POST, "/datasets/100/records", "slow", &body),
        async {
            tokio::time::sleep(Duration::from_millis(150)).await;
            keyed(&app, Method::POST, "/datasets/100/records", "slow", &body).await
        }
    );
    assert_eq!(second.headers()["retry-after"], "1");
    let problem = problem_of(second, 409).await;
    assert_eq!(problem["code"], "idempotency_in_flight");
    json_of(first, 201).await;
    assert_eq!(app.emulator().calls().create, 1);
}

#[tokio::test]
async fn an_unknown_outcome_is_409_and_never_created_again() {
    let app = spawn_app_with(AppOptions {
        timeout: Duration::from_millis(300),
        ..AppOptions::default()
    })
    .await;
    json_of(app.get("/readyz").await, 200).await;
    app.emulator()
        .inject_fault(Fault::Stall(Duration::from_secs(1)), 1);
    let body = json!({"mobile_phone": "07111111111"});
    problem_of(
        keyed(&app, Method::POST, "/datasets/100/records", "lost", &body).await,
        504,
    )
    .await;
    let problem = problem_of(
        keyed(&app, Method::POST, "/datasets/100/records", "lost", &body).await,
        409,
    )
    .await;
    assert_eq!(problem["code"], "idempotency_outcome_unknown");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("read the records back")
    );
    assert_eq!(app.emulator().calls().create, 1);
}

#[tokio::test]
async fn failures_before_the_upstream_store_nothing() {
    let app = spawn_app().await;
    // Invalid body: 422, and the key stays free for the corrected request.
    problem_of(
        keyed(
            &app,
            Method::POST,
            "/datasets/100/records",
            "fix",
            &json!({"first_name": "x"}),
        )
        .await,
        422,
    )
    .await;
    json_of(
        keyed(
            &app,
            Method::POST,
            "/datasets/100/records",
            "fix",
            &json!({"mobile_phone": "07111111111"}),
        )
        .await,
        201,
    )
    .await;
    // The token endpoint fails: nothing was sent, so the retry runs.
    let fresh = spawn_app().await;
    fresh.emulator().inject_fault(Fault::ServerError, 1);
    let body = json!({"mobile_phone": "07111111112"});
    problem_of(
        keyed(&fresh, Method::POST, "/datasets/100/records", "t", &body).await,
        503,
    )
    .await;
    json_of(
        keyed(&fresh, Method::POST, "/datasets/100/records", "t", &body).await,
        201,
    )
    .await;
    assert_eq!(fresh.emulator().calls().create, 1);
}

#[tokio::test]
async fn malformed_keys_are_400_and_required_keys_are_enforced() {
    let app = spawn_app_with(AppOptions {
        idempotency: IdempotencySettings {
            required: true,
            ..IdempotencySettings::default()
        },
        ..AppOptions::default()
    })
    .await;
    let body = json!({"mobile_phone": "07111111111"});
    for bad in ["unquoted", "\"\"", "\"a\"b\""] {
        let response = app
            .http
            .post(app.url("/datasets/100/records"))
            .bearer_auth(full_token())
            .header("idempotency-key", bad)
            .json(&body)
            .send()
            .await
            .unwrap();
        problem_of(response, 400).await;
    }
    let long = format!("\"{}\"", "k".repeat(256));
    let response = app
        .http
        .post(app.url("/datasets/100/records"))
        .bearer_auth(full_token())
        .header("idempotency-key", long)
        .json(&body)
        .send()
        .await
        .unwrap();
    problem_of(response, 400).await;
    let problem = problem_of(app.post("/datasets/100/records", &body).await, 400).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("Idempotency-Key")
    );
    // Updates do not require one.
    json_of(
        app.patch("/datasets/100/records/550000", &json!({"notes": "x"}))
            .await,
        200,
    )
    .await;
    assert_eq!(app.emulator().calls().create, 0);
}

#[tokio::test]
async fn two_gateways_sharing_redis_create_once_for_one_key() {
    let Some(redis) = start_redis() else { return };
    let first = spawn_app_with(AppOptions {
        redis_url: Some(redis.url.clone()),
        ..AppOptions::default()
    })
    .await;
    let second = spawn_app_with(AppOptions {
        redis_url: Some(redis.url.clone()),
        base_url: Some(first.upstream_url.clone()),
        ..AppOptions::default()
    })
    .await;
    json_of(first.get("/readyz").await, 200).await;
    json_of(second.get("/readyz").await, 200).await;
    first.emulator().set_latency(Duration::from_millis(200));
    for round in 0..5 {
        let key = format!("shared-{round}");
        let body = json!({"mobile_phone": format!("0799999999{round}")});
        let (a, b) = tokio::join!(
            keyed(&first, Method::POST, "/datasets/100/records", &key, &body),
            keyed(&second, Method::POST, "/datasets/100/records", &key, &body)
        );
        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        statuses.sort();
        assert!(
            statuses == [201, 409] || statuses == [201, 201],
            "{statuses:?}"
        );
        // After both finished, either gateway replays.
        let replay = keyed(&second, Method::POST, "/datasets/100/records", &key, &body).await;
        assert_eq!(replay.headers()["idempotent-replayed"], "true");
    }
    assert_eq!(
        first.emulator().calls().create,
        5,
        "one upstream create per key"
    );
}

#[tokio::test]
async fn a_redis_that_is_down_makes_keyed_writes_503_and_sends_nothing() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = spawn_app_with(AppOptions {
        redis_url: Some(format!("redis://127.0.0.1:{port}/")),
        ..AppOptions::default()
    })
    .await;
    let body = json!({"mobile_phone": "07111111111"});
    let response = keyed(&app, Method::POST, "/datasets/100/records", "k", &body).await;
    assert_eq!(response.headers()["retry-after"], "5");
    let problem = problem_of(response, 503).await;
    assert_eq!(problem["code"], "store_unavailable");
    assert_eq!(app.emulator().calls().create, 0);
    // Without a key the write needs no idempotency store, but the cluster-wide concurrency
    // budget lives in the same Redis and fails closed too.
    let problem = problem_of(app.post("/datasets/100/records", &body).await, 503).await;
    assert_eq!(problem["code"], "store_unavailable");
    assert_eq!(app.emulator().calls().create, 0);
}

#[tokio::test]
async fn a_stored_answer_with_a_corrupt_status_replays_as_a_500_not_a_success() {
    use deadpool_redis::redis::AsyncCommands;

    let Some(redis) = start_redis() else { return };
    let app = spawn_app_with(AppOptions {
        redis_url: Some(redis.url.clone()),
        ..AppOptions::default()
    })
    .await;
    let body = json!({"mobile_phone": "07123450001"});
    let path = "/datasets/100/records";
    json_of(keyed(&app, Method::POST, path, "corrupt", &body).await, 201).await;
    let client = deadpool_redis::redis::Client::open(redis.url.as_str()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let names: Vec<String> = connection.keys("ecnow-gateway:idem:*").await.unwrap();
    assert_eq!(names.len(), 1, "{names:?}");
    let stored: String = connection.get(&names[0]).await.unwrap();
    let mut entry: Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(entry["reply"]["status"], 201, "{entry}");
    entry["reply"]["status"] = json!(0);
    let _: () = connection.set(&names[0], entry.to_string()).await.unwrap();
    let replay = keyed(&app, Method::POST, path, "corrupt", &body).await;
    assert!(replay.headers().get("idempotent-replayed").is_none());
    assert_eq!(problem_of(replay, 500).await["code"], "internal_error");
    assert_eq!(app.emulator().calls().create, 1, "nothing sent again");
}
