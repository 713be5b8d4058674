//! The test harness: the gateway on port 0 against the emulator or a wiremock upstream, a typed
//! client, dev tokens, and the captured log of the whole test binary.

use std::io::Write;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use ecnow_gateway::auth::{AuthSettings, TokenRequest, mint};
use ecnow_gateway::config::{
    DEFAULT_BODY_LIMIT, DEFAULT_BODY_TIMEOUT_MS, RateLimit, Settings, parse_base_url,
};
use ecnow_gateway::cors::CorsSettings;
use ecnow_gateway::emulator::{Emulator, EmulatorConfig};
use ecnow_gateway::idempotency::IdempotencySettings;
use ecnow_gateway::imports::ImportSettings;
use ecnow_gateway::startup::Application;
use ecnow_gateway::telemetry::{LogFormat, init_subscriber};
use ecnow_gateway::upstream::breaker::BreakerSettings;
use ecnow_gateway::upstream::metadata::DEFAULT_METADATA_TTL_SECS;
use ecnow_gateway::upstream::{UpstreamSettings, WireFormat};
use secrecy::SecretString;
use serde_json::Value;
use tracing_subscriber::fmt::MakeWriter;
use wiremock::MockServer;

/// The JWT secret of every test gateway.
pub const JWT_SECRET: &str = "test-secret-0123456789-abcdefghijklmnop";
/// The upstream credentials of every test gateway.
pub const API_USER: &str = "gateway-test";
pub const API_KEY: &str = "api-key-s3cr3t-9f8e7d6c5b4a";

/// Every log line written by any gateway of this test binary, at debug level.
static LOGS: LazyLock<LogBuffer> = LazyLock::new(|| {
    let buffer = LogBuffer::default();
    init_subscriber(LogFormat::Json, "debug", false, None, buffer.clone());
    buffer
});

#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        if std::env::var_os("TEST_LOG").is_some() {
            std::io::stdout().write_all(bytes)?;
        }
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// All log output captured so far.
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&LOGS.0.lock().unwrap()).into_owned()
}

/// What the gateway under test talks to.
pub enum Upstream {
    /// The built-in emulator, served on its own port.
    Emulator(Emulator),
    /// A wiremock server the test programs.
    Mock(MockServer),
}

/// How to spawn a test gateway.
pub struct AppOptions {
    pub format: WireFormat,
    pub timeout: Duration,
    pub emulator: Option<EmulatorConfig>,
    pub body_limit: usize,
    pub body_timeout: Duration,
    /// Overrides the upstream base URL (the emulator still runs, unused).
    pub base_url: Option<String>,
    pub idempotency: IdempotencySettings,
    /// Replaces the default HS256-only authentication.
    pub auth: Option<AuthSettings>,
    pub rate_limit: Option<RateLimit>,
    pub max_concurrency: usize,
    pub queue_timeout: Duration,
    pub breaker: BreakerSettings,
    /// The shared Redis (`GATEWAY_REDIS_URL`), if any.
    pub redis_url: Option<String>,
    pub cors: CorsSettings,
    /// Bulk imports (`GATEWAY_IMPORT_*`).
    pub imports: ImportSettings,
    /// How long a campaign table's dataset list is kept.
    pub metadata_ttl: Duration,
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            format: WireFormat::Json,
            timeout: Duration::from_secs(5),
            emulator: Some(EmulatorConfig {
                username: API_USER.into(),
                api_key: API_KEY.into(),
                ..EmulatorConfig::default()
            }),
            body_limit: DEFAULT_BODY_LIMIT,
            body_timeout: Duration::from_millis(DEFAULT_BODY_TIMEOUT_MS),
            base_url: None,
            idempotency: IdempotencySettings::default(),
            auth: None,
            rate_limit: None,
            max_concurrency: 256,
            queue_timeout: Duration::from_secs(1),
            breaker: BreakerSettings::default(),
            redis_url: None,
            cors: CorsSettings::default(),
            imports: ImportSettings::default(),
            metadata_ttl: Duration::from_secs(DEFAULT_METADATA_TTL_SECS),
        }
    }
}

/// A running gateway and its upstream.
pub struct TestApp {
    pub address: String,
    /// The upstream base URL the gateway uses.
    pub upstream_url: String,
    pub upstream: Upstream,
    pub http: reqwest::Client,
    /// Drains and stops the gateway, as SIGTERM does.
    pub stopper: ecnow_gateway::startup::Stopper,
}

/// The gateway against a fresh emulator, speaking JSON.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(AppOptions::default()).await
}

/// The gateway against a fresh wiremock upstream: nothing mounted yet but, at the lowest
/// priority, a refusal of the dataset, outcome-code and campaign lists and of the campaign
/// fields (so the records checks are skipped unless a test mounts those lists).
pub async fn spawn_app_with_mock() -> TestApp {
    let app = spawn_app_with(AppOptions {
        emulator: None,
        ..AppOptions::default()
    })
    .await;
    let refused = serde_json::json!({"success": false, "error": "Bad argument: method"});
    for mock in [
        wiremock::Mock::given(wiremock::matchers::path("/ecnow.php"))
            .and(wiremock::matchers::query_param("method", "ecnow_datasets")),
        wiremock::Mock::given(wiremock::matchers::path("/database.php"))
            .and(wiremock::matchers::query_param("method", "outcomecodes")),
        wiremock::Mock::given(wiremock::matchers::path("/ecnow.php"))
            .and(wiremock::matchers::query_param("method", "campaign_tables")),
        wiremock::Mock::given(wiremock::matchers::path("/ecnow.php"))
            .and(wiremock::matchers::query_param("method", "campaign_fields")),
    ] {
        mock.respond_with(wiremock::ResponseTemplate::new(200).set_body_json(refused.clone()))
            .with_priority(u8::MAX)
            .mount(app.mock())
            .await;
    }
    app
}

pub async fn spawn_app_with(options: AppOptions) -> TestApp {
    LazyLock::force(&LOGS);
    let (upstream, base_url) = match options.emulator {
        Some(config) => {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let emulator = Emulator::new(config);
            tokio::spawn(emulator.clone().serve(listener).unwrap());
            (
                Upstream::Emulator(emulator),
                format!("http://127.0.0.1:{port}/"),
            )
        }
        None => {
            let server = MockServer::start().await;
            let uri = format!("{}/", server.uri());
            (Upstream::Mock(server), uri)
        }
    };
    let base_url = options.base_url.unwrap_or(base_url);
    let settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        upstream: UpstreamSettings {
            base_url: parse_base_url(&base_url).unwrap(),
            username: API_USER.into(),
            api_key: SecretString::from(API_KEY),
            format: options.format,
            timeout: options.timeout,
            max_concurrency: options.max_concurrency,
            queue_timeout: options.queue_timeout,
            breaker: options.breaker,
            metadata_ttl: options.metadata_ttl,
        },
        auth: options.auth.unwrap_or_else(|| AuthSettings {
            hs256_secret: Some(SecretString::from(JWT_SECRET)),
            ..AuthSettings::default()
        }),
        body_limit: options.body_limit,
        body_timeout: options.body_timeout,
        workers: Some(1),
        idempotency: options.idempotency,
        rate_limit: options.rate_limit,
        redis_url: options.redis_url.map(Into::into),
        cors: options.cors,
        imports: options.imports,
    };
    let application = Application::build(&settings).expect("the test gateway builds");
    let address = format!("http://127.0.0.1:{}", application.port());
    let stopper = application.stopper();
    tokio::spawn(application.run_until_stopped());
    TestApp {
        address,
        upstream_url: settings.upstream.base_url.to_string(),
        upstream,
        stopper,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

/// A dev token with `scope`, optionally limited to datasets and tables.
pub fn token_for(scope: &str, datasets: Option<Vec<u64>>, tables: Option<Vec<&str>>) -> String {
    mint(
        &SecretString::from(JWT_SECRET),
        &TokenRequest {
            sub: "api-test".into(),
            scope: scope.into(),
            datasets,
            tables: tables.map(|t| t.into_iter().map(String::from).collect()),
            ttl: Duration::from_secs(600),
        },
    )
    .unwrap()
}

/// A read-and-write token on everything, of caller `sub`.
pub fn token_of(sub: &str) -> String {
    mint(
        &SecretString::from(JWT_SECRET),
        &TokenRequest {
            sub: sub.into(),
            scope: "records:read records:write".into(),
            datasets: None,
            tables: None,
            ttl: Duration::from_secs(600),
        },
    )
    .unwrap()
}

/// A token with read and write on everything.
pub fn full_token() -> String {
    token_for("records:read records:write", None, None)
}

impl TestApp {
    /// The Prometheus text of `/metrics`.
    pub async fn metrics_text(&self) -> String {
        let response = self.http.get(self.url("/metrics")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    pub fn emulator(&self) -> &Emulator {
        match &self.upstream {
            Upstream::Emulator(emulator) => emulator,
            Upstream::Mock(_) => panic!("this test app runs against wiremock"),
        }
    }

    pub fn mock(&self) -> &MockServer {
        match &self.upstream {
            Upstream::Mock(server) => server,
            Upstream::Emulator(_) => panic!("this test app runs against the emulator"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// `method path` with a bearer token and, if given, a JSON body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("the gateway answers")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.send(reqwest::Method::GET, path, Some(&full_token()), None)
            .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.send(reqwest::Method::POST, path, Some(&full_token()), Some(body))
            .await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> reqwest::Response {
        self.send(
            reqwest::Method::PATCH,
            path,
            Some(&full_token()),
            Some(body),
        )
        .await
    }

    /// Creates a record with one mobile phone in `dataset` (asserting `201`); its id.
    pub async fn create_record(&self, dataset: u64) -> u64 {
        let body = serde_json::json!({"mobile_phone": "07123456789"});
        let created = json_of(
            self.post(&format!("/datasets/{dataset}/records"), &body)
                .await,
            201,
        )
        .await;
        created["id"].as_u64().expect("a numeric id")
    }
}

/// Reads a JSON answer, asserting its status.
pub async fn json_of(response: reqwest::Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Reads a problem+json answer, asserting its status and the RFC 9457 members.
pub async fn problem_of(response: reqwest::Response, status: u16) -> Value {
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let request_id = response
        .headers()
        .get("x-request-id")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let problem = json_of(response, status).await;
    assert_eq!(content_type, "application/problem+json", "{problem}");
    assert_eq!(problem["status"], status, "{problem}");
    assert!(
        problem["type"].as_str().is_some_and(|t| !t.is_empty()),
        "{problem}"
    );
    assert!(
        problem["title"].is_string() && problem["detail"].is_string(),
        "{problem}"
    );
    assert!(problem["code"].is_string(), "{problem}");
    assert_eq!(problem["request_id"], request_id.as_str(), "{problem}");
    problem
}

/// The upstream token a wiremock `token.php` hands out.
pub const MOCK_TOKEN: &str = "0123456789abcdef0123456789abcdef01234567";

/// Unix seconds `from_now` ahead.
pub fn unix_in(from_now: Duration) -> u64 {
    (std::time::SystemTime::now() + from_now)
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Mounts a `token.php` that hands out [`MOCK_TOKEN`] for 12 h, expected `times` times.
pub async fn mount_token(server: &MockServer, times: u64) {
    use wiremock::matchers::{method, path, query_param};
    wiremock::Mock::given(method("GET"))
        .and(path("/token.php"))
        .and(query_param("action", "get"))
        .and(query_param("username", API_USER))
        .and(query_param("password", API_KEY))
        .respond_with(
            wiremock::ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "success": true, "token": MOCK_TOKEN, "expire": unix_in(Duration::from_secs(43200))
            })),
        )
        .expect(times)
        .named("token.php")
        .mount(server)
        .await;
}

/// Mounts an `ecnow.php` answering `action` with `body` (JSON), expected `times` times.
pub async fn mount_ecnow(server: &MockServer, action: &str, body: Value, times: u64) {
    use wiremock::matchers::{path, query_param};
    wiremock::Mock::given(path("/ecnow.php"))
        .and(query_param("method", "ecnow_records"))
        .and(query_param("action", action))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(body))
        .expect(times)
        .named(format!("ecnow.php {action}"))
        .mount(server)
        .await;
}

/// The `ecnow.php` requests wiremock received: (query string, body).
pub async fn ecnow_requests(server: &MockServer) -> Vec<(String, String)> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|request| request.url.path() == "/ecnow.php")
        .map(|request| {
            (
                request.url.query().unwrap_or_default().to_owned(),
                String::from_utf8(request.body).unwrap(),
            )
        })
        .collect()
}

/// The `ecnow_records` requests wiremock received: (query string, body).
pub async fn record_requests(server: &MockServer) -> Vec<(String, String)> {
    let mut requests = ecnow_requests(server).await;
    requests.retain(|(query, _)| query.contains("method=ecnow_records"));
    requests
}

/// A throwaway redis-server on a free loopback port, stopped on drop.
pub struct Redis {
    child: Child,
    pub url: String,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Set to `1` to skip, knowingly, the tests that need `redis-server` when it is not installed.
const SKIP_REDIS_TESTS: &str = "ECNOW_SKIP_REDIS_TESTS";

pub fn start_redis() -> Option<Redis> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .spawn();
    let child = match child {
        Ok(child) => child,
        // A missing redis-server fails the test: a skip would report `ok` for a test that never
        // ran. Skipping takes an explicit choice, and is never allowed in CI.
        Err(error)
            if std::env::var_os("CI").is_none()
                && std::env::var_os(SKIP_REDIS_TESTS).is_some_and(|v| v == "1") =>
        {
            eprintln!("SKIPPED ({SKIP_REDIS_TESTS}=1): redis-server cannot start: {error}");
            return None;
        }
        Err(error) => panic!(
            "redis-server cannot start ({error}): install it (apt-get install redis-server), \
             or set {SKIP_REDIS_TESTS}=1 outside CI to skip the tests that need it"
        ),
    };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(Redis {
                child,
                url: format!("redis://127.0.0.1:{port}/"),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("redis-server did not start");
}

/// Uploads `body` as an import to `path`, with `token` and, if given, an `Idempotency-Key`.
pub async fn upload_as(
    app: &TestApp,
    token: &str,
    path: &str,
    content_type: &str,
    body: String,
    key: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .http
        .post(app.url(path))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body);
    if let Some(key) = key {
        request = request.header("idempotency-key", format!("\"{key}\""));
    }
    request.send().await.expect("the gateway answers")
}

/// Uploads `body` as an import to dataset 100 with a full token.
pub async fn upload(app: &TestApp, content_type: &str, body: String) -> reqwest::Response {
    upload_as(
        app,
        &full_token(),
        "/datasets/100/imports",
        content_type,
        body,
        None,
    )
    .await
}

/// Polls the import until its state is final.
pub async fn finished(app: &TestApp, token: &str, location: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let response = app
            .http
            .get(app.url(location))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let import = json_of(response, 200).await;
        let state = import["state"].as_str().unwrap().to_owned();
        if !["validating", "sending"].contains(&state.as_str()) {
            return import;
        }
        assert!(
            Instant::now() < deadline,
            "the import never ended: {import}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
