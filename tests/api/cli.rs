//! The binary's commands: configuration errors (one line per setting, all in one run, exit
//! code 2), `openapi`, `token`.

use std::process::Command;

use crate::helpers::{JWT_SECRET, json_of, spawn_app};

fn gateway() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ecnow-gateway"));
    for (name, _) in std::env::vars() {
        if name.starts_with("GATEWAY_") || name.starts_with("CONTACTNOW_") {
            command.env_remove(name);
        }
    }
    command
}

#[test]
fn one_bad_setting_is_one_line_naming_it_with_exit_code_2() {
    let cases: [(&[(&str, &str)], &str); 5] = [
        (
            &[
                ("CONTACTNOW_BASE_URL", "api.dxi.eu"),
                ("CONTACTNOW_USERNAME", "u"),
                ("CONTACTNOW_API_KEY", "k"),
                ("GATEWAY_JWT_HS256_SECRET", JWT_SECRET),
            ],
            "CONTACTNOW_BASE_URL",
        ),
        (
            &[
                ("CONTACTNOW_BASE_URL", "https://api-106.dxi.eu/"),
                ("CONTACTNOW_USERNAME", "u"),
                ("CONTACTNOW_API_KEY", "k"),
                ("GATEWAY_JWT_HS256_SECRET", "too-short-secret-value"),
            ],
            "GATEWAY_JWT_HS256_SECRET",
        ),
        (
            &[
                ("CONTACTNOW_BASE_URL", "https://api-106.dxi.eu/"),
                ("CONTACTNOW_USERNAME", "u"),
                ("CONTACTNOW_API_KEY", "k"),
                ("GATEWAY_JWT_HS256_SECRET", JWT_SECRET),
                ("CONTACTNOW_TIMEOUT_MS", "0"),
            ],
            "CONTACTNOW_TIMEOUT_MS",
        ),
        (
            &[
                ("CONTACTNOW_BASE_URL", "https://api-106.dxi.eu/"),
                ("CONTACTNOW_USERNAME", "u"),
                ("CONTACTNOW_API_KEY", "k"),
                ("GATEWAY_JWT_HS256_SECRET", JWT_SECRET),
                ("GATEWAY_LISTEN", "8080"),
            ],
            "GATEWAY_LISTEN",
        ),
        (
            &[
                ("CONTACTNOW_BASE_URL", "https://api-106.dxi.eu/"),
                ("CONTACTNOW_USERNAME", "u"),
                ("CONTACTNOW_API_KEY", "k"),
                ("GATEWAY_JWT_HS256_SECRET", JWT_SECRET),
                ("GATEWAY_BODY_TIMEOUT_MS", "0"),
            ],
            "GATEWAY_BODY_TIMEOUT_MS",
        ),
    ];
    for (env, setting) in cases {
        let output = gateway()
            .arg("serve")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{setting}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(setting), "names {setting}: {stderr}");
        assert!(
            !stderr.contains("too-short-secret-value"),
            "a secret is never echoed"
        );
    }
}

#[test]
fn every_unusable_setting_is_reported_in_one_run_one_line_each() {
    let output = gateway()
        .arg("serve")
        .envs([
            ("CONTACTNOW_API_KEY", "k3y-never-echoed-0123"),
            ("CONTACTNOW_BASE_URL", "api.dxi.eu"),
            ("GATEWAY_JWT_HS256_SECRET", "too-short-secret-value"),
            ("CONTACTNOW_TIMEOUT_MS", "0"),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let lines: Vec<&str> = stderr.trim().lines().collect();
    for (line, setting) in lines.iter().zip([
        "CONTACTNOW_BASE_URL",
        "CONTACTNOW_USERNAME",
        "CONTACTNOW_TIMEOUT_MS",
        "GATEWAY_JWT_HS256_SECRET",
    ]) {
        assert!(line.contains(setting), "{setting}: {stderr}");
    }
    assert_eq!(lines.len(), 4, "one line per setting: {stderr}");
    assert!(!stderr.contains("k3y-never-echoed-0123"), "{stderr}");
    assert!(!stderr.contains("too-short-secret-value"), "{stderr}");

    let output = gateway().arg("serve").output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    for setting in [
        "CONTACTNOW_BASE_URL",
        "CONTACTNOW_USERNAME",
        "CONTACTNOW_API_KEY",
        "GATEWAY_JWT_HS256_SECRET",
    ] {
        assert!(stderr.contains(setting), "{setting}: {stderr}");
    }
    assert_eq!(stderr.trim().lines().count(), 4, "{stderr}");
}

#[test]
fn openapi_prints_the_committed_document() {
    let output = gateway().arg("openapi").output().unwrap();
    assert!(output.status.success());
    let committed =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json")).unwrap();
    assert!(
        output.stdout == committed,
        "ecnow-gateway openapi prints openapi/openapi.json's bytes"
    );
}

#[tokio::test]
async fn minted_tokens_carry_their_grants() {
    let output = gateway()
        .args([
            "token",
            "--sub",
            "billing",
            "--scope",
            "records:read",
            "--datasets",
            "100",
            "--ttl",
            "5m",
        ])
        .env("GATEWAY_JWT_HS256_SECRET", JWT_SECRET)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    let app = spawn_app().await;
    json_of(
        app.send(
            reqwest::Method::GET,
            "/datasets/100/records?limit=1",
            Some(&token),
            None,
        )
        .await,
        200,
    )
    .await;
    let denied = app
        .send(
            reqwest::Method::GET,
            "/datasets/200/records",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(denied.status(), 403);
    let write = app
        .send(
            reqwest::Method::POST,
            "/datasets/100/records",
            Some(&token),
            Some(&serde_json::json!({"mobile_phone": "07123456789"})),
        )
        .await;
    assert_eq!(write.status(), 403);
    let help = gateway().args(["token", "--help"]).output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("--datasets"));
}
