//! The idempotency store is bounded by count, never by eviction: a live key is never dropped to
//! make room (that would turn the next retry into a duplicate), a caller past its share gets 429
//! for NEW keys, a full store 503, and replays of keys already held always work.

use std::time::Duration;

use ecnow_gateway::idempotency::IdempotencySettings;
use serde_json::{Value, json};

use crate::helpers::{
    AppOptions, TestApp, json_of, problem_of, spawn_app_with, start_redis, token_of,
};

/// A keyed create by `sub` of a record whose phone is derived from `key`.
async fn create(app: &TestApp, sub: &str, key: &str) -> reqwest::Response {
    app.http
        .post(app.url("/datasets/100/records"))
        .bearer_auth(token_of(sub))
        .header("idempotency-key", format!("\"{key}\""))
        .json(&body_for(key))
        .send()
        .await
        .unwrap()
}

fn body_for(key: &str) -> Value {
    let digits: u64 = key.bytes().map(u64::from).sum();
    json!({"first_name": key, "mobile_phone": format!("07{digits:09}")})
}

/// The value of a metric line that starts with `series` (name and labels).
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

fn store_of(capacity: usize, per_caller: usize, ttl: Duration) -> IdempotencySettings {
    IdempotencySettings {
        capacity,
        per_caller,
        ttl,
        ..IdempotencySettings::default()
    }
}

#[tokio::test]
async fn a_full_store_refuses_new_keys_and_keeps_every_live_one() {
    let app = spawn_app_with(AppOptions {
        idempotency: store_of(4, 2, Duration::from_secs(3600)),
        ..AppOptions::default()
    })
    .await;
    let mut first_ids = Vec::new();
    for (sub, key) in [
        ("alice", "a1"),
        ("alice", "a2"),
        ("bob", "b1"),
        ("bob", "b2"),
    ] {
        first_ids.push(json_of(create(&app, sub, key).await, 201).await["id"].clone());
    }
    // A third caller, within its own share, meets a full store: refused, nothing sent.
    let refused = create(&app, "carol", "c1").await;
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    let problem = problem_of(refused, 503).await;
    assert_eq!(problem["code"], "idempotency_store_full");
    assert_eq!(app.emulator().calls().create, 4);
    // Every live key still replays its first answer: none was evicted to make room.
    for ((sub, key), id) in [
        ("alice", "a1"),
        ("alice", "a2"),
        ("bob", "b1"),
        ("bob", "b2"),
    ]
    .into_iter()
    .zip(&first_ids)
    {
        let replay = create(&app, sub, key).await;
        assert_eq!(replay.headers()["idempotent-replayed"], "true");
        assert_eq!(&json_of(replay, 201).await["id"], id);
    }
    assert_eq!(app.emulator().calls().create, 4, "no duplicate record");
    // Unkeyed writes do not need the store.
    let unkeyed = app
        .http
        .post(app.url("/datasets/100/records"))
        .bearer_auth(token_of("carol"))
        .json(&body_for("c1"))
        .send()
        .await
        .unwrap();
    json_of(unkeyed, 201).await;
    let metrics = app.metrics_text().await;
    assert_eq!(
        metric(&metrics, "ecnow_gateway_idempotency_keys "),
        Some(4.0)
    );
    assert_eq!(
        metric(
            &metrics,
            "ecnow_gateway_idempotency_refusals_total{reason=\"store_full\"} "
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn a_caller_past_its_share_gets_429_and_cannot_crowd_out_others() {
    let app = spawn_app_with(AppOptions {
        idempotency: store_of(10, 3, Duration::from_secs(3600)),
        ..AppOptions::default()
    })
    .await;
    let first = json_of(create(&app, "flood", "f0").await, 201).await;
    for i in 1..3 {
        json_of(create(&app, "flood", &format!("f{i}")).await, 201).await;
    }
    for i in 3..8 {
        let refused = create(&app, "flood", &format!("f{i}")).await;
        assert!(refused.headers().contains_key("retry-after"));
        let problem = problem_of(refused, 429).await;
        assert_eq!(problem["code"], "idempotency_quota_exceeded");
    }
    assert_eq!(
        app.emulator().calls().create,
        3,
        "nothing sent for refused keys"
    );
    // The flood did not push out the caller's own first key, nor anyone else's room.
    let replay = create(&app, "flood", "f0").await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(json_of(replay, 201).await["id"], first["id"]);
    for i in 0..3 {
        json_of(create(&app, "quiet", &format!("q{i}")).await, 201).await;
    }
    assert_eq!(app.emulator().calls().create, 6);
    let metrics = app.metrics_text().await;
    assert_eq!(
        metric(&metrics, "ecnow_gateway_idempotency_keys "),
        Some(6.0)
    );
    assert_eq!(
        metric(
            &metrics,
            "ecnow_gateway_idempotency_refusals_total{reason=\"caller_quota\"} "
        ),
        Some(5.0)
    );
}

#[tokio::test]
async fn only_expiry_frees_room_for_new_keys() {
    let app = spawn_app_with(AppOptions {
        idempotency: store_of(1, 1, Duration::from_millis(1500)),
        ..AppOptions::default()
    })
    .await;
    json_of(create(&app, "alice", "old").await, 201).await;
    problem_of(create(&app, "bob", "new").await, 503).await;
    tokio::time::sleep(Duration::from_millis(1600)).await;
    json_of(create(&app, "bob", "new").await, 201).await;
    let metrics = app.metrics_text().await;
    assert_eq!(
        metric(&metrics, "ecnow_gateway_idempotency_keys "),
        Some(1.0)
    );
}

#[tokio::test]
async fn two_gateways_sharing_redis_hold_the_quotas_for_the_cluster() {
    let Some(redis) = start_redis() else { return };
    let options = || AppOptions {
        idempotency: store_of(3, 2, Duration::from_secs(3600)),
        redis_url: Some(redis.url.clone()),
        ..AppOptions::default()
    };
    let first = spawn_app_with(options()).await;
    let second = spawn_app_with(AppOptions {
        base_url: Some(first.upstream_url.clone()),
        ..options()
    })
    .await;
    let a1 = json_of(create(&first, "alice", "a1").await, 201).await;
    json_of(create(&second, "alice", "a2").await, 201).await;
    // Alice's share is for the cluster: the other gateway refuses her third key.
    let problem = problem_of(create(&first, "alice", "a3").await, 429).await;
    assert_eq!(problem["code"], "idempotency_quota_exceeded");
    json_of(create(&first, "bob", "b1").await, 201).await;
    let full = create(&second, "bob", "b2").await;
    assert!(full.headers().contains_key("retry-after"));
    let problem = problem_of(full, 503).await;
    assert_eq!(problem["code"], "idempotency_store_full");
    assert_eq!(first.emulator().calls().create, 3);
    // Held keys replay on either gateway, full store or not.
    let replay = create(&second, "alice", "a1").await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(json_of(replay, 201).await["id"], a1["id"]);
    assert_eq!(first.emulator().calls().create, 3);
    let metrics = second.metrics_text().await;
    assert_eq!(
        metric(
            &metrics,
            "ecnow_gateway_idempotency_refusals_total{reason=\"store_full\"} "
        ),
        Some(1.0)
    );
}
