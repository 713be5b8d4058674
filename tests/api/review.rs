//! Holes a review found after issue #11: cancelled calls and the circuit breaker, bodies left
//! unread on routes that never read them, token.php refusing by HTTP status, cluster leases of
//! cancelled acquires, and caller text in JSON logs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ecnow_gateway::upstream::breaker::BreakerSettings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::path;
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{
    AppOptions, captured_logs, full_token, json_of, problem_of, spawn_app_with,
    spawn_app_with_mock, start_redis,
};
use crate::redteam_edge::{head_of, raw_connection, read_until_closed};

const READ: &str = "/datasets/100/records?limit=1";

#[tokio::test]
async fn reads_cancelled_mid_call_never_open_the_circuit_breaker() {
    let app = spawn_app_with(AppOptions {
        breaker: BreakerSettings {
            failures: 2,
            cooldown: Duration::from_secs(10),
        },
        ..AppOptions::default()
    })
    .await;
    json_of(app.get(READ).await, 200).await;
    app.emulator().set_latency(Duration::from_millis(1500));
    for _ in 0..4 {
        let stream = raw_connection(&app).await;
        let head = format!(
            "GET {READ} HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {}\r\n\r\n",
            full_token()
        );
        let (reader, mut writer) = stream.into_split();
        writer.write_all(head.as_bytes()).await.unwrap();
        // The read waits on the slow upstream; the caller then resets the connection.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let stream = reader.reunite(writer).unwrap();
        stream.set_zero_linger().unwrap();
        drop(stream);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.emulator().set_latency(Duration::ZERO);
    json_of(app.get(READ).await, 200).await;
    let ready = json_of(app.http.get(app.url("/readyz")).send().await.unwrap(), 200).await;
    assert_eq!(ready["status"], "ready");
    assert!(
        app.metrics_text()
            .await
            .contains("\necnow_gateway_upstream_circuit_state 0\n"),
        "the breaker is closed"
    );
}

#[tokio::test]
async fn a_body_left_unread_closes_the_connection_on_every_route() {
    let app = spawn_app_with(AppOptions::default()).await;
    // (request line, authorization header, expected status)
    let token = format!("Authorization: Bearer {}\r\n", full_token());
    let cases = [
        ("POST /datasets/1/records", String::new(), "401"),
        ("GET /datasets/100/records?limit=1", token.clone(), "200"),
        ("GET /healthz", String::new(), "200"),
        ("POST /nowhere", String::new(), "404"),
        ("DELETE /datasets/100/records", token, "405"),
    ];
    for (request_line, authorization, status) in cases {
        let (mut reader, mut writer) = raw_connection(&app).await.into_split();
        let head = format!(
            "{request_line} HTTP/1.1\r\nHost: gateway\r\n{authorization}\
             Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{{\r\n"
        );
        writer.write_all(head.as_bytes()).await.unwrap();
        let trickle = tokio::spawn(async move {
            for _ in 0..100 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if writer.write_all(b"1\r\n \r\n").await.is_err() {
                    break;
                }
            }
        });
        let answer = read_until_closed(&mut reader, Duration::from_secs(3)).await;
        trickle.abort();
        let head = head_of(&answer);
        assert!(
            head.starts_with(&format!("http/1.1 {status}")),
            "{request_line}: {answer}"
        );
        assert!(
            head.contains("\r\nconnection: close"),
            "{request_line}: {answer}"
        );
    }
}

#[tokio::test]
async fn a_body_read_whole_keeps_the_connection_open() {
    let app = spawn_app_with(AppOptions::default()).await;
    let response = app
        .post(
            "/datasets/100/records",
            &serde_json::json!({"mobile_phone": "07123456789"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    assert!(response.headers().get("connection").is_none());
}

#[tokio::test]
async fn a_token_endpoint_answering_401_is_asked_once_and_remembered() {
    let app = spawn_app_with_mock().await;
    Mock::given(path("/token.php"))
        .respond_with(ResponseTemplate::new(401))
        .mount(app.mock())
        .await;
    for _ in 0..4 {
        let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(problem_of(ready, 503).await["code"], "upstream_auth_failed");
        let problem = problem_of(app.get(READ).await, 503).await;
        assert_eq!(problem["code"], "upstream_auth_failed");
    }
    let token_calls = app
        .mock()
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|request| request.url.path() == "/token.php")
        .count();
    assert_eq!(token_calls, 1, "a refused API key is sent once");
}

#[tokio::test]
async fn caller_text_in_json_logs_has_its_invisible_and_control_characters_escaped() {
    let app = spawn_app_with(AppOptions::default()).await;
    // `review-log` U+202E (right-to-left override) U+009B (C1 CSI) U+2028 (line separator) DEL
    let name = "review-log%E2%80%AE%C2%9B%E2%80%A8%7F";
    problem_of(app.get(&format!("{READ}&{name}=1")).await, 400).await;
    let logs = captured_logs();
    let lines: Vec<&str> = logs
        .lines()
        .filter(|line| line.contains("review-log"))
        .collect();
    assert!(!lines.is_empty(), "the refusal was logged");
    for line in lines {
        assert!(
            !line.contains(['\u{202e}', '\u{9b}', '\u{2028}', '\u{7f}']),
            "a raw invisible or control character in a JSON log line: {line:?}"
        );
        assert!(
            line.contains(r"review-log\u202e\u009b\u2028\u007f"),
            "the characters are written as JSON escapes: {line}"
        );
        let value: serde_json::Value = serde_json::from_str(line).expect("each line stays JSON");
        assert!(
            value
                .to_string()
                .contains("review-log\u{202e}\u{9b}\u{2028}\u{7f}"),
            "the escapes decode to the caller's text: {value}"
        );
    }
}

/// A TCP proxy to `target` that withholds the answers (target to client) while `paused` is set;
/// with `armed` set, the next script call (`EVAL`/`EVALSHA`) sets `paused` before it is passed on.
pub(crate) async fn answer_withholding_proxy(
    target: String,
    armed: Arc<AtomicBool>,
    paused: Arc<AtomicBool>,
) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = tokio::net::TcpStream::connect(&target).await else {
                continue;
            };
            let (armed, paused, paused_by_script) = (armed.clone(), paused.clone(), paused.clone());
            let (mut client_reader, mut client_writer) = client.into_split();
            let (mut server_reader, mut server_writer) = server.into_split();
            tokio::spawn(async move {
                let mut buffer = vec![0; 16 * 1024];
                loop {
                    let read = match client_reader.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => read,
                    };
                    let sent = &buffer[..read];
                    if armed.load(Ordering::SeqCst)
                        && sent
                            .windows(4)
                            .any(|window| window.eq_ignore_ascii_case(b"EVAL"))
                    {
                        armed.store(false, Ordering::SeqCst);
                        paused_by_script.store(true, Ordering::SeqCst);
                    }
                    if server_writer.write_all(sent).await.is_err() {
                        return;
                    }
                }
            });
            tokio::spawn(async move {
                let mut buffer = vec![0; 16 * 1024];
                loop {
                    let read = match server_reader.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => read,
                    };
                    while paused.load(Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    if client_writer.write_all(&buffer[..read]).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("redis://{address}/")
}

/// The number of live upstream leases in the shared Redis at `url`.
fn leases_in(url: &str) -> u64 {
    let output = std::process::Command::new("redis-cli")
        .args(["-u", url, "ZCARD", "ecnow-gateway:upstream-leases"])
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap()
}

/// The number of live leases once it is `expected`, or after 2 s.
async fn leases_once(url: &str, expected: u64) -> u64 {
    for _ in 0..100 {
        if leases_in(url) == expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    leases_in(url)
}

#[tokio::test]
async fn a_request_cancelled_while_redis_answers_its_lease_leaks_no_slot() {
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
        max_concurrency: 1,
        redis_url: Some(proxy_url),
        ..AppOptions::default()
    })
    .await;
    json_of(app.get(READ).await, 200).await;
    assert_eq!(
        leases_once(&redis.url, 0).await,
        0,
        "the read's lease is gone"
    );
    armed.store(true, Ordering::SeqCst);
    let (reader, mut writer) = raw_connection(&app).await.into_split();
    let head = format!(
        "GET {READ} HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {}\r\n\r\n",
        full_token()
    );
    writer.write_all(head.as_bytes()).await.unwrap();
    // The lease script ran on Redis; its answer is held back while the caller resets.
    assert_eq!(leases_once(&redis.url, 1).await, 1, "the lease was taken");
    let stream = reader.reunite(writer).unwrap();
    stream.set_zero_linger().unwrap();
    drop(stream);
    tokio::time::sleep(Duration::from_millis(300)).await;
    paused.store(false, Ordering::SeqCst);
    assert_eq!(
        leases_once(&redis.url, 0).await,
        0,
        "the cancelled request's lease was removed, not left to expire"
    );
    json_of(app.get(READ).await, 200).await;
}

/// How many times the lease script ran on the Redis at `url` since its statistics were reset.
fn lease_script_runs(url: &str) -> u64 {
    let output = std::process::Command::new("redis-cli")
        .args(["-u", url, "INFO", "commandstats"])
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| line.starts_with("cmdstat_evalsha:") || line.starts_with("cmdstat_eval:"))
        .filter_map(|line| {
            line.split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

#[tokio::test]
async fn requests_queued_for_a_cluster_slot_wait_in_this_replica_not_on_redis() {
    let Some(redis) = start_redis() else { return };
    let app = spawn_app_with(AppOptions {
        max_concurrency: 1,
        queue_timeout: Duration::from_secs(5),
        redis_url: Some(redis.url.clone()),
        ..AppOptions::default()
    })
    .await;
    json_of(app.get(READ).await, 200).await;
    let reset = std::process::Command::new("redis-cli")
        .args(["-u", &redis.url, "CONFIG", "RESETSTAT"])
        .output()
        .expect("redis-cli runs");
    assert!(reset.status.success());
    app.emulator().set_latency(Duration::from_millis(300));
    const QUEUED: usize = 4;
    let reads = (0..QUEUED).map(|_| app.get(READ));
    for response in futures_util::future::join_all(reads).await {
        assert_eq!(response.status(), 200);
    }
    let runs = lease_script_runs(&redis.url);
    assert!(
        runs <= 2 * QUEUED as u64,
        "{runs} lease script runs for {QUEUED} queued reads"
    );
}
