//! Limits that must not multiply with replicas: with `GATEWAY_REDIS_URL` set, a caller's rate
//! limit and the upstream concurrency budget hold for the whole cluster, and a Redis that cannot
//! be reached refuses (503 `store_unavailable`) rather than letting traffic through unlimited.

use std::time::Duration;

use ecnow_gateway::config::RateLimit;

use crate::helpers::{
    AppOptions, TestApp, json_of, problem_of, spawn_app_with, start_redis, token_for,
};

const READ: &str = "/datasets/100/records?limit=1";

/// Two gateways on one emulator, both with `options(redis_url)`.
async fn two_gateways(options: impl Fn() -> AppOptions) -> (TestApp, TestApp) {
    let first = spawn_app_with(options()).await;
    let second = spawn_app_with(AppOptions {
        base_url: Some(first.upstream_url.clone()),
        ..options()
    })
    .await;
    json_of(first.get("/readyz").await, 200).await;
    json_of(second.get("/readyz").await, 200).await;
    (first, second)
}

#[tokio::test]
async fn a_caller_alternating_between_replicas_gets_one_burst_not_two() {
    let Some(redis) = start_redis() else { return };
    let (first, second) = two_gateways(|| AppOptions {
        rate_limit: Some(RateLimit {
            per_second: 1.try_into().unwrap(),
            burst: 3.try_into().unwrap(),
        }),
        redis_url: Some(redis.url.clone()),
        ..AppOptions::default()
    })
    .await;
    let token = token_for("records:read", None, None);
    let mut statuses = Vec::new();
    let started = std::time::Instant::now();
    for i in 0..6 {
        let app = if i % 2 == 0 { &first } else { &second };
        let response = app
            .send(reqwest::Method::GET, READ, Some(&token), None)
            .await;
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            let retry_after: u64 = response.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=2).contains(&retry_after), "{retry_after}");
            assert_eq!(problem_of(response, 429).await["code"], "too_many_requests");
        }
    }
    // One token comes back a second: a slow machine may see one more 200 per second taken.
    let refills = started.elapsed().as_secs() as usize;
    let allowed = statuses.iter().filter(|&&status| status == 200).count();
    assert_eq!(statuses[..3], [200, 200, 200], "{statuses:?}");
    assert!(allowed <= 3 + refills, "{statuses:?} in {refills} s");
    if refills == 0 {
        assert_eq!(statuses, [200, 200, 200, 429, 429, 429]);
    }
    assert_eq!(first.emulator().calls().read, allowed as u64);
    // Another caller has a bucket of its own.
    let other = ecnow_gateway::auth::mint(
        &secrecy::SecretString::from(crate::helpers::JWT_SECRET),
        &ecnow_gateway::auth::TokenRequest {
            sub: "someone-else".into(),
            scope: "records:read".into(),
            datasets: None,
            tables: None,
            ttl: Duration::from_secs(600),
        },
    )
    .unwrap();
    let response = second
        .send(reqwest::Method::GET, READ, Some(&other), None)
        .await;
    assert_eq!(response.status(), 200);
    // The bucket refills at the rate, for the cluster.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let response = second
        .send(reqwest::Method::GET, READ, Some(&token), None)
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn the_upstream_concurrency_budget_holds_across_replicas() {
    let Some(redis) = start_redis() else { return };
    let (first, second) = two_gateways(|| AppOptions {
        max_concurrency: 1,
        queue_timeout: Duration::ZERO,
        redis_url: Some(redis.url.clone()),
        ..AppOptions::default()
    })
    .await;
    // Each replica's dataset list is cached first, so the race is between the record reads.
    // (The one lease is returned in the background: a read right after another may be refused.)
    for app in [&first, &second] {
        while app.get(READ).await.status() != 200 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    first.emulator().reset_calls();
    tokio::time::sleep(Duration::from_millis(300)).await;
    first.emulator().set_latency(Duration::from_millis(800));
    let (a, b) = tokio::join!(first.get(READ), second.get(READ));
    // Whichever took the one lease ran; the other was refused at once, nothing sent.
    let (ran, crowded) = if a.status() == 200 { (a, b) } else { (b, a) };
    json_of(ran, 200).await;
    assert_eq!(crowded.headers()["retry-after"], "1");
    assert_eq!(problem_of(crowded, 503).await["code"], "upstream_busy");
    assert_eq!(
        first.emulator().calls().read,
        1,
        "ContactNow saw one at a time"
    );
    // The lease is returned when the exchange ends (its release runs in the background), well
    // before it would expire (the 5 s exchange deadline plus 5 s).
    first.emulator().set_latency(Duration::ZERO);
    for app in [&second, &first] {
        let returned = std::time::Instant::now();
        while app.get(READ).await.status() != 200 {
            assert!(
                returned.elapsed() < Duration::from_secs(3),
                "the lease was kept"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test]
async fn a_replica_waits_for_a_lease_another_replica_returns() {
    let Some(redis) = start_redis() else { return };
    let (first, second) = two_gateways(|| AppOptions {
        max_concurrency: 1,
        queue_timeout: Duration::from_secs(2),
        redis_url: Some(redis.url.clone()),
        ..AppOptions::default()
    })
    .await;
    first.emulator().set_latency(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let (a, b) = tokio::join!(first.get(READ), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        second.get(READ).await
    });
    json_of(a, 200).await;
    json_of(b, 200).await;
    // The second exchange queued behind the first instead of running beside it.
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(first.emulator().calls().read, 2);
}

#[tokio::test]
async fn a_redis_that_is_down_fails_the_limits_closed() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let redis_url = Some(format!("redis://127.0.0.1:{port}/"));
    // The rate limit.
    let limited = spawn_app_with(AppOptions {
        rate_limit: Some(RateLimit {
            per_second: 100.try_into().unwrap(),
            burst: 100.try_into().unwrap(),
        }),
        redis_url: redis_url.clone(),
        ..AppOptions::default()
    })
    .await;
    let response = limited.get(READ).await;
    assert_eq!(response.headers()["retry-after"], "5");
    assert_eq!(problem_of(response, 503).await["code"], "store_unavailable");
    assert_eq!(limited.emulator().calls().read, 0);
    // The concurrency budget.
    let budgeted = spawn_app_with(AppOptions {
        redis_url,
        ..AppOptions::default()
    })
    .await;
    let response = budgeted.get(READ).await;
    assert_eq!(problem_of(response, 503).await["code"], "store_unavailable");
    assert_eq!(budgeted.emulator().calls().read, 0);
}
