//! Who may come in (401) and what they may touch (403), checked before any upstream call.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};

use ecnow_gateway::auth::AuthSettings;

use crate::helpers::{
    AppOptions, JWT_SECRET, json_of, problem_of, spawn_app, spawn_app_with, token_for, unix_in,
};

fn signed(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn unsigned(alg: &str, claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "typ": "JWT"}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

#[tokio::test]
async fn missing_expired_forged_and_unsigned_tokens_are_401_naming_the_failed_check() {
    let app = spawn_app().await;
    let valid = json!({"sub": "x", "scope": "records:read", "exp": unix_in(std::time::Duration::from_secs(600))});
    let mut expired = valid.clone();
    expired["exp"] = json!(unix_in(std::time::Duration::ZERO) - 120);
    let mut no_sub = valid.clone();
    no_sub.as_object_mut().unwrap().remove("sub");
    let mut no_exp = valid.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    let mut string_exp = valid.clone();
    string_exp["exp"] = json!(valid["exp"].to_string());
    let good = signed(&valid, JWT_SECRET);
    let tampered = {
        let parts: Vec<&str> = good.split('.').collect();
        let payload = URL_SAFE_NO_PAD.encode(
            json!({"sub": "x", "scope": "records:read records:write", "exp": valid["exp"]})
                .to_string(),
        );
        format!("{}.{payload}.{}", parts[0], parts[2])
    };
    // (case, token, words the detail must hold)
    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("missing", None, "no Authorization header"),
        ("expired", Some(signed(&expired, JWT_SECRET)), "expired"),
        (
            "wrong key",
            Some(signed(&valid, "another-secret-another-secret-0123456789")),
            "signature",
        ),
        ("alg none", Some(unsigned("none", &valid)), "malformed"),
        ("alg NoNe", Some(unsigned("NoNe", &valid)), "malformed"),
        ("tampered", Some(tampered), "signature"),
        (
            "no sub",
            Some(signed(&no_sub, JWT_SECRET)),
            "missing claim: sub",
        ),
        (
            "no exp",
            Some(signed(&no_exp, JWT_SECRET)),
            "missing claim: exp",
        ),
        (
            "string exp",
            Some(signed(&string_exp, JWT_SECRET)),
            "malformed",
        ),
        ("garbage", Some("not-a-jwt".into()), "malformed"),
        (
            "huge",
            Some(format!("{good}{}", "A".repeat(9000))),
            "larger than 8 KiB",
        ),
    ];
    for (name, token, check) in cases {
        let response = app
            .send(Method::GET, "/datasets/100/records", token.as_deref(), None)
            .await;
        assert_eq!(
            response
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap()),
            Some("Bearer"),
            "{name}"
        );
        let problem = problem_of(response, 401).await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.starts_with("a valid bearer token is required (") && detail.contains(check),
            "{name}: {detail}"
        );
        if let Some(token) = &token {
            for part in token.split('.').filter(|part| part.len() > 8) {
                assert!(
                    !problem.to_string().contains(part),
                    "{name} echoes the token"
                );
            }
        }
        assert_eq!(problem["code"], "unauthenticated", "{name}");
    }
    let basic = app
        .http
        .get(app.url("/datasets/100/records"))
        .header("authorization", format!("Basic {good}"))
        .send()
        .await
        .unwrap();
    problem_of(basic, 401).await;
    assert_eq!(
        app.emulator().calls().token_get + app.emulator().calls().read,
        0
    );
    // The valid one passes.
    json_of(
        app.send(Method::GET, "/datasets/100/records", Some(&good), None)
            .await,
        200,
    )
    .await;
}

#[tokio::test]
async fn a_wrong_issuer_or_audience_is_401_naming_the_claim() {
    let app = spawn_app_with(AppOptions {
        auth: Some(AuthSettings {
            hs256_secret: Some(JWT_SECRET.to_owned().into()),
            issuer: Some("https://idp.example.com/".into()),
            audience: Some("ecnow-gateway".into()),
            ..AuthSettings::default()
        }),
        ..AppOptions::default()
    })
    .await;
    let exp = unix_in(std::time::Duration::from_secs(600));
    let claims = |iss: &str, aud: &str| json!({"sub": "x", "scope": "records:read", "exp": exp, "iss": iss, "aud": aud});
    let cases = [
        (
            claims("https://evil.example.com/", "ecnow-gateway"),
            "issuer",
        ),
        (
            claims("https://idp.example.com/", "another-api"),
            "audience",
        ),
        (
            json!({"sub": "x", "scope": "records:read", "exp": exp, "aud": "ecnow-gateway"}),
            "missing claim: iss",
        ),
        (
            json!({"sub": "x", "scope": "records:read", "exp": exp, "iss": "https://idp.example.com/"}),
            "missing claim: aud",
        ),
    ];
    for (claims, check) in cases {
        let token = signed(&claims, JWT_SECRET);
        let problem = problem_of(
            app.send(Method::GET, "/datasets/100/records", Some(&token), None)
                .await,
            401,
        )
        .await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(check), "{check}: {detail}");
        assert!(
            !detail.contains("evil"),
            "the claim's value is not echoed: {detail}"
        );
    }
    let good = signed(
        &claims("https://idp.example.com/", "ecnow-gateway"),
        JWT_SECRET,
    );
    json_of(
        app.send(Method::GET, "/datasets/100/records", Some(&good), None)
            .await,
        200,
    )
    .await;
}

#[tokio::test]
async fn scopes_and_grants_are_enforced_with_403() {
    let app = spawn_app().await;
    let reader = token_for("records:read", None, None);
    let writer = token_for("records:write", None, None);
    let dataset_100 = token_for("records:read records:write", Some(vec![100]), None);
    let table_only = token_for(
        "records:read records:write",
        None,
        Some(vec!["sandbox_campaign"]),
    );
    let record = json!({"mobile_phone": "07123456789"});
    let cases: Vec<(&str, Method, &str, Option<Value>)> = vec![
        (
            &reader,
            Method::POST,
            "/datasets/100/records",
            Some(record.clone()),
        ),
        (
            &reader,
            Method::PATCH,
            "/records/550000",
            Some(json!({"dataset": 100, "notes": "x"})),
        ),
        (&writer, Method::GET, "/datasets/100/records", None),
        (&dataset_100, Method::GET, "/datasets/200/records", None),
        (
            &dataset_100,
            Method::POST,
            "/datasets/200/records",
            Some(record.clone()),
        ),
        (
            &dataset_100,
            Method::GET,
            "/campaigns/sandbox_campaign/records",
            None,
        ),
        (
            &dataset_100,
            Method::PATCH,
            "/records/550000",
            Some(json!({"table": "sandbox_campaign", "notes": "x"})),
        ),
        (
            &dataset_100,
            Method::PATCH,
            "/records/550000",
            Some(json!({"dataset": 200, "notes": "x"})),
        ),
        (&table_only, Method::GET, "/datasets/100/records", None),
        (
            &table_only,
            Method::GET,
            "/campaigns/other_campaign/records",
            None,
        ),
    ];
    for (token, method, path, body) in cases {
        let response = app
            .send(method.clone(), path, Some(token), body.as_ref())
            .await;
        let problem = problem_of(response, 403).await;
        assert_eq!(problem["code"], "forbidden", "{method} {path}");
    }
    let calls = app.emulator().calls();
    assert_eq!(
        (calls.read, calls.create, calls.update),
        (0, 0, 0),
        "{calls:?}"
    );

    // What the grants do allow.
    json_of(
        app.send(
            Method::GET,
            "/datasets/100/records",
            Some(&dataset_100),
            None,
        )
        .await,
        200,
    )
    .await;
    json_of(
        app.send(
            Method::GET,
            "/campaigns/sandbox_campaign/records",
            Some(&table_only),
            None,
        )
        .await,
        200,
    )
    .await;
}

#[tokio::test]
async fn a_limited_caller_cannot_update_a_record_of_another_dataset_by_naming_its_own() {
    let app = spawn_app().await;
    let created = json_of(
        app.post(
            "/datasets/200/records",
            &json!({"first_name": "Other", "mobile_phone": "07123450000"}),
        )
        .await,
        201,
    )
    .await;
    let id = created["id"].as_u64().unwrap();
    let dataset_100 = token_for("records:read records:write", Some(vec![100]), None);
    app.emulator().reset_calls();
    for (path, body) in [
        (
            format!("/records/{id}"),
            json!({"dataset": 100, "notes": "mine now"}),
        ),
        (
            format!("/datasets/100/records/{id}"),
            json!({"notes": "mine now"}),
        ),
    ] {
        let response = app
            .send(Method::PATCH, &path, Some(&dataset_100), Some(&body))
            .await;
        problem_of(response, 404).await;
    }
    assert_eq!(app.emulator().calls().update, 0, "no update was sent");
    let record = json_of(app.get(&format!("/datasets/200/records/{id}")).await, 200).await;
    assert_eq!(record["notes"], Value::Null);
    // And on its own dataset the check passes.
    json_of(
        app.send(
            Method::PATCH,
            "/datasets/100/records/550000",
            Some(&dataset_100),
            Some(&json!({"notes": "ok"})),
        )
        .await,
        200,
    )
    .await;
}
