//! Red-team findings at the edge of the gateway (issue #11): metric labels, query parameters of
//! writes, body deadlines, ambiguous credentials, log forging and parser-level refusals.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use ecnow_gateway::telemetry::MAX_HEADER_BYTES;
use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{
    AppOptions, JWT_SECRET, TestApp, full_token, problem_of, spawn_app, spawn_app_with,
    spawn_app_with_mock,
};

#[tokio::test]
async fn invented_methods_are_counted_as_other_and_never_become_labels() {
    let app = spawn_app().await;
    for (index, path) in ["/datasets/100/records", "/nowhere"].iter().enumerate() {
        let method = Method::from_bytes(format!("INVENTEDMETHOD{index}").as_bytes()).unwrap();
        let response = app
            .http
            .request(method, app.url(path))
            .send()
            .await
            .unwrap();
        assert!([404, 405].contains(&response.status().as_u16()));
    }
    let metrics = app.metrics_text().await;
    assert!(!metrics.contains("INVENTEDMETHOD"), "{metrics}");
    assert!(
        metrics.contains(r#"method="other",route="/datasets/{dataset}/records",status="405""#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"method="other",route="unmatched",status="404""#),
        "{metrics}"
    );
}

#[tokio::test]
async fn every_record_route_refuses_an_unknown_query_parameter_before_the_upstream() {
    let app = spawn_app_with_mock().await;
    let token = full_token();
    let record = json!({"first_name": "Joe", "mobile_phone": "07123456789"});
    let cases = [
        (
            Method::POST,
            "/datasets/100/records?dry_run=true",
            Some(record),
        ),
        (
            Method::PATCH,
            "/datasets/100/records/550000?validate_only=1",
            Some(json!({"last_name": "Bloggs"})),
        ),
        (
            Method::PATCH,
            "/records/550000?dataset=200",
            Some(json!({"dataset": 100, "last_name": "Bloggs"})),
        ),
        (Method::GET, "/datasets/100/records?dry_run=true", None),
        (
            Method::GET,
            "/datasets/100/records/550000?dry_run=true",
            None,
        ),
        (
            Method::GET,
            "/campaigns/sandbox_campaign/records?dry_run=true",
            None,
        ),
        (
            Method::GET,
            "/campaigns/sandbox_campaign/records/550000?dry_run=true",
            None,
        ),
    ];
    for (method, path, body) in cases {
        let response = app
            .send(method.clone(), path, Some(&token), body.as_ref())
            .await;
        let problem = problem_of(response, 400).await;
        assert_eq!(problem["code"], "bad_request", "{method} {path}: {problem}");
    }
    let received = app.mock().received_requests().await.unwrap_or_default();
    assert!(
        received.is_empty(),
        "nothing reached the upstream: {received:?}"
    );
}

#[tokio::test]
async fn two_authorization_headers_are_refused_whichever_is_valid() {
    let app = spawn_app().await;
    let valid = format!("Bearer {}", full_token());
    for pair in [
        [valid.as_str(), "Bearer junk"],
        ["Bearer junk", valid.as_str()],
    ] {
        let mut headers = reqwest::header::HeaderMap::new();
        for value in pair {
            headers.append(
                reqwest::header::AUTHORIZATION,
                reqwest::header::HeaderValue::from_str(value).unwrap(),
            );
        }
        let response = app
            .http
            .get(app.url("/datasets/100/records?limit=1"))
            .headers(headers)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.headers().get("www-authenticate").unwrap(),
            "Bearer"
        );
        let problem = problem_of(response, 401).await;
        assert_eq!(problem["code"], "unauthenticated");
    }
    // One valid header still passes.
    assert_eq!(app.get("/datasets/100/records?limit=1").await.status(), 200);
}

/// Connects to the gateway of `app` over raw TCP.
pub(crate) async fn raw_connection(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Everything the gateway writes until it closes the connection; panics if it is still open
/// after `within`.
pub(crate) async fn read_until_closed(
    stream: &mut tokio::net::tcp::OwnedReadHalf,
    within: Duration,
) -> String {
    let mut answer = Vec::new();
    tokio::time::timeout(within, stream.read_to_end(&mut answer))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "the connection is still open after {within:?}; read so far: {}",
                String::from_utf8_lossy(&answer)
            )
        })
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

/// The head of a raw answer, its header names lowercased.
pub(crate) fn head_of(answer: &str) -> String {
    answer
        .split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

#[tokio::test]
async fn a_body_trickled_past_the_deadline_is_answered_408_and_the_connection_closed() {
    let app = spawn_app_with(AppOptions {
        body_timeout: Duration::from_millis(300),
        ..AppOptions::default()
    })
    .await;
    let records_before = app.emulator().records_in_dataset(100);
    // (framing header, first body bytes, one more byte of body)
    let framings: [(&str, &[u8], &[u8]); 2] = [
        ("Content-Length: 100", b"{", b" "),
        ("Transfer-Encoding: chunked", b"1\r\n{\r\n", b"1\r\n \r\n"),
    ];
    for (framing, first, more) in framings {
        let (mut reader, mut writer) = raw_connection(&app).await.into_split();
        let head = format!(
            "POST /datasets/100/records HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\n{framing}\r\nX-Request-Id: slow-body-1\r\n\r\n",
            full_token()
        );
        writer.write_all(head.as_bytes()).await.unwrap();
        writer.write_all(first).await.unwrap();
        let trickle = tokio::spawn(async move {
            for _ in 0..40 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if writer.write_all(more).await.is_err() {
                    break;
                }
            }
        });
        let answer = read_until_closed(&mut reader, Duration::from_secs(3)).await;
        trickle.abort();
        let head = head_of(&answer);
        assert!(head.starts_with("http/1.1 408"), "{framing}: {answer}");
        assert!(
            head.contains("\r\nconnection: close"),
            "{framing}: {answer}"
        );
        assert!(
            head.contains("\r\ncontent-type: application/problem+json"),
            "{framing}: {answer}"
        );
        assert!(
            head.contains("\r\nx-request-id: slow-body-1"),
            "{framing}: {answer}"
        );
        assert!(
            answer.contains(r#""code":"request_timeout""#),
            "{framing}: {answer}"
        );
    }
    assert_eq!(app.emulator().records_in_dataset(100), records_before);
}

/// The sandbox binary with text logs at debug level on stdout, and its base URL.
fn spawn_text_logging_sandbox() -> (Child, String, mpsc::Receiver<String>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ecnow-gateway"));
    for (name, _) in std::env::vars() {
        if name.starts_with("GATEWAY_") || name.starts_with("CONTACTNOW_") {
            command.env_remove(name);
        }
    }
    let mut child = command
        .arg("sandbox")
        .env("GATEWAY_LISTEN", "127.0.0.1:0")
        .env("GATEWAY_LOG_FORMAT", "text")
        .env("GATEWAY_JWT_HS256_SECRET", JWT_SECRET)
        .env("RUST_LOG", "debug")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (lines, received) = mpsc::channel();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let base = loop {
        let line = received
            .recv_timeout(Duration::from_secs(20))
            .expect("the sandbox prints its API URL");
        if let Some(url) = line.trim().strip_prefix("API:") {
            let url = url.split_whitespace().next().expect("a URL after `API:`");
            break url.trim_end_matches('/').to_owned();
        }
    };
    (child, base, received)
}

#[tokio::test]
async fn caller_text_cannot_forge_a_text_log_line() {
    let (mut child, base, lines) = spawn_text_logging_sandbox();
    let response = reqwest::Client::new()
        .get(format!(
            "{base}/datasets/100/records?x%0AFORGED_LOG_LINE%3Dtrue%0D=1"
        ))
        .bearer_auth(full_token())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    // The refusal is logged (at debug level) before the answer is written.
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let logged: Vec<String> = lines.try_iter().collect();
    assert!(
        logged
            .iter()
            .all(|line| !line.starts_with("FORGED_LOG_LINE")),
        "{logged:#?}"
    );
    assert!(
        logged
            .iter()
            .any(|line| line.contains(r"x\nFORGED_LOG_LINE=true\r")),
        "the refusal is logged with its text escaped: {logged:#?}"
    );
}

/// Writes `request` on a fresh connection and reads the answer until the gateway closes it.
async fn raw_exchange(app: &TestApp, request: &str) -> String {
    let (mut reader, mut writer) = raw_connection(app).await.into_split();
    writer.write_all(request.as_bytes()).await.unwrap();
    read_until_closed(&mut reader, Duration::from_secs(5)).await
}

#[tokio::test]
async fn oversized_header_fields_are_a_431_problem_with_a_request_id() {
    let app = spawn_app().await;
    let padding = "p".repeat(MAX_HEADER_BYTES);
    let answer = raw_exchange(
        &app,
        &format!(
            "GET /datasets/100/records HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {}\r\n\
             X-Request-Id: big-head-1\r\nX-Padding: {padding}\r\nConnection: close\r\n\r\n",
            full_token()
        ),
    )
    .await;
    let head = head_of(&answer);
    assert!(head.starts_with("http/1.1 431"), "{answer}");
    assert!(
        head.contains("\r\ncontent-type: application/problem+json"),
        "{answer}"
    );
    assert!(head.contains("\r\nx-request-id: big-head-1"), "{answer}");
    let body: serde_json::Value =
        serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["code"], "headers_too_large", "{body}");
    assert_eq!(body["request_id"], "big-head-1", "{body}");
    // Just under the limit passes.
    let answer = raw_exchange(
        &app,
        &format!(
            "GET /healthz HTTP/1.1\r\nHost: g\r\nX-Padding: {}\r\nConnection: close\r\n\r\n",
            "p".repeat(MAX_HEADER_BYTES / 2)
        ),
    )
    .await;
    assert!(head_of(&answer).starts_with("http/1.1 200"), "{answer}");
}

#[tokio::test]
async fn ambiguous_body_framing_is_refused_and_the_connection_closed() {
    // actix-http's parser refuses these before any service runs (an empty 400: no hook exists to
    // shape it); the guarantee kept here is that nothing is smuggled through.
    let app = spawn_app_with_mock().await;
    let token = full_token();
    for framing in [
        "Content-Length: 2\r\nTransfer-Encoding: chunked",
        "Content-Length: 2\r\nContent-Length: 3",
    ] {
        let answer = raw_exchange(
            &app,
            &format!(
                "POST /datasets/100/records HTTP/1.1\r\nHost: g\r\nAuthorization: Bearer {token}\r\n\
                 Content-Type: application/json\r\n{framing}\r\n\r\n{{}}\r\n0\r\n\r\n"
            ),
        )
        .await;
        assert!(
            head_of(&answer).starts_with("http/1.1 400"),
            "{framing}: {answer}"
        );
    }
    let received = app.mock().received_requests().await.unwrap_or_default();
    assert!(received.is_empty(), "{received:?}");
}
