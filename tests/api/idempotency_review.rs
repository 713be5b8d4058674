//! Holes a review found in the `Idempotency-Key` layer: a reservation cancelled while Redis
//! answers, an error stored although nothing was sent, and the per-caller `Retry-After` and
//! live-key gauge of the memory store.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ecnow_gateway::idempotency::IdempotencySettings;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use wiremock::matchers::path;
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::token_of;
use crate::helpers::{
    AppOptions, TestApp, full_token, json_of, problem_of, spawn_app_with, spawn_app_with_mock,
    start_redis,
};
use crate::redteam_edge::raw_connection;
use crate::review::answer_withholding_proxy;

const CREATE: &str = "/datasets/100/records";

/// A keyed create of `body` by the caller of `token`.
async fn create(app: &TestApp, token: &str, key: &str, body: &Value) -> reqwest::Response {
    app.http
        .post(app.url(CREATE))
        .bearer_auth(token)
        .header("idempotency-key", format!("\"{key}\""))
        .json(body)
        .send()
        .await
        .unwrap()
}

/// The value of the metric line that starts with `series`.
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

/// The idempotency entries in the Redis at `url`.
fn idempotency_entries(url: &str) -> usize {
    let output = std::process::Command::new("redis-cli")
        .args(["-u", url, "--scan", "--pattern", "ecnow-gateway:idem:*"])
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .count()
}

#[tokio::test]
async fn a_request_cancelled_while_redis_answers_its_reservation_does_not_hold_the_key() {
    let Some(redis) = start_redis() else { return };
    let (armed, paused) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let target = redis
        .url
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_owned();
    let proxy_url = answer_withholding_proxy(target, armed.clone(), paused.clone()).await;
    let app = spawn_app_with(AppOptions {
        redis_url: Some(proxy_url),
        ..AppOptions::default()
    })
    .await;
    // Redis learns the scripts, so that the next reservation runs at its first call.
    let warm = json!({"mobile_phone": "07123456780"});
    json_of(create(&app, &full_token(), "warm", &warm).await, 201).await;
    let body = json!({"mobile_phone": "07123456789"}).to_string();
    armed.store(true, Ordering::SeqCst);
    let (reader, mut writer) = raw_connection(&app).await.into_split();
    let request = format!(
        "POST {CREATE} HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {}\r\n\
         Idempotency-Key: \"cut\"\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        full_token(),
        body.len()
    );
    writer.write_all(request.as_bytes()).await.unwrap();
    // The reservation ran on Redis; its answer is held back while the caller resets.
    for _ in 0..100 {
        if idempotency_entries(&redis.url) == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(idempotency_entries(&redis.url), 2, "the key was reserved");
    let stream = reader.reunite(writer).unwrap();
    stream.set_zero_linger().unwrap();
    drop(stream);
    tokio::time::sleep(Duration::from_millis(300)).await;
    paused.store(false, Ordering::SeqCst);
    // A retry with the key runs within moments, not after the key's 24 h TTL.
    let started = Instant::now();
    let status = loop {
        let retry = app
            .http
            .post(app.url(CREATE))
            .bearer_auth(full_token())
            .header("idempotency-key", "\"cut\"")
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        if retry.status() != 409 || started.elapsed() > Duration::from_secs(2) {
            break retry.status();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status, 201, "the cancelled reservation was released");
    assert_eq!(app.emulator().calls().create, 2);
}

#[tokio::test]
async fn a_refused_upstream_credential_does_not_hold_the_key() {
    let app = spawn_app_with_mock().await;
    Mock::given(path("/token.php"))
        .respond_with(ResponseTemplate::new(401))
        .mount(app.mock())
        .await;
    let token = full_token();
    let first = create(
        &app,
        &token,
        "auth",
        &json!({"mobile_phone": "07123456789"}),
    )
    .await;
    assert_eq!(problem_of(first, 503).await["code"], "upstream_auth_failed");
    // Nothing was sent: the key is free, so another body with it runs (and meets the same
    // refusal) instead of being told the key was used for something else, and the first body
    // is not answered from a stored 503.
    let other = create(
        &app,
        &token,
        "auth",
        &json!({"mobile_phone": "07999999999"}),
    )
    .await;
    assert_eq!(problem_of(other, 503).await["code"], "upstream_auth_failed");
    let again = create(
        &app,
        &token,
        "auth",
        &json!({"mobile_phone": "07123456789"}),
    )
    .await;
    assert!(again.headers().get("idempotent-replayed").is_none());
    problem_of(again, 503).await;
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
async fn a_callers_retry_after_counts_from_its_own_oldest_key() {
    const TTL_SECS: u64 = 3600;
    let app = spawn_app_with(AppOptions {
        idempotency: store_of(10, 1, Duration::from_secs(TTL_SECS)),
        ..AppOptions::default()
    })
    .await;
    let quiet = token_of("quiet");
    json_of(
        create(&app, &quiet, "q", &json!({"mobile_phone": "07123456781"})).await,
        201,
    )
    .await;
    // The caller's only key is 2 s younger than the store's oldest.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let flood = token_of("flood");
    json_of(
        create(&app, &flood, "f0", &json!({"mobile_phone": "07123456782"})).await,
        201,
    )
    .await;
    let refused = create(&app, &flood, "f1", &json!({"mobile_phone": "07123456783"})).await;
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (TTL_SECS - 1..=TTL_SECS).contains(&retry_after),
        "{retry_after}: the caller's own key expires in about {TTL_SECS} s"
    );
    assert_eq!(
        problem_of(refused, 429).await["code"],
        "idempotency_quota_exceeded"
    );
}

#[tokio::test]
async fn the_live_key_gauge_drops_when_keys_expire_without_traffic() {
    let app = spawn_app_with(AppOptions {
        idempotency: store_of(10, 10, Duration::from_millis(500)),
        ..AppOptions::default()
    })
    .await;
    let token = full_token();
    json_of(
        create(&app, &token, "k", &json!({"mobile_phone": "07123456789"})).await,
        201,
    )
    .await;
    let series = "ecnow_gateway_idempotency_keys ";
    assert_eq!(metric(&app.metrics_text().await, series), Some(1.0));
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(metric(&app.metrics_text().await, series), Some(0.0));
}

/// `redis-cli` against the Redis at `url`, answering its output.
fn redis_cli(url: &str, args: &[&str]) -> String {
    let output = std::process::Command::new("redis-cli")
        .args(["-u", url])
        .args(args)
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[tokio::test]
async fn a_release_never_frees_a_key_another_request_reserved_since() {
    let Some(redis) = start_redis() else { return };
    let app = spawn_app_with(AppOptions {
        redis_url: Some(redis.url.clone()),
        max_concurrency: 1,
        queue_timeout: Duration::from_millis(600),
        ..AppOptions::default()
    })
    .await;
    app.emulator().set_latency(Duration::from_millis(1500));
    let blocker = tokio::spawn({
        let (http, url) = (app.http.clone(), app.url("/datasets/100/records?limit=1"));
        async move { http.get(url).bearer_auth(full_token()).send().await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (token, body) = (full_token(), json!({"mobile_phone": "07123456789"}));
    let queued = create(&app, &token, "q", &body);
    let takeover = async {
        // While the keyed create queues for the upstream (nothing sent), its reservation is
        // replaced by another request's, as when a short TTL ran out and another took the key.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let name = redis_cli(&redis.url, &["--scan", "--pattern", "ecnow-gateway:idem:*"]);
        let mut entry: Value = serde_json::from_str(&redis_cli(&redis.url, &["GET", &name]))
            .expect("the key is reserved");
        assert_eq!(entry["state"], "in_flight");
        entry["reservation"] = json!("another-request");
        redis_cli(
            &redis.url,
            &["SET", &name, &entry.to_string(), "PX", "60000"],
        );
        name
    };
    let (answer, name) = tokio::join!(queued, takeover);
    assert_eq!(problem_of(answer, 503).await["code"], "upstream_busy");
    let kept: Value = serde_json::from_str(&redis_cli(&redis.url, &["GET", &name]))
        .expect("the other request's reservation is kept");
    assert_eq!(kept["reservation"], "another-request");
    blocker.await.unwrap().unwrap();
}
