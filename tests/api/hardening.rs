//! Hardening: public-key and JWKS authentication, rate limits, upstream concurrency, the
//! circuit breaker, and oversized answers and headers.

use std::time::Duration;

use ecnow_gateway::auth::AuthSettings;
use ecnow_gateway::config::RateLimit;
use ecnow_gateway::emulator::Fault;
use ecnow_gateway::upstream::breaker::BreakerSettings;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{
    AppOptions, json_of, mount_token, problem_of, spawn_app_with, spawn_app_with_mock, token_for,
    unix_in,
};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).unwrap()
}

fn claims() -> Value {
    json!({"sub": "svc", "scope": "records:read records:write", "exp": unix_in(Duration::from_secs(600))})
}

fn sign(header: Header, claims: &Value, key: &EncodingKey) -> String {
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn rsa_key() -> EncodingKey {
    EncodingKey::from_rsa_pem(&fixture("rsa_private.pem")).unwrap()
}

async fn status_with(app: &crate::helpers::TestApp, token: &str) -> u16 {
    app.send(
        Method::GET,
        "/datasets/100/records?limit=1",
        Some(token),
        None,
    )
    .await
    .status()
    .as_u16()
}

#[tokio::test]
async fn a_pem_public_key_pins_its_algorithm() {
    let app = spawn_app_with(AppOptions {
        auth: Some(AuthSettings {
            public_key_pem: Some(fixture("rsa_public.pem")),
            ..AuthSettings::default()
        }),
        ..AppOptions::default()
    })
    .await;
    assert_eq!(
        status_with(
            &app,
            &sign(Header::new(Algorithm::RS256), &claims(), &rsa_key())
        )
        .await,
        200
    );
    // The classic confusion: HS256 with the public key as the HMAC secret.
    let confused = sign(
        Header::new(Algorithm::HS256),
        &claims(),
        &EncodingKey::from_secret(&fixture("rsa_public.pem")).unwrap(),
    );
    assert_eq!(status_with(&app, &confused).await, 401);
    assert_eq!(
        status_with(
            &app,
            &sign(Header::new(Algorithm::RS384), &claims(), &rsa_key())
        )
        .await,
        401
    );
    let ec = EncodingKey::from_ec_pem(&fixture("ec_private.pem")).unwrap();
    assert_eq!(
        status_with(&app, &sign(Header::new(Algorithm::ES256), &claims(), &ec)).await,
        401
    );
    // HS256 tokens are refused when no HS256 secret is configured.
    assert_eq!(
        status_with(&app, &token_for("records:read", None, None)).await,
        401
    );

    let ed_app = spawn_app_with(AppOptions {
        auth: Some(AuthSettings {
            public_key_pem: Some(fixture("ed_public.pem")),
            ..AuthSettings::default()
        }),
        ..AppOptions::default()
    })
    .await;
    let ed = EncodingKey::from_ed_pem(&fixture("ed_private.pem")).unwrap();
    assert_eq!(
        status_with(
            &ed_app,
            &sign(Header::new(Algorithm::EdDSA), &claims(), &ed)
        )
        .await,
        200
    );
    let ec_app = spawn_app_with(AppOptions {
        auth: Some(AuthSettings {
            public_key_pem: Some(fixture("ec_public.pem")),
            ..AuthSettings::default()
        }),
        ..AppOptions::default()
    })
    .await;
    assert_eq!(
        status_with(
            &ec_app,
            &sign(Header::new(Algorithm::ES256), &claims(), &ec)
        )
        .await,
        200
    );
}

#[tokio::test]
async fn jwks_keys_are_chosen_by_kid_and_unknown_kids_refetch_at_most_every_30_s() {
    let keys = MockServer::start().await;
    let jwks: Value = serde_json::from_slice(&fixture("jwks.json")).unwrap();
    Mock::given(method("GET"))
        .and(path("/.well-known/jwks.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&jwks))
        .expect(2)
        .mount(&keys)
        .await;
    let app = spawn_app_with(AppOptions {
        auth: Some(AuthSettings {
            jwks_url: Some(
                format!("{}/.well-known/jwks.json", keys.uri())
                    .parse()
                    .unwrap(),
            ),
            ..AuthSettings::default()
        }),
        ..AppOptions::default()
    })
    .await;
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("test-rsa-1".into());
    let good = sign(header.clone(), &claims(), &rsa_key());
    assert_eq!(status_with(&app, &good).await, 200);
    header.kid = Some("unknown".into());
    let unknown = sign(header.clone(), &claims(), &rsa_key());
    for _ in 0..5 {
        assert_eq!(status_with(&app, &unknown).await, 401);
    }
    // The key server goes down: the last good keys stay.
    keys.reset().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&keys)
        .await;
    assert_eq!(status_with(&app, &good).await, 200);
    // A token that points at its own key is refused and nothing is fetched from there.
    let mut jku = Header::new(Algorithm::RS256);
    jku.kid = Some("test-rsa-1".into());
    jku.jku = Some(format!("{}/attacker-jwks.json", keys.uri()));
    assert_eq!(
        status_with(&app, &sign(jku, &claims(), &rsa_key())).await,
        401
    );
    let mut x5u = Header::new(Algorithm::RS256);
    x5u.kid = Some("test-rsa-1".into());
    x5u.x5u = Some(format!("{}/cert.pem", keys.uri()));
    assert_eq!(
        status_with(&app, &sign(x5u, &claims(), &rsa_key())).await,
        401
    );
    let fetched_elsewhere = keys
        .received_requests()
        .await
        .unwrap()
        .iter()
        .any(|r| r.url.path() != "/.well-known/jwks.json");
    assert!(!fetched_elsewhere, "jku/x5u were never fetched");
}

#[tokio::test]
async fn issuer_audience_and_not_before_are_enforced() {
    let secret = "issuer-test-secret-0123456789-abcdefgh";
    let app = spawn_app_with(AppOptions {
        auth: Some(AuthSettings {
            hs256_secret: Some(secret.into()),
            issuer: Some("https://idp.internal".into()),
            audience: Some("ecnow-gateway".into()),
            ..AuthSettings::default()
        }),
        ..AppOptions::default()
    })
    .await;
    let key = EncodingKey::from_secret(secret.as_bytes()).unwrap();
    let with = |changes: Value| {
        let mut claims = claims();
        claims["iss"] = json!("https://idp.internal");
        claims["aud"] = json!("ecnow-gateway");
        for (k, v) in changes.as_object().unwrap() {
            claims[k] = v.clone();
        }
        sign(Header::new(Algorithm::HS256), &claims, &key)
    };
    assert_eq!(status_with(&app, &with(json!({}))).await, 200);
    assert_eq!(
        status_with(&app, &with(json!({"iss": "https://evil"}))).await,
        401
    );
    assert_eq!(
        status_with(&app, &with(json!({"aud": "another"}))).await,
        401
    );
    assert_eq!(
        status_with(
            &app,
            &with(json!({"nbf": unix_in(Duration::from_secs(3600))}))
        )
        .await,
        401
    );
    assert_eq!(
        status_with(
            &app,
            &with(json!({"nbf": unix_in(Duration::ZERO).to_string()}))
        )
        .await,
        401
    );
}

#[tokio::test]
async fn callers_are_rate_limited_by_sub_with_retry_after() {
    let app = spawn_app_with(AppOptions {
        rate_limit: Some(RateLimit {
            per_second: 1.try_into().unwrap(),
            burst: 2.try_into().unwrap(),
        }),
        ..AppOptions::default()
    })
    .await;
    let token = token_for("records:read", None, None);
    assert_eq!(status_with(&app, &token).await, 200);
    assert_eq!(status_with(&app, &token).await, 200);
    let limited = app
        .send(
            Method::GET,
            "/datasets/100/records?limit=1",
            Some(&token),
            None,
        )
        .await;
    assert!(
        limited.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    problem_of(limited, 429).await;
    assert_eq!(app.emulator().calls().read, 2);
}

#[tokio::test]
async fn upstream_concurrency_is_capped_with_a_fast_503_when_queueing_is_off() {
    let app = spawn_app_with(AppOptions {
        max_concurrency: 1,
        queue_timeout: Duration::ZERO,
        ..AppOptions::default()
    })
    .await;
    json_of(app.get("/readyz").await, 200).await;
    app.emulator().set_latency(Duration::from_millis(400));
    let (a, b) = tokio::join!(app.get("/datasets/100/records?limit=1"), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        app.get("/datasets/100/records?limit=1").await
    });
    assert_eq!(a.status(), 200);
    assert_eq!(b.headers()["retry-after"], "1");
    assert_eq!(problem_of(b, 503).await["code"], "upstream_busy");
    assert_eq!(app.emulator().calls().read, 1);
}

#[tokio::test]
async fn a_request_over_the_cap_waits_for_a_slot_up_to_the_queue_timeout() {
    let app = spawn_app_with(AppOptions {
        max_concurrency: 1,
        queue_timeout: Duration::from_millis(750),
        ..AppOptions::default()
    })
    .await;
    json_of(app.get("/readyz").await, 200).await;
    app.emulator().set_latency(Duration::from_millis(500));
    // One slot, 500 ms per read: the first runs at once, the second waits about 500 ms and
    // runs, the third would wait about 1,000 ms and gives up at 750 ms.
    let read = || app.get("/datasets/100/records?limit=1");
    let (a, b, c) = tokio::join!(read(), read(), read());
    let mut statuses = vec![a.status(), b.status(), c.status()];
    statuses.sort();
    assert_eq!(statuses, [200, 200, 503]);
    for answer in [a, b, c] {
        if answer.status() == 503 {
            assert_eq!(answer.headers()["retry-after"], "1");
            let problem = problem_of(answer, 503).await;
            assert_eq!(problem["code"], "upstream_busy");
        }
    }
    assert_eq!(app.emulator().calls().read, 2);
    let metrics = app.metrics_text().await;
    assert!(
        metrics.lines().any(|line| line
            == r#"ecnow_gateway_upstream_requests_total{action="read",outcome="busy"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_circuit_breaker_opens_answers_fast_and_probes_once() {
    let app = spawn_app_with(AppOptions {
        breaker: BreakerSettings {
            failures: 3,
            cooldown: Duration::from_millis(400),
        },
        ..AppOptions::default()
    })
    .await;
    json_of(app.get("/readyz").await, 200).await;
    app.emulator().inject_fault(Fault::ServerError, 3);
    for _ in 0..3 {
        problem_of(app.get("/datasets/100/records?limit=1").await, 502).await;
    }
    let before = app.emulator().calls().read;
    let open = problem_of(app.get("/datasets/100/records?limit=1").await, 503).await;
    assert_eq!(open["code"], "upstream_unavailable");
    assert_eq!(
        app.emulator().calls().read,
        before,
        "an open breaker sends nothing"
    );
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains("ecnow_gateway_upstream_circuit_state 1"),
        "{metrics}"
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    json_of(app.get("/datasets/100/records?limit=1").await, 200).await;
    json_of(app.get("/datasets/100/records?limit=1").await, 200).await;
}

#[tokio::test]
async fn oversized_upstream_answers_and_oversized_headers_are_refused() {
    let app = spawn_app_with_mock().await;
    mount_token(app.mock(), 1).await;
    let huge = format!(
        "{{\"success\":true,\"total\":1,\"list\":[],\"pad\":\"{}\"}}",
        "x".repeat(9 * 1024 * 1024)
    );
    Mock::given(path("/ecnow.php"))
        .respond_with(ResponseTemplate::new(200).set_body_string(huge))
        .mount(app.mock())
        .await;
    problem_of(app.get("/datasets/100/records").await, 502).await;

    let response = app
        .http
        .get(app.url("/healthz"))
        .header("x-padding", "p".repeat(256 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 431);
}
