//! `ecnow-gateway doctor`: the built binary checks a configuration against a live upstream (the
//! emulator, or wiremock for an upstream whose every answer the test chooses) and never prints
//! the API key.

use std::net::TcpListener;
use std::process::{Command, Output};
use std::time::Duration;

use ecnow_gateway::emulator::{Emulator, EmulatorConfig};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{API_KEY, API_USER, JWT_SECRET, unix_in};

/// The binary with no gateway or upstream setting from the test's environment.
pub fn gateway() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ecnow-gateway"));
    for (name, _) in std::env::vars() {
        if name.starts_with("GATEWAY_") || name.starts_with("CONTACTNOW_") || name == "RUST_LOG" {
            command.env_remove(name);
        }
    }
    command
}

/// Runs `doctor` against `base_url` with `api_key`, off the test's runtime so that an
/// in-process upstream keeps answering.
async fn doctor(base_url: &str, api_key: &str) -> Output {
    let mut command = gateway();
    command.arg("doctor").envs([
        ("CONTACTNOW_BASE_URL", base_url),
        ("CONTACTNOW_USERNAME", API_USER),
        ("CONTACTNOW_API_KEY", api_key),
        ("GATEWAY_JWT_HS256_SECRET", JWT_SECRET),
    ]);
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

fn start_emulator() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let emulator = Emulator::new(EmulatorConfig {
        username: API_USER.into(),
        api_key: API_KEY.into(),
        ..EmulatorConfig::default()
    });
    tokio::spawn(emulator.serve(listener).unwrap());
    format!("http://127.0.0.1:{port}/")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn line<'a>(text: &'a str, check: &str) -> &'a str {
    text.lines()
        .find(|line| line.split_whitespace().nth(1) == Some(check))
        .unwrap_or_else(|| panic!("a line for {check}: {text}"))
}

#[tokio::test]
async fn doctor_accepts_right_credentials_and_reports_the_upstream_answer_of_each_check() {
    let base_url = start_emulator();
    let output = doctor(&base_url, API_KEY).await;
    let text = text(&output);
    assert!(
        !text.contains(API_KEY),
        "the API key is never printed: {text}"
    );
    assert!(
        !text.contains(JWT_SECRET),
        "the JWT secret is never printed"
    );
    assert!(line(&text, "settings").starts_with("ok "), "{text}");
    assert!(line(&text, "jwt").starts_with("ok "), "{text}");
    let token = line(&text, "token.php");
    assert!(token.starts_with("ok "), "{text}");
    assert!(token.contains("token valid for 11h 59m"), "{token}");
    assert!(token.ends_with(" ms)"), "latency of the check: {token}");
    // The emulator serves campaign_tables: doctor says how many tables it answered, and passes.
    let tables = line(&text, "ecnow.php");
    assert!(tables.starts_with("ok "), "{text}");
    assert!(tables.contains("answered 2 table(s)"), "{tables}");
    let fields = line(&text, "campaign_fields");
    assert!(fields.starts_with("ok "), "{text}");
    assert!(
        fields.contains("writes are checked against each campaign's columns"),
        "{fields}"
    );
    assert_eq!(output.status.code(), Some(0), "{text}");
}

#[tokio::test]
async fn doctor_fails_wrong_credentials_with_the_fix_and_without_the_key() {
    let base_url = start_emulator();
    let wrong_key = "wrong-api-key-d0c70r-5ecr37";
    let output = doctor(&base_url, wrong_key).await;
    let text = text(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        !text.contains(wrong_key),
        "the API key is never printed: {text}"
    );
    let token = line(&text, "token.php");
    assert!(token.starts_with("FAIL "), "{text}");
    assert!(token.contains("Authentication failure"), "{token}");
    assert!(
        token.contains("CONTACTNOW_API_KEY"),
        "names the setting: {token}"
    );
    assert!(line(&text, "ecnow.php").starts_with("skip "), "{text}");
    assert!(
        line(&text, "campaign_fields").starts_with("skip "),
        "{text}"
    );
}

/// Mounts the `campaign_fields` read of `sandbox_campaign`, answering `answer`, expected once.
async fn mount_campaign_fields(server: &MockServer, answer: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path("/ecnow.php"))
        .and(query_param("method", "campaign_fields"))
        .and(query_param("action", "read"))
        .and(query_param("table", "sandbox_campaign"))
        .respond_with(answer)
        .expect(1)
        .mount(server)
        .await;
}

/// A wiremock upstream whose `token.php` and `campaign_tables` answer.
async fn upstream_with_tables() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path("/token.php"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "success": true, "token": "0123456789abcdef0123456789abcdef01234567",
            "expire": unix_in(Duration::from_secs(3600)),
        })))
        .mount(&server)
        .await;
    Mock::given(path("/ecnow.php"))
        .and(query_param("method", "campaign_tables"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "success": true, "list": [{"name": "sandbox_campaign"}],
        })))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn doctor_warns_when_campaign_fields_are_refused_and_still_passes() {
    let server = upstream_with_tables().await;
    mount_campaign_fields(
        &server,
        ResponseTemplate::new(200)
            .set_body_json(serde_json::json!({"success": false, "error": "Bad argument: method"})),
    )
    .await;
    let output = doctor(&format!("{}/", server.uri()), API_KEY).await;
    let text = text(&output);
    let fields = line(&text, "campaign_fields");
    assert!(fields.starts_with("warn "), "{text}");
    assert!(fields.contains("Bad argument: method"), "{fields}");
    assert!(
        fields.contains("writes fall back to syntax rules"),
        "{fields}"
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "a warning is not a failure: {text}"
    );
}

#[tokio::test]
async fn doctor_fails_when_campaign_fields_cannot_be_read() {
    let server = upstream_with_tables().await;
    mount_campaign_fields(&server, ResponseTemplate::new(500)).await;
    let output = doctor(&format!("{}/", server.uri()), API_KEY).await;
    let text = text(&output);
    assert!(
        line(&text, "campaign_fields").starts_with("FAIL "),
        "{text}"
    );
    assert_eq!(output.status.code(), Some(1), "{text}");
}

#[tokio::test]
async fn doctor_passes_with_exit_0_when_every_check_passes() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/token.php"))
        .and(query_param("username", API_USER))
        .and(query_param("password", API_KEY))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "success": true, "account_id": "10278",
            "token": "0123456789abcdef0123456789abcdef01234567",
            "expire": unix_in(Duration::from_secs(3 * 3600 + 90)),
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/ecnow.php"))
        .and(query_param("method", "campaign_tables"))
        .and(query_param("action", "read"))
        .and(query_param(
            "token",
            "0123456789abcdef0123456789abcdef01234567",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "success": true, "account_id": "10278", "total": 2,
            "list": [{"name": "sandbox_campaign"}, {"name": "other_campaign"}],
        })))
        .expect(1)
        .mount(&server)
        .await;
    mount_campaign_fields(
        &server,
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "success": true, "total": 2, "list": [
                {"name": "FirstName", "standard_field": "1", "size": "50"},
                {"name": "company_name", "standard_field": "0", "size": "200"},
            ],
        })),
    )
    .await;
    let output = doctor(&format!("{}/", server.uri()), API_KEY).await;
    let text = text(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        line(&text, "campaign_fields")
            .contains("campaign_fields read of sandbox_campaign answered 2 field(s), 1 custom"),
        "{text}"
    );
    assert!(
        !text.contains(API_KEY),
        "the API key is never printed: {text}"
    );
    assert!(
        !text.contains("0123456789abcdef0123456789abcdef01234567"),
        "the upstream token is never printed: {text}"
    );
    let token = line(&text, "token.php");
    assert!(token.contains("token valid for 3h 01m"), "{token}");
    assert!(token.contains("account 10278"), "{token}");
    assert!(
        line(&text, "ecnow.php").contains("answered 2 table(s)"),
        "{text}"
    );
    assert!(text.lines().all(|line| line.starts_with("ok ")), "{text}");
    let writes = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|request| request.method != wiremock::http::Method::GET)
        .count();
    assert_eq!(writes, 0, "doctor writes nothing upstream");
}

#[test]
fn doctor_lists_every_missing_setting_in_one_run() {
    let output = gateway().arg("doctor").output().unwrap();
    let text = text(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    for setting in [
        "CONTACTNOW_BASE_URL",
        "CONTACTNOW_USERNAME",
        "CONTACTNOW_API_KEY",
        "GATEWAY_JWT_HS256_SECRET",
    ] {
        assert!(
            text.lines()
                .any(|line| line.starts_with("FAIL") && line.contains(setting)),
            "{setting}: {text}"
        );
    }
}

#[test]
fn doctor_refuses_unusable_arguments_with_exit_code_2() {
    let output = gateway()
        .args(["doctor", "--contactnow-format", "yaml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
}
