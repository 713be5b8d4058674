//! `ecnow-gateway sandbox`: the banner (URLs, fixtures, the random secret's `export` line) and
//! the JSON index its API URL leads to.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

use crate::doctor::gateway;
use crate::helpers::{json_of, spawn_app};

/// A running sandbox, killed on drop.
struct Sandbox(Child);

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary's `sandbox` on a free port with `log_format` and returns it with its
/// banner: every stdout line (logs included) up to the `export TOKEN=` line.
async fn start_sandbox(log_format: &str, env: &[(&str, &str)]) -> (Sandbox, String) {
    let mut child = gateway()
        .arg("sandbox")
        .envs(env.iter().copied())
        .env("GATEWAY_LISTEN", "127.0.0.1:0")
        .env("GATEWAY_LOG_FORMAT", log_format)
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let sandbox = Sandbox(child);
    let banner = tokio::task::spawn_blocking(move || {
        let mut reader = BufReader::new(stdout);
        let mut banner = String::new();
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap() > 0 {
            banner.push_str(&line);
            if line.contains("export TOKEN=") {
                break;
            }
            line.clear();
        }
        // Keep reading, so that the sandbox's later writes never meet a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        banner
    })
    .await
    .unwrap();
    (sandbox, banner)
}

/// The value after `prefix` on the banner line that holds it.
fn after<'a>(banner: &'a str, prefix: &str) -> &'a str {
    banner
        .lines()
        .find_map(|line| line.trim().strip_prefix(prefix))
        .unwrap_or_else(|| panic!("a `{prefix}` line: {banner}"))
        .trim()
}

#[tokio::test]
async fn the_sandbox_banner_lists_the_fixtures_and_its_api_url_answers_the_index() {
    let (_sandbox, banner) = start_sandbox("json", &[]).await;
    for (dataset, status, campaign) in [
        ("100", "live", "sandbox_campaign"),
        ("200", "live", "sandbox_campaign"),
        ("300", "expired", "other_campaign"),
    ] {
        assert!(
            banner.lines().any(|line| {
                let words: Vec<&str> = line.split_whitespace().collect();
                words.starts_with(&[dataset, status, "campaign", campaign])
            }),
            "dataset {dataset}: {banner}"
        );
    }
    assert!(
        after(&banner, "Campaign tables:").contains("sandbox_campaign, other_campaign"),
        "{banner}"
    );
    assert!(
        banner.lines().any(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            words.starts_with(&["400", "hold", "campaign", "sandbox_campaign"])
        }),
        "dataset 400 on hold: {banner}"
    );
    // One line per outcome code of the account, the complete ones marked.
    for (code, rest) in [
        ("100", "New Prospect"),
        ("200", "complete Sale"),
        ("510456", "complete Appointment Booked"),
    ] {
        assert!(
            banner.lines().any(|line| {
                line.trim().strip_prefix(code).is_some_and(|tail| {
                    tail.split_whitespace().collect::<Vec<_>>().join(" ") == rest
                })
            }),
            "outcome {code}: {banner}"
        );
    }

    let api = after(&banner, "API:").split_whitespace().next().unwrap();
    let index = json_of(reqwest::get(api).await.unwrap(), 200).await;
    assert_eq!(index["name"], "ecnow-gateway");
    assert_eq!(index["version"], env!("CARGO_PKG_VERSION"));
    let swagger = after(&banner, "Swagger UI:");
    assert_eq!(reqwest::get(swagger).await.unwrap().status(), 200);

    // The random secret's export line mints tokens the running sandbox accepts.
    let secret = after(&banner, "export GATEWAY_JWT_HS256_SECRET=");
    assert_eq!(secret.len(), 64, "{banner}");
    let minted = gateway()
        .args(["token", "--scope", "records:read", "--datasets", "100"])
        .env("GATEWAY_JWT_HS256_SECRET", secret)
        .output()
        .unwrap();
    assert!(minted.status.success());
    let token = String::from_utf8(minted.stdout).unwrap();
    let read = reqwest::Client::new()
        .get(format!("{api}datasets/100/records?limit=1"))
        .bearer_auth(token.trim())
        .send()
        .await
        .unwrap();
    json_of(read, 200).await;
}

#[tokio::test]
async fn a_configured_secret_is_not_printed_by_the_sandbox() {
    let secret = "sandbox-configured-secret-0123456789abcdef";
    let mut child = gateway()
        .arg("sandbox")
        .env("GATEWAY_LISTEN", "127.0.0.1:0")
        .env("GATEWAY_JWT_HS256_SECRET", secret)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _sandbox = Sandbox(child);
    let banner = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map(Result::unwrap)
            .take_while(|line| !line.contains("export TOKEN="))
            .collect::<Vec<_>>()
            .join("\n")
    })
    .await
    .unwrap();
    assert!(banner.contains("Dev token"), "{banner}");
    assert!(!banner.contains(secret), "{banner}");
    assert!(
        !banner.contains("export GATEWAY_JWT_HS256_SECRET"),
        "{banner}"
    );
}

#[tokio::test]
async fn the_root_answers_the_json_index_without_a_token() {
    let app = spawn_app().await;
    let index = json_of(app.send(reqwest::Method::GET, "/", None, None).await, 200).await;
    assert_eq!(
        index,
        serde_json::json!({
            "name": "ecnow-gateway",
            "version": env!("CARGO_PKG_VERSION"),
            "links": {"swagger_ui": "/swagger-ui/", "openapi": "/openapi.json"},
        })
    );
}

#[tokio::test]
async fn text_logs_into_a_pipe_carry_no_colour_codes() {
    let (_sandbox, output) = start_sandbox("text", &[]).await;
    assert!(
        output.lines().any(|line| line.contains(" INFO ")),
        "text log lines came through the pipe: {output}"
    );
    assert!(
        !output.contains('\u{1b}'),
        "no ANSI escape in logs written to a pipe: {output:?}"
    );
}

#[tokio::test]
async fn traces_are_exported_over_otlp_in_the_callers_trace() {
    use wiremock::matchers::{method, path};
    let collector = wiremock::MockServer::start().await;
    wiremock::Mock::given(method("POST"))
        .and(path("/v1/traces"))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&collector)
        .await;
    let (_sandbox, banner) = start_sandbox(
        "json",
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.uri()),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ],
    )
    .await;
    let api = after(&banner, "API:").split_whitespace().next().unwrap();
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let answer = reqwest::Client::new()
        .get(format!("{api}healthz"))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    // OTLP protobuf carries the trace id as its 16 raw bytes.
    let trace_id_bytes: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&trace_id[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    for _ in 0..100 {
        let exported = collector.received_requests().await.unwrap_or_default();
        if exported.iter().any(|request| {
            request
                .body
                .windows(trace_id_bytes.len())
                .any(|window| window == trace_id_bytes.as_slice())
        }) {
            let request = &exported[0];
            assert_eq!(
                request.headers.get("content-type").unwrap(),
                "application/x-protobuf"
            );
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no span of the caller's trace reached the collector");
}
