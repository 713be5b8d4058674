//! The emulator driven over HTTP, as the gateway and other teams' tests drive it.
//!
//! This file holds the harness; the tests are grouped by what they drive: `tokens` (token.php,
//! the token check, faults and counters, the script paths), `writes` (create and update),
//! `reads` (the read filters), `php_client` (arguments and payloads as the vendor's PHP wrapper
//! sends them), `config` (datasets, campaign tables and fields, outcome codes, dialler fields,
//! fixtures).

mod config;
mod php_client;
mod reads;
mod tokens;
mod writes;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::emulator::wire::{Args, PayloadError, parse_json_rows, parse_xml_rows};
use crate::emulator::{CallCounts, Emulator, EmulatorConfig, Fault};

struct Sandbox {
    emulator: Emulator,
    base: String,
    http: reqwest::Client,
}

struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

async fn spawn_with(config: EmulatorConfig) -> Sandbox {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let emulator = Emulator::new(config);
    let server = emulator.clone().serve(listener).expect("serve");
    tokio::spawn(server);
    Sandbox {
        emulator,
        base: format!("http://127.0.0.1:{port}"),
        http: reqwest::Client::new(),
    }
}

async fn spawn() -> Sandbox {
    spawn_with(EmulatorConfig::default()).await
}

fn enc(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A POST field: name and value.
type Field<'a> = (&'a str, &'a str);

/// The boundary PHP's curl puts between the POST fields of an array (`CURLOPT_POSTFIELDS`).
const CURL_BOUNDARY: &str = "------------------------d74496d66958873e";
/// The label the vendor's PHP wrapper puts on every POST, raw JSON payloads included.
const URLENCODED: &str = "application/x-www-form-urlencoded";

/// A `multipart/form-data` body as PHP's curl builds it from an array of POST fields, and its
/// `Content-Type`.
fn multipart(fields: &[Field]) -> (String, String) {
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{CURL_BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{CURL_BOUNDARY}--\r\n"));
    (
        format!("multipart/form-data; boundary={CURL_BOUNDARY}"),
        body,
    )
}

impl Sandbox {
    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response.text().await.expect("body");
        Answer {
            status,
            content_type,
            body,
        }
    }

    async fn get(&self, path_and_query: &str) -> Answer {
        self.send(self.http.get(format!("{}/{path_and_query}", self.base)))
            .await
    }

    async fn post(&self, path_and_query: &str, body: &str) -> Answer {
        self.send(
            self.http
                .post(format!("{}/{path_and_query}", self.base))
                .body(body.to_owned()),
        )
        .await
    }

    /// A POST with this `Content-Type`.
    async fn post_as(&self, path_and_query: &str, content_type: &str, body: &str) -> Answer {
        self.send(
            self.http
                .post(format!("{}/{path_and_query}", self.base))
                .header("content-type", content_type)
                .body(body.to_owned()),
        )
        .await
    }

    /// A POST of multipart fields, as the vendor's PHP wrapper sends read filters.
    async fn post_fields(&self, path_and_query: &str, fields: &[Field<'_>]) -> Answer {
        let (content_type, body) = multipart(fields);
        self.post_as(path_and_query, &content_type, &body).await
    }

    async fn token(&self) -> String {
        let answer = self
            .get("token.php?action=get&username=sandbox&password=sandbox&format=json")
            .await
            .json();
        answer["token"].as_str().expect("token").to_owned()
    }

    async fn read(&self, token: &str, filters: &str) -> Value {
        self.get(&format!(
            "ecnow.php?token={token}&method=ecnow_records&action=read&format=json&raw=1&{filters}"
        ))
        .await
        .json()
    }

    async fn write(&self, token: &str, action: &str, format: &str, body: &str) -> Answer {
        self.post(
            &format!(
                "ecnow.php?token={token}&method=ecnow_records&action={action}&format={format}&raw=1"
            ),
            body,
        )
        .await
    }

    async fn create_json(&self, token: &str, rows: Value) -> Value {
        self.write(token, "create", "json", &rows.to_string())
            .await
            .json()
    }

    fn ids(list: &Value) -> Vec<String> {
        list["list"]
            .as_array()
            .expect("list")
            .iter()
            .map(|r| r["id"].as_str().expect("string id").to_owned())
            .collect()
    }
}

/// The query string the vendor's PHP wrapper builds: `method`, `action`, then `token`,
/// `format`, `campaign` and `raw`.
fn wrapper_query(token: &str, action: &str, format: &str) -> String {
    format!(
        "ecnow.php?method=ecnow_records&action={action}&token={token}&format={format}&campaign=1&raw=1"
    )
}
