//! The emulator driven over HTTP, as the gateway and other teams' tests drive it.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::wire::{Args, PayloadError, parse_json_rows, parse_xml_rows};
use super::{CallCounts, Emulator, EmulatorConfig, Fault};

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

#[tokio::test]
async fn token_get_hands_out_the_same_valid_token_and_validates_it() {
    let sandbox = spawn().await;
    let first = sandbox
        .get("token.php?action=get&username=sandbox&password=sandbox")
        .await;
    assert_eq!(first.status, 200);
    assert_eq!(first.content_type, "application/json");
    let first = first.json();
    assert_eq!(first["success"], json!(true));
    let token = first["token"].as_str().expect("token");
    assert_eq!(token.len(), 40);
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    let expire = first["expire"].as_i64().expect("expire");
    let now = chrono::Utc::now().timestamp();
    assert!((now + 12 * 3600 - 5..=now + 12 * 3600 + 5).contains(&expire));

    let again = sandbox.token().await;
    assert_eq!(again, token);
    assert_eq!(sandbox.emulator.current_token().as_deref(), Some(token));

    let xml = sandbox
        .get("token.php?action=get&username=sandbox&password=sandbox&format=xml")
        .await;
    assert_eq!(xml.content_type, "text/xml; charset=utf-8");
    assert_eq!(
        xml.body,
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<result><success>1</success>\
             <token>{token}</token><expire>{expire}</expire></result>\n"
        )
    );

    let valid = sandbox
        .get(&format!("token.php?action=validate&token={token}"))
        .await
        .json();
    assert_eq!(valid, json!({"success": true, "expire": expire}));
    let unknown = sandbox
        .get("token.php?action=validate&token=0123456789abcdef0123456789abcdef01234567")
        .await
        .json();
    assert_eq!(unknown, json!({"success": false, "error": "Invalid token"}));
}

#[tokio::test]
async fn token_get_refuses_bad_credentials_and_bad_actions() {
    let sandbox = spawn_with(EmulatorConfig {
        username: "api-user".into(),
        api_key: "s3cret".into(),
        ..EmulatorConfig::default()
    })
    .await;
    for query in [
        "token.php?action=get&username=api-user&password=wrong",
        "token.php?action=get&username=sandbox&password=s3cret",
        "token.php?action=get",
    ] {
        let answer = sandbox.get(query).await;
        assert_eq!(answer.status, 200, "{query}");
        assert_eq!(
            answer.json(),
            json!({"success": false, "error": "Authentication failure"}),
            "{query}"
        );
    }
    assert_eq!(sandbox.emulator.current_token(), None);
    let xml = sandbox
        .get("token.php?action=get&username=api-user&password=wrong&format=xml")
        .await;
    assert!(
        xml.body.ends_with(
            "<result><success>0</success><error>Authentication failure</error></result>\n"
        )
    );
    let no_action = sandbox.get("token.php?username=api-user").await.json();
    assert_eq!(no_action["error"], "Bad argument: action");
    let good = sandbox
        .get("token.php?action=get&username=api-user&password=s3cret")
        .await
        .json();
    assert_eq!(good["success"], json!(true));
}

#[tokio::test]
async fn expired_tokens_are_refused_and_a_new_one_is_minted() {
    let sandbox = spawn().await;
    let old = sandbox.token().await;
    assert_eq!(sandbox.read(&old, "dataset=100").await["total"], 5);

    sandbox.emulator.expire_tokens();
    assert_eq!(sandbox.emulator.current_token(), None);
    let refused = sandbox.read(&old, "dataset=100").await;
    assert_eq!(
        refused,
        json!({"success": false, "error": "Expired token", "expire": -1})
    );
    let validate = sandbox
        .get(&format!("token.php?action=validate&token={old}&format=xml"))
        .await;
    assert!(
        validate
            .body
            .contains("<success>0</success><error>Expired token</error><expire>-1</expire>")
    );

    let new = sandbox.token().await;
    assert_ne!(new, old);
    assert_eq!(sandbox.read(&new, "dataset=100").await["success"], true);

    sandbox.emulator.set_token_lifetime(Duration::ZERO);
    sandbox.emulator.expire_tokens();
    let short = sandbox.token().await;
    assert_eq!(
        sandbox.read(&short, "dataset=100").await["error"],
        "Expired token"
    );
}

#[tokio::test]
async fn ecnow_checks_the_token_then_method_then_action() {
    let sandbox = spawn().await;
    let missing = sandbox
        .get("ecnow.php?method=ecnow_records&action=read&dataset=100")
        .await;
    assert_eq!(missing.status, 200);
    assert_eq!(
        missing.json(),
        json!({"success": false, "error": "Invalid token"})
    );
    let token = sandbox.token().await;
    let method = sandbox
        .get(&format!(
            "ecnow.php?token={token}&method=ecnow_agents&action=read"
        ))
        .await
        .json();
    assert_eq!(method["error"], "Bad argument: method");
    let action = sandbox
        .get(&format!(
            "ecnow.php?token={token}&method=ecnow_records&action=delete&format=xml"
        ))
        .await;
    assert_eq!(
        action.body,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<result><success>0</success>\
         <error>Bad argument: action</error></result>\n"
    );
    let no_scope = sandbox.read(&token, "").await;
    assert_eq!(no_scope["error"], "Bad argument: dataset or table required");
    let no_raw = sandbox
        .post(
            &format!("ecnow.php?token={token}&method=ecnow_records&action=create&format=json"),
            r#"[{"dataset":"100","mobilephone":"07123456789"}]"#,
        )
        .await
        .json();
    assert_eq!(
        no_raw["error"],
        "No file uploaded. Missing 'easycall' section?"
    );
    assert_eq!(sandbox.emulator.records_in_dataset(100), 5);
}

#[tokio::test]
async fn seeded_dataset_reads_back_with_upstream_names() {
    let sandbox = spawn().await;
    let token = sandbox.token().await;
    let all = sandbox.read(&token, "dataset=100").await;
    assert_eq!(all["total"], 5);
    assert_eq!(
        Sandbox::ids(&all),
        ["550000", "550001", "550002", "550003", "550004"]
    );
    let first = &all["list"][0];
    let today = chrono::Local::now().date_naive().to_string();
    assert_eq!(first["datasetid"], "100");
    assert_eq!(first["FirstName"], "Joe");
    assert_eq!(first["company_name"], "Company Name");
    assert_eq!(first["test_field"], "");
    assert_eq!(first["AgentRef"], "0");
    assert_eq!(first["callback"], "0000-00-00 00:00:00");
    assert_eq!(first["outcomecode"], "100");
    assert_eq!(first["ProcessType"], "New Prospect");
    assert_eq!(first["loaddate"], today.as_str());
    assert_eq!(first["sourcefile"], "api_data_100.dat");
    assert_eq!(first["URN"], Value::Null);
    assert_eq!(first["VENDOR_URN"], Value::Null);
    assert_eq!(first.as_object().map(|o| o.len()), Some(2 + 24 + 2 + 2));
    let complete = &all["list"][2];
    assert_eq!(complete["ProcessType"], "COMPLETE");
    assert_eq!(complete["outcomecode"], "200");
    assert_ne!(complete["callback"], "0000-00-00 00:00:00");
    assert_eq!(sandbox.emulator.records_in_dataset(200), 0);
    assert_eq!(sandbox.read(&token, "dataset=200").await["total"], 0);
}

#[tokio::test]
async fn created_records_read_back_in_json() {
    let sandbox = spawn().await;
    let token = sandbox.token().await;
    let created = sandbox
        .create_json(
            &token,
            json!([{"title": "Mr", "firstName": "Joe", "LASTNAME": "Blogs/Bloggs",
                    "mobilephone": 7123456789u64, "dataset": 100,
                    "company_name": "Acme \"Ltd\"", "favourite_colour": "blue"}]),
        )
        .await;
    assert_eq!(
        created,
        json!({"success": true, "account_id": "10278", "total": 1, "bad": 0,
               "key": 550005, "info": "Record is LIVE on the dialer."})
    );
    let twice = sandbox
        .create_json(
            &token,
            json!([{"firstname": "Joe", "mobilephone": "07123456789", "dataset": "100"},
                   {"firstname": "Joe", "mobilephone": "07123456789", "dataset": "100"}]),
        )
        .await;
    assert_eq!(twice["total"], 2);
    assert_eq!(twice["key"], 550007);
    assert_eq!(sandbox.emulator.records_in_dataset(100), 8);

    let raw = sandbox
        .get(&format!(
            "ecnow.php?token={token}&method=ecnow_records&action=read&format=json&dataset=100&id=550005"
        ))
        .await;
    assert!(
        raw.body.contains(r#""LastName":"Blogs\/Bloggs""#),
        "{}",
        raw.body
    );
    let read = raw.json();
    assert_eq!(read["total"], 1);
    let row = &read["list"][0];
    assert_eq!(row["id"], "550005");
    assert_eq!(row["Title"], "Mr");
    assert_eq!(row["FirstName"], "Joe");
    assert_eq!(row["LastName"], "Blogs/Bloggs");
    assert_eq!(row["MobilePhone"], "7123456789");
    assert_eq!(row["HomePhone"], "");
    assert_eq!(row["company_name"], "Acme \"Ltd\"");
    assert_eq!(row["favourite_colour"], "blue");
    assert_eq!(row["ProcessDate"], "0000-00-00 00:00:00");

    let seeded = sandbox.read(&token, "dataset=100&id=550000").await;
    assert_eq!(seeded["list"][0]["favourite_colour"], "");
}

#[tokio::test]
async fn created_records_read_back_in_xml() {
    let sandbox = spawn().await;
    let token = sandbox.token().await;
    let payload = "<?xml version='1.0' encoding='utf-8' ?>\n<easycall>\n  <ecnow_records>\n    \
                   <FirstName>Zoë</FirstName>\n    <LastName>Smith &amp; Sons &#x263A;</LastName>\n    \
                   <dataset>200</dataset>\n    <MobilePhone>07700900999</MobilePhone>\n    \
                   <notes><![CDATA[a <b> c]]></notes>\n    <Postcode/>\n  </ecnow_records>\n</easycall>\n";
    let created = sandbox.write(&token, "create", "xml", payload).await;
    assert_eq!(created.content_type, "text/xml; charset=utf-8");
    assert_eq!(
        created.body,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<result><success>1</success>\
         <account_id>10278</account_id><total>1</total><bad>0</bad><key>550005</key>\
         <info>Record is LIVE on the dialer.</info></result>\n"
    );
    let read = sandbox
        .get(&format!(
            "ecnow.php?token={token}&method=ecnow_records&action=read&format=xml&dataset=200"
        ))
        .await;
    let body = &read.body;
    assert!(body.starts_with(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<result><success>1</success><total>1</total>\
         <list><ecnow_record><id>550005</id><datasetid>200</datasetid><Title />"
    ));
    for part in [
        "<FirstName>Zoë</FirstName>",
        "<LastName>Smith &amp; Sons ☺</LastName>",
        "<notes>a &lt;b&gt; c</notes>",
        "<MobilePhone>07700900999</MobilePhone>",
        "<Postcode />",
        "<URN></URN>",
        "<AgentRef>0</AgentRef>",
        "<sourcefile>api_data_200.dat</sourcefile>",
        "<company_name />",
        "</ecnow_record></list></result>",
    ] {
        assert!(body.contains(part), "{part} missing from {body}");
    }
    let empty = sandbox
        .get(&format!(
            "ecnow.php?token={token}&method=ecnow_records&action=read&format=xml&dataset=100&id=550005"
        ))
        .await;
    assert!(empty.body.contains("<total>0</total><list /></result>"));
}

#[tokio::test]
async fn create_counts_bad_rows_and_reports_the_last_error() {
    let sandbox = spawn().await;
    let token = sandbox.token().await;
    let answer = sandbox
        .create_json(
            &token,
            json!([
                {"dataset": "100", "mobilephone": "07700900001"},
                {"dataset": "100", "firstname": "No phone", "mobilephone": " "},
                {"dataset": "100", "homephone": "01130000000"},
                {"dataset": "300", "mobilephone": "07700900002"},
            ]),
        )
        .await;
    assert_eq!(
        answer,
        json!({"success": true, "account_id": "10278", "total": 2, "bad": 2, "key": 550006,
               "error": "Dataset [300] is expired.", "info": "Record is LIVE on the dialer."})
    );
    let unknown = sandbox
        .create_json(
            &token,
            json!([{"dataset": 999, "mobilephone": "07700900003"}]),
        )
        .await;
    assert_eq!(unknown["total"], 0);
    assert_eq!(unknown["bad"], 1);
    assert_eq!(unknown["key"], 0);
    assert_eq!(unknown["error"], "Dataset [999] does not exist.");
    let no_phone = sandbox
        .create_json(&token, json!([{"dataset": 100, "firstname": "Ann"}]))
        .await;
    assert_eq!(no_phone["error"], "No phone number provided.");
    assert_eq!(sandbox.emulator.records_in_dataset(100), 7);
    assert_eq!(sandbox.emulator.records_in_dataset(300), 0);
}

#[tokio::test]
async fn update_of_a_missing_record_keeps_success_true() {
    let sandbox = spawn().await;
    let token = sandbox.token().await;
    let missing = sandbox
        .post(
            &format!("ecnow.php?token={token}&method=ecnow_records&action=update&format=json&raw=1&id=2499265"),
            r#"[{"id":"2499265","dataset":"100","firstname":"X"}]"#,
        )
        .await
        .json();
    assert_eq!(
        missing,
        json!({"success": true, "account_id": "10278", "total": 0, "bad": 1,
               "error": "Record id [2499265] does not exist."})
    );
    let other_dataset = sandbox
        .write(
            &token,
            "update",
            "json",
            r#"[{"id":"550000","dataset":"200","firstname":"X"}]"#,
        )
        .await
        .json();
    assert_eq!(other_dataset["error"], "Record id [550000] does not exist.");
    let other_table = sandbox
        .write(
            &token,
            "update",
            "json",
            r#"[{"id":"550000","table":"other_campaign","firstname":"X"}]"#,
        )
        .await
        .json();
    assert_eq!(other_table["total"], 0);
    let xml = sandbox
        .write(
            &token,
            "update",
            "xml",
            "<easycall><ecnow_records><id>9</id><dataset>100</dataset></ecnow_records></easycall>",
        )
        .await;
    assert!(xml.body.ends_with(
        "<total>0</total><bad>1</bad><error>Record id [9] does not exist.</error></result>\n"
    ));
    assert_eq!(
        sandbox.read(&token, "dataset=100&id=550000").await["list"][0]["FirstName"],
        "Joe"
    );
}

#[tokio::test]
async fn update_changes_clears_and_appends() {
    let sandbox = spawn().await;
    let token = sandbox.token().await;
    let updated = sandbox
        .write(
            &token,
            "update",
            "json",
            r#"[{"id":"550003","table":"sandbox_campaign","FirstName":"Chloe","postcode":"",
                "notes_append":"Called back","test_field":"x"}]"#,
        )
        .await
        .json();
    assert_eq!(
        updated,
        json!({"success": true, "account_id": "10278", "total": 1, "bad": 0,
               "info": "Record is LIVE on the dialer."})
    );
    let row = &sandbox.read(&token, "dataset=100&id=550003").await["list"][0];
    assert_eq!(row["FirstName"], "Chloe");
    assert_eq!(row["Postcode"], "");
    assert_eq!(row["notes"], "Prefers email\nCalled back");
    assert_eq!(row["test_field"], "x");
    assert_eq!(row["MobilePhone"], "07700900123");

    let complete = sandbox
        .write(
            &token,
            "update",
            "json",
            r#"[{"id":550002,"dataset":100,"notes":"done"}]"#,
        )
        .await
        .json();
    assert_eq!(
        complete["info"],
        "Record is NOT live on the dialer due having a complete outcome."
    );
}

#[tokio::test]
async fn read_filters_by_outcome_phone_agent_and_mode() {
    let sandbox = spawn().await;
    let token = sandbox.token().await;
    let complete = sandbox.read(&token, "dataset=100&outcome=200").await;
    assert_eq!(Sandbox::ids(&complete), ["550002"]);
    let both = sandbox.read(&token, "dataset=100&outcome=200%2C100").await;
    assert_eq!(both["total"], 5);
    let none = sandbox.read(&token, "dataset=100&outcome=300,400").await;
    assert_eq!(none["total"], 0);
    assert_eq!(none["list"], json!([]));

    let ddi = sandbox.read(&token, "dataset=100&ddi=07700900456").await;
    assert_eq!(Sandbox::ids(&ddi), ["550004"]);
    let work = sandbox
        .read(&token, "table=sandbox_campaign&ddi=01614960000")
        .await;
    assert_eq!(Sandbox::ids(&work), ["550002"]);
    let partial_phone = sandbox.read(&token, "dataset=100&ddi=0770090045").await;
    assert_eq!(partial_phone["total"], 0);

    let agent = sandbox.read(&token, "dataset=100&agent=1001").await;
    assert_eq!(Sandbox::ids(&agent), ["550002"]);
    let active = sandbox.read(&token, "dataset=100&mode=active").await;
    assert_eq!(active["total"], 4);
    let bad_mode = sandbox.read(&token, "dataset=100&mode=sleepy").await;
    assert_eq!(bad_mode["error"], "Bad argument: mode");
}

#[tokio::test]
async fn read_search_is_wildcard_by_default_and_exact_on_request() {
    let sandbox = spawn().await;
    let token = sandbox.token().await;
    let wildcard = sandbox
        .read(&token, "dataset=100&search[LastName]=BLO")
        .await;
    assert_eq!(Sandbox::ids(&wildcard), ["550000"]);
    let exact_partial = sandbox
        .read(&token, "dataset=100&search%5Blastname%5D=BLO&type=exact")
        .await;
    assert_eq!(exact_partial["total"], 0);
    let exact = sandbox
        .read(&token, "dataset=100&search[lastname]=Blogs&type=exact")
        .await;
    assert_eq!(Sandbox::ids(&exact), ["550000"]);
    let star = sandbox
        .read(&token, "dataset=100&search[postcode]=LS*A")
        .await;
    assert_eq!(Sandbox::ids(&star), ["550003"]);
    let percent = sandbox
        .read(
            &token,
            &format!("dataset=100&search[Postcode]={}", enc("ls%y")),
        )
        .await;
    assert_eq!(Sandbox::ids(&percent), ["550004"]);
    let custom = sandbox
        .read(&token, "dataset=100&search[COMPANY_NAME]=company")
        .await;
    assert_eq!(Sandbox::ids(&custom), ["550000"]);
    let both = sandbox
        .read(&token, "dataset=100&search[title]=mr&search[firstname]=tom")
        .await;
    assert_eq!(Sandbox::ids(&both), ["550004"]);
    let unknown = sandbox
        .read(&token, "dataset=100&search[shoe_size]=9")
        .await;
    assert_eq!(unknown["error"], "Bad argument: search[shoe_size]");
}

#[tokio::test]
async fn read_limit_cuts_the_list_but_not_the_total_and_sort_orders_it() {
    let sandbox = spawn().await;
    let token = sandbox.token().await;
    let limited = sandbox.read(&token, "dataset=100&limit=2").await;
    assert_eq!(limited["total"], 5);
    assert_eq!(Sandbox::ids(&limited), ["550000", "550001"]);
    let sorted = sandbox
        .read(&token, "dataset=100&sort=lastname&limit=3")
        .await;
    assert_eq!(sorted["total"], 5);
    assert_eq!(Sandbox::ids(&sorted), ["550000", "550003", "550002"]);
    let bad = sandbox.read(&token, "dataset=100&limit=ten").await;
    assert_eq!(bad["error"], "Bad argument: limit");
}

#[tokio::test]
async fn read_timetype_range_is_inclusive() {
    let sandbox = spawn().await;
    let token = sandbox.token().await;
    let created = sandbox
        .create_json(
            &token,
            json!([{"dataset": 200, "mobilephone": "07700900001", "callback": "2030-01-01 10:00:00"},
                   {"dataset": 200, "mobilephone": "07700900002", "callback": "2030-01-02 10:00:00"},
                   {"dataset": 200, "mobilephone": "07700900003"}]),
        )
        .await;
    assert_eq!(created["total"], 3);
    let range = |start: &str, stop: &str| {
        format!(
            "dataset=200&timetype=callback&tstart={}&tstop={}",
            enc(start),
            enc(stop)
        )
    };
    let inclusive = sandbox
        .read(&token, &range("2030-01-01 10:00:00", "2030-01-02 10:00:00"))
        .await;
    assert_eq!(Sandbox::ids(&inclusive), ["550005", "550006"]);
    let first_day = sandbox
        .read(&token, &range("2030-01-01 00:00:00", "2030-01-01 23:59:59"))
        .await;
    assert_eq!(Sandbox::ids(&first_day), ["550005"]);
    let open_start = sandbox
        .read(
            &token,
            &format!(
                "dataset=200&timetype=callback&tstop={}",
                enc("2030-01-01 10:00:00")
            ),
        )
        .await;
    assert_eq!(Sandbox::ids(&open_start), ["550005"]);
    let processed = sandbox
        .read(
            &token,
            &range("2000-01-01 00:00:00", "2100-01-01 00:00:00").replace("callback", "processdate"),
        )
        .await;
    assert_eq!(processed["total"], 0);
    for malformed in [
        "2030-01-32",
        "01/01/2030",
        "2030-01-01 25:00:00",
        "tomorrow",
    ] {
        let refused = sandbox
            .read(
                &token,
                &format!("dataset=200&timetype=callback&tstart={}", enc(malformed)),
            )
            .await;
        assert_eq!(refused["error"], "Bad argument: tstart", "{malformed}");
    }
}

#[tokio::test]
async fn malformed_payloads_are_refused_whole() {
    let sandbox = spawn().await;
    let token = sandbox.token().await;
    let cases: [(&str, &str, &str); 7] = [
        (
            "json",
            r#"{"dataset":"100","mobilephone":"07123456789"}"#,
            "Bad argument: payload must be an array",
        ),
        (
            "json",
            r#"[{"dataset":"100","mobilephone":"0712"#,
            "Bad argument: payload",
        ),
        (
            "json",
            r#"[{"dataset":"100","mobilephone":["07123456789"]}]"#,
            "Bad argument: payload",
        ),
        ("json", "", "Bad argument: payload"),
        (
            "xml",
            "<easycall><ecnow_records><FirstName>Joe</FirstName><LastName>Blogs<LastName />\
             <dataset>100</dataset><MobilePhone>07123456789</MobilePhone></ecnow_records></easycall>",
            "Bad argument: payload",
        ),
        (
            "xml",
            "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;\">]>\
             <easycall><ecnow_records><dataset>100</dataset><MobilePhone>07123456789</MobilePhone>\
             <notes>&lol2;</notes></ecnow_records></easycall>",
            "Bad argument: payload",
        ),
        (
            "xml",
            "<easycall><ecnow_records><dataset>100</dataset><MobilePhone>07123456789</MobilePhone>\
             <notes>&custom;</notes></ecnow_records></easycall>",
            "Bad argument: payload",
        ),
    ];
    for (format, body, error) in cases {
        let answer = sandbox.write(&token, "create", format, body).await;
        assert_eq!(answer.status, 200, "{body}");
        if format == "json" {
            assert_eq!(
                answer.json(),
                json!({"success": false, "error": error}),
                "{body}"
            );
        } else {
            assert!(
                answer.body.ends_with(&format!(
                    "<success>0</success><error>{error}</error></result>\n"
                )),
                "{body} => {}",
                answer.body
            );
        }
    }
    assert_eq!(sandbox.emulator.records_in_dataset(100), 5);
}

#[tokio::test]
async fn injected_faults_hit_the_next_calls_in_order() {
    let sandbox = spawn().await;
    sandbox.emulator.inject_fault(Fault::ServerError, 2);
    sandbox.emulator.inject_fault(Fault::Garbage, 1);
    for _ in 0..2 {
        let answer = sandbox
            .get("token.php?action=get&username=sandbox&password=sandbox")
            .await;
        assert_eq!(answer.status, 500);
        assert!(answer.content_type.starts_with("text/html"));
        assert_eq!(sandbox.emulator.current_token(), None);
    }
    let garbage = sandbox
        .get("token.php?action=get&username=sandbox&password=sandbox")
        .await;
    assert_eq!(garbage.status, 200);
    assert!(serde_json::from_str::<Value>(&garbage.body).is_err());
    let token = sandbox.token().await;

    sandbox.emulator.inject_fault(Fault::Garbage, 1);
    let xml = sandbox
        .get(&format!(
            "ecnow.php?token={token}&method=ecnow_records&action=read&format=xml&dataset=100"
        ))
        .await;
    assert_eq!(xml.status, 200);
    assert!(parse_xml_rows(xml.body.as_bytes()).is_err());
    assert!(!xml.body.contains("</result>"));

    sandbox
        .emulator
        .inject_fault(Fault::Stall(Duration::from_millis(300)), 1);
    let started = Instant::now();
    let stalled = sandbox.read(&token, "dataset=100").await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(stalled["total"], 5);

    let timeout = sandbox
        .http
        .get(format!(
            "{}/token.php?action=validate&token={token}",
            sandbox.base
        ))
        .timeout(Duration::from_millis(100));
    sandbox
        .emulator
        .inject_fault(Fault::Stall(Duration::from_millis(1000)), 1);
    assert!(timeout.send().await.is_err_and(|e| e.is_timeout()));

    sandbox.emulator.set_latency(Duration::from_millis(150));
    let started = Instant::now();
    assert_eq!(sandbox.read(&token, "dataset=100").await["total"], 5);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn calls_are_counted_by_kind_and_reset() {
    let sandbox = spawn().await;
    let token = sandbox.token().await;
    let _ = sandbox.token().await;
    let _ = sandbox
        .get(&format!("token.php?action=validate&token={token}"))
        .await;
    let _ = sandbox.read(&token, "dataset=100").await;
    let _ = sandbox
        .create_json(
            &token,
            json!([{"dataset": 100, "mobilephone": "07700900001"}]),
        )
        .await;
    let _ = sandbox
        .write(
            &token,
            "update",
            "json",
            r#"[{"id":550005,"dataset":100,"notes":"n"}]"#,
        )
        .await;
    let _ = sandbox
        .get(&format!(
            "ecnow.php?token={token}&method=campaign_tables&action=read"
        ))
        .await;
    sandbox.emulator.inject_fault(Fault::ServerError, 1);
    let faulted = sandbox
        .get(&format!(
            "ecnow.php?token={token}&method=ecnow_records&action=read&dataset=100"
        ))
        .await;
    assert_eq!(faulted.status, 500);
    assert_eq!(
        sandbox.emulator.calls(),
        CallCounts {
            token_get: 2,
            token_validate: 1,
            create: 1,
            read: 2,
            update: 1,
            other: 1,
        }
    );
    sandbox.emulator.reset_calls();
    assert_eq!(sandbox.emulator.calls(), CallCounts::default());
}

#[test]
fn query_arguments_decode_like_php() {
    let args = Args::parse("a=1&b=x%2By+z&a=2&search%5BLastName%5D=O%27Neill&bad=%zz&flag");
    assert_eq!(args.get("a"), Some("2"));
    assert_eq!(args.get("b"), Some("x+y z"));
    assert_eq!(args.get("bad"), Some("%zz"));
    assert_eq!(args.get("flag"), Some(""));
    assert_eq!(args.non_empty("flag"), None);
    assert_eq!(
        args.searches().collect::<Vec<_>>(),
        [("LastName", "O'Neill")]
    );
}

#[test]
fn payload_parsers_keep_field_order_and_cast_scalars() {
    let rows = parse_json_rows(br#"[{"b":1,"a":"x","c":null,"d":true,"e":1.5}]"#).expect("rows");
    assert_eq!(
        rows[0].0,
        [("b", "1"), ("a", "x"), ("c", ""), ("d", "1"), ("e", "1.5")]
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
    );
    assert_eq!(parse_json_rows(b" {}"), Err(PayloadError::NotAnArray));
    assert_eq!(parse_json_rows(b"[1]"), Err(PayloadError::Malformed));
    let xml = parse_xml_rows(
        b"<easycall><ecnow_records><a>1</a></ecnow_records><ecnow_records><b/></ecnow_records></easycall>",
    )
    .expect("rows");
    assert_eq!(xml.len(), 2);
    assert_eq!(xml[0].get("A"), Some("1"));
    assert_eq!(xml[1].get("b"), Some(""));
    for bad in [
        &b"<easycall><ecnow_records><a>1</a></ecnow_records>"[..],
        b"<other><ecnow_records/></other>",
        b"<easycall><ecnow_records><a><b>1</b></a></ecnow_records></easycall>",
        b"<easycall>text</easycall>",
        b"<easycall/><easycall/>",
    ] {
        assert_eq!(parse_xml_rows(bad), Err(PayloadError::Malformed));
    }
}

#[tokio::test]
async fn concurrent_creates_get_distinct_sequential_ids() {
    let sandbox = spawn().await;
    let token = sandbox.token().await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let http = sandbox.http.clone();
        let url = format!(
            "{}/ecnow.php?token={token}&method=ecnow_records&action=create&format=json&raw=1",
            sandbox.base
        );
        tasks.spawn(async move {
            let body = json!([{"dataset": 200, "mobilephone": format!("0770090{i:04}")}]);
            let answer: Value = http
                .post(url)
                .body(body.to_string())
                .send()
                .await
                .expect("request")
                .json()
                .await
                .expect("json");
            answer["key"].as_u64().expect("key")
        });
    }
    let mut keys = tasks.join_all().await;
    keys.sort_unstable();
    assert_eq!(keys, (550_005..550_055).collect::<Vec<u64>>());
    assert_eq!(sandbox.emulator.records_in_dataset(200), 50);
    assert_eq!(sandbox.emulator.calls().create, 50);
}

/// The query string the vendor's PHP wrapper builds: `method`, `action`, then `token`,
/// `format`, `campaign` and `raw`.
fn wrapper_query(token: &str, action: &str, format: &str) -> String {
    format!(
        "ecnow.php?method=ecnow_records&action={action}&token={token}&format={format}&campaign=1&raw=1"
    )
}

#[tokio::test]
async fn reads_take_their_filters_from_multipart_post_fields() {
    let sandbox = spawn().await;
    let token = sandbox.token().await;
    let query = wrapper_query(&token, "read", "json");
    let cases: [(&[Field], &[&str]); 6] = [
        (&[("dataset", "100"), ("limit", "2")], &["550000", "550001"]),
        (
            &[("dataset", "100"), ("search[LastName]", "Blogs")],
            &["550000"],
        ),
        (&[("dataset", "100"), ("ddi", "07700900456")], &["550004"]),
        (&[("dataset", "100"), ("outcome", "200")], &["550002"]),
        (&[("dataset", "100"), ("id", "550003")], &["550003"]),
        (
            &[("table", "sandbox_campaign"), ("search[firstname]", "Chlo")],
            &["550003"],
        ),
    ];
    for (fields, ids) in cases {
        let answer = sandbox.post_fields(&query, fields).await.json();
        assert_eq!(answer["success"], true, "{fields:?}: {answer}");
        assert_eq!(Sandbox::ids(&answer), ids, "{fields:?}");
    }
    let limited = sandbox
        .post_fields(&query, &[("dataset", "100"), ("limit", "2")])
        .await
        .json();
    assert_eq!(limited["total"], 5);

    let xml = sandbox
        .post_fields(
            &wrapper_query(&token, "read", "xml"),
            &[("dataset", "100"), ("ddi", "07700900456")],
        )
        .await;
    assert!(
        xml.body
            .contains("<total>1</total><list><ecnow_record><id>550004</id>"),
        "{}",
        xml.body
    );
    // The article's own call: every argument in the query string.
    let article = sandbox
        .get(&format!(
            "ecnow.php?token={token}&format=xml&method=ecnow_records&action=read&dataset=100&raw=1"
        ))
        .await;
    assert!(
        article.body.contains("<total>5</total>"),
        "{}",
        article.body
    );
}

#[tokio::test]
async fn the_token_and_every_argument_may_come_as_post_fields() {
    let sandbox = spawn().await;
    let token = sandbox.token().await;
    let fields = [
        ("token", token.as_str()),
        ("method", "ecnow_records"),
        ("action", "read"),
        ("format", "json"),
        ("dataset", "100"),
        ("search[FirstName]", "Jane"),
    ];
    let multipart = sandbox.post_fields("ecnow.php", &fields).await.json();
    assert_eq!(Sandbox::ids(&multipart), ["550001"], "{multipart}");

    let form = format!(
        "token={token}&method=ecnow_records&action=read&format=xml&dataset=100&search%5BFirstName%5D=Jane"
    );
    let urlencoded = sandbox.post_as("ecnow.php", URLENCODED, &form).await;
    assert!(
        urlencoded
            .body
            .contains("<total>1</total><list><ecnow_record><id>550001</id>"),
        "{}",
        urlencoded.body
    );
    // A POST field wins over a query argument of the same name, as in PHP's `$_REQUEST`.
    let overridden = sandbox
        .post_fields(
            &wrapper_query(&token, "read", "json"),
            &[("dataset", "100"), ("format", "xml")],
        )
        .await;
    assert_eq!(overridden.content_type, "text/xml; charset=utf-8");

    let unknown = sandbox
        .post_fields(
            "ecnow.php?method=ecnow_records&action=read&format=json",
            &[
                ("token", "0123456789abcdef0123456789abcdef01234567"),
                ("dataset", "100"),
            ],
        )
        .await
        .json();
    assert_eq!(unknown, json!({"success": false, "error": "Invalid token"}));
    let broken = sandbox
        .post_as(
            &wrapper_query(&token, "read", "json"),
            &format!("multipart/form-data; boundary={CURL_BOUNDARY}"),
            "--nothing like the boundary",
        )
        .await
        .json();
    assert_eq!(
        broken,
        json!({"success": false, "error": "Bad argument: multipart body"})
    );
}

#[tokio::test]
async fn the_wrappers_writes_labelled_urlencoded_read_back_through_its_multipart_reads() {
    let sandbox = spawn().await;
    let token = sandbox.token().await;
    let created = sandbox
        .post_as(
            &wrapper_query(&token, "create", "json"),
            URLENCODED,
            r#"[{"title":"Mr","firstname":"Joe","lastname":"Blogs","mobilephone":"07123456789","dataset":"100","company_name":"Company Name"}]"#,
        )
        .await
        .json();
    assert_eq!(
        created,
        json!({"success": true, "account_id": "10278", "total": 1, "bad": 0,
               "key": 550005, "info": "Record is LIVE on the dialer."})
    );
    let updated = sandbox
        .post_as(
            &wrapper_query(&token, "update", "json"),
            URLENCODED,
            r#"[{"id":"550005","title":"Mr","firstName":"Joseph","lastName":"Blogs","mobilephone":"07123456789","dataset":"100","company_name":"Company Name"}]"#,
        )
        .await
        .json();
    assert_eq!(updated["total"], 1, "{updated}");
    let xml = sandbox
        .post_as(
            &wrapper_query(&token, "create", "xml"),
            URLENCODED,
            "<?xml version='1.0' encoding='utf-8' ?>\n<easycall><ecnow_records><FirstName>Ann</FirstName>\
             <dataset>200</dataset><MobilePhone>07700900999</MobilePhone></ecnow_records></easycall>",
        )
        .await;
    assert!(
        xml.body
            .contains("<total>1</total><bad>0</bad><key>550006</key>"),
        "{}",
        xml.body
    );

    let read = sandbox
        .post_fields(
            &wrapper_query(&token, "read", "json"),
            &[("dataset", "100"), ("id", "550005")],
        )
        .await
        .json();
    assert_eq!(read["total"], 1, "{read}");
    let row = &read["list"][0];
    assert_eq!(row["FirstName"], "Joseph");
    assert_eq!(row["company_name"], "Company Name");
    assert_eq!(sandbox.emulator.records_in_dataset(200), 1);
    // Urlencoded fields are not a payload.
    let fields = sandbox
        .post_as(
            &wrapper_query(&token, "create", "json"),
            URLENCODED,
            "dataset=100&mobilephone=07123456789",
        )
        .await
        .json();
    assert_eq!(
        fields,
        json!({"success": false, "error": "Bad argument: payload"})
    );
    assert_eq!(sandbox.emulator.records_in_dataset(100), 6);
}

#[tokio::test]
async fn update_answers_carry_no_key() {
    let sandbox = spawn().await;
    let token = sandbox.token().await;
    // The article's update, by its query-string call.
    let json = sandbox
        .write(
            &token,
            "update",
            "json",
            r#"[{"id":"550000","title":"Mr","firstName":"Joe","lastName":"Blogs","mobilephone":"07123456789","dataset":"100","company_name":"Company Name"}]"#,
        )
        .await;
    assert_eq!(
        json.body,
        r#"{"success":true,"account_id":"10278","total":1,"bad":0,"info":"Record is LIVE on the dialer."}"#
    );
    let xml = sandbox
        .write(
            &token,
            "update",
            "xml",
            "<?xml version='1.0' encoding='utf-8' ?>\n<easycall>\n    <ecnow_records>\n        \
             <id>550000</id>\n        <FirstName>Joe</FirstName>\n        <LastName>Blogs</LastName>\n        \
             <dataset>100</dataset>\n        <MobilePhone>07123456789</MobilePhone>\n        \
             <company_name>Company</company_name>\n    </ecnow_records>\n</easycall>",
        )
        .await;
    assert_eq!(
        xml.body,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<result><success>1</success>\
         <account_id>10278</account_id><total>1</total><bad>0</bad>\
         <info>Record is LIVE on the dialer.</info></result>\n"
    );
    // As the vendor's wrapper sends it: a JSON array labelled urlencoded.
    let wrapper = sandbox
        .post_as(
            &wrapper_query(&token, "update", "json"),
            URLENCODED,
            r#"[{"id":"550001","dataset":"100","notes_append":"called"}]"#,
        )
        .await
        .json();
    assert_eq!(wrapper["total"], 1);
    assert!(wrapper.get("key").is_none(), "{wrapper}");
}

#[tokio::test]
async fn a_date_only_range_covers_whole_days() {
    let sandbox = spawn().await;
    let token = sandbox.token().await;
    let created = sandbox
        .create_json(
            &token,
            json!([{"dataset": 200, "mobilephone": "07700900001", "callback": "2017-10-31 23:59:59"},
                   {"dataset": 200, "mobilephone": "07700900002", "callback": "2017-11-01 00:00:00"},
                   {"dataset": 200, "mobilephone": "07700900003", "callback": "2017-11-01 23:59:59"},
                   {"dataset": 200, "mobilephone": "07700900004", "callback": "2017-11-02 00:00:00"}]),
        )
        .await;
    assert_eq!(created["total"], 4);
    // The vendor's own example dates, by the query string.
    let one_day = sandbox
        .read(
            &token,
            "dataset=200&timetype=callback&tstart=2017-11-01&tstop=2017-11-01",
        )
        .await;
    assert_eq!(Sandbox::ids(&one_day), ["550006", "550007"]);
    let from_day = sandbox
        .read(&token, "dataset=200&timetype=callback&tstart=2017-11-01")
        .await;
    assert_eq!(Sandbox::ids(&from_day), ["550006", "550007", "550008"]);
    let until_day = sandbox
        .read(&token, "dataset=200&timetype=callback&tstop=2017-10-31")
        .await;
    assert_eq!(Sandbox::ids(&until_day), ["550005"]);
    let mixed = sandbox
        .read(
            &token,
            &format!(
                "dataset=200&timetype=callback&tstart={}&tstop=2017-11-01",
                enc("2017-11-01 12:00:00")
            ),
        )
        .await;
    assert_eq!(Sandbox::ids(&mixed), ["550007"]);
    let xml = sandbox
        .get(&format!(
            "ecnow.php?token={token}&format=xml&method=ecnow_records&action=read&dataset=200\
             &timetype=callback&tstart=2017-11-01&tstop=2017-11-01&raw=1"
        ))
        .await;
    assert!(xml.body.contains("<total>2</total>"), "{}", xml.body);
    // As the vendor's wrapper sends them: multipart POST fields.
    let wrapper = sandbox
        .post_fields(
            &wrapper_query(&token, "read", "json"),
            &[
                ("dataset", "200"),
                ("timetype", "callback"),
                ("tstart", "2017-11-01"),
                ("tstop", "2017-11-01"),
            ],
        )
        .await
        .json();
    assert_eq!(Sandbox::ids(&wrapper), ["550006", "550007"]);
}

#[tokio::test]
async fn modes_keep_records_by_process_type_alone() {
    let sandbox = spawn().await;
    let token = sandbox.token().await;
    let kinds = [
        "New Prospect",
        "HOLD: New Prospect",
        "NEEDSMOREWORK",
        "HOLD: NEEDSMOREWORK",
        "COMPLETE",
        "EXPIRED",
    ];
    // Every record has a callback date, so only ProcessType tells them apart.
    let rows: Vec<Value> = kinds
        .iter()
        .enumerate()
        .map(|(i, kind)| {
            json!({"dataset": 200, "mobilephone": format!("0770090000{i}"),
                   "ProcessType": kind, "callback": "2030-01-01 10:00:00"})
        })
        .collect();
    let created = sandbox.create_json(&token, Value::Array(rows)).await;
    assert_eq!(created["total"], 6, "{created}");
    // 550005 New Prospect, 550006 HOLD: New Prospect, 550007 NEEDSMOREWORK,
    // 550008 HOLD: NEEDSMOREWORK, 550009 COMPLETE, 550010 EXPIRED.
    let expected: [(&str, &[&str]); 5] = [
        ("active", &["550005", "550006", "550007", "550008"]),
        ("live", &["550005", "550007"]),
        ("callbacks", &["550007", "550008"]),
        ("live-callbacks", &["550007"]),
        (
            "unexpired",
            &["550005", "550006", "550007", "550008", "550009"],
        ),
    ];
    for (mode, ids) in expected {
        let by_query = sandbox
            .read(&token, &format!("dataset=200&mode={mode}"))
            .await;
        assert_eq!(Sandbox::ids(&by_query), ids, "{mode}");
        let by_fields = sandbox
            .post_fields(
                &wrapper_query(&token, "read", "json"),
                &[("dataset", "200"), ("mode", mode)],
            )
            .await
            .json();
        assert_eq!(Sandbox::ids(&by_fields), ids, "{mode} as POST fields");
        let xml = sandbox
            .get(&format!(
                "ecnow.php?token={token}&format=xml&method=ecnow_records&action=read&dataset=200&mode={mode}&raw=1"
            ))
            .await;
        assert!(
            xml.body.contains(&format!("<total>{}</total>", ids.len())),
            "{mode}: {}",
            xml.body
        );
    }
    // The seeded COMPLETE record has a callback date and is no callback.
    let seeded = sandbox.read(&token, "dataset=100&mode=callbacks").await;
    assert_eq!(seeded["total"], 0);
}

#[tokio::test]
async fn the_older_json_search_is_honoured_and_a_search_never_widens_silently() {
    let sandbox = spawn().await;
    let token = sandbox.token().await;
    let object = enc(r#"{"FirstName":"Joe"}"#);
    let json = sandbox
        .read(&token, &format!("dataset=100&search={object}"))
        .await;
    assert_eq!(Sandbox::ids(&json), ["550000"], "{json}");
    let xml = sandbox
        .get(&format!(
            "ecnow.php?token={token}&format=xml&method=ecnow_records&action=read&dataset=100&search={object}&raw=1"
        ))
        .await;
    assert!(
        xml.body
            .contains("<total>1</total><list><ecnow_record><id>550000</id>"),
        "{}",
        xml.body
    );
    let two_fields = sandbox
        .read(
            &token,
            &format!(
                "dataset=100&type=exact&search={}",
                enc(r#"{"title":"Mr","LastName":"O'Neill"}"#)
            ),
        )
        .await;
    assert_eq!(Sandbox::ids(&two_fields), ["550004"]);
    let as_field = sandbox
        .post_fields(
            &wrapper_query(&token, "read", "json"),
            &[("dataset", "100"), ("search", r#"{"postcode":"LS"}"#)],
        )
        .await
        .json();
    assert_eq!(Sandbox::ids(&as_field), ["550003", "550004"]);

    for (search, error) in [
        ("search=Joe", "Bad argument: search"),
        ("search=%5B%22Joe%22%5D", "Bad argument: search"),
        (
            "search=%7B%22FirstName%22%3A%5B%22Joe%22%5D%7D",
            "Bad argument: search",
        ),
        (
            "search=%7B%22shoe_size%22%3A%229%22%7D",
            "Bad argument: search[shoe_size]",
        ),
        ("search[]=Joe", "Bad argument: search[]"),
    ] {
        let refused = sandbox.read(&token, &format!("dataset=100&{search}")).await;
        assert_eq!(
            refused,
            json!({"success": false, "error": error}),
            "{search}"
        );
    }
}

#[tokio::test]
async fn the_scripts_answer_under_a_doubled_slash_and_token_php_by_post() {
    let sandbox = spawn().await;
    // A base URL ending in `/` joined with the wrapper's own `/`.
    let doubled = sandbox
        .get("/token.php?action=get&format=json&username=sandbox&password=sandbox")
        .await;
    assert_eq!(doubled.status, 200);
    let token = doubled.json()["token"].as_str().expect("token").to_owned();
    let read = sandbox
        .get(&format!(
            "/ecnow.php?token={token}&format=json&method=ecnow_records&action=read&dataset=100&raw=1"
        ))
        .await;
    assert_eq!(read.status, 200);
    assert_eq!(read.json()["total"], 5);
    let xml = sandbox
        .get(&format!(
            "/ecnow.php?token={token}&format=xml&method=ecnow_records&action=read&dataset=100&raw=1"
        ))
        .await;
    assert!(xml.body.contains("<total>5</total>"), "{}", xml.body);
    let wrapper_read = sandbox
        .post_fields(
            &format!("/{}", wrapper_query(&token, "read", "json")),
            &[("dataset", "100"), ("ddi", "07700900456")],
        )
        .await
        .json();
    assert_eq!(Sandbox::ids(&wrapper_read), ["550004"]);
    let wrapper_create = sandbox
        .post_as(
            &format!("/{}", wrapper_query(&token, "create", "json")),
            URLENCODED,
            r#"[{"dataset":"200","mobilephone":"07700900999"}]"#,
        )
        .await
        .json();
    assert_eq!(wrapper_create["key"], 550005);

    // token.php by POST: arguments in the query string, or credentials in POST fields.
    let by_query = sandbox
        .post(
            "token.php?action=get&format=json&username=sandbox&password=sandbox",
            "",
        )
        .await
        .json();
    assert_eq!(by_query["token"], token.as_str());
    let by_multipart = sandbox
        .post_fields(
            "/token.php?action=get&format=json",
            &[("username", "sandbox"), ("password", "sandbox")],
        )
        .await
        .json();
    assert_eq!(by_multipart["token"], token.as_str());
    let by_form = sandbox
        .post_as(
            "token.php",
            URLENCODED,
            "action=get&format=xml&username=sandbox&password=sandbox",
        )
        .await;
    assert!(
        by_form.body.contains(&format!("<token>{token}</token>")),
        "{}",
        by_form.body
    );
    let wrong = sandbox
        .post_fields(
            "token.php?action=get&format=json",
            &[("username", "sandbox"), ("password", "wrong")],
        )
        .await
        .json();
    assert_eq!(
        wrong,
        json!({"success": false, "error": "Authentication failure"})
    );
    let validated = sandbox
        .post_fields("token.php", &[("action", "validate"), ("token", &token)])
        .await
        .json();
    assert_eq!(validated["success"], true);
    assert_eq!(sandbox.emulator.calls().token_get, 5);
    let oversized = format!(
        "action=get&username=sandbox&password=sandbox&padding={}",
        "x".repeat(64 * 1024)
    );
    let refused = sandbox.post_as("token.php", URLENCODED, &oversized).await;
    assert_eq!(refused.status, 413);
    assert_eq!(sandbox.emulator.calls().token_get, 5);
}

#[tokio::test]
async fn a_complete_outcome_completes_the_record() {
    const NOT_LIVE: &str = "Record is NOT live on the dialer due having a complete outcome.";
    let sandbox = spawn().await;
    let token = sandbox.token().await;
    // The article's query-string update, with the seeded COMPLETE record's own code 200.
    let json = sandbox
        .write(
            &token,
            "update",
            "json",
            r#"[{"id":"550000","dataset":"100","outcomecode":"200"}]"#,
        )
        .await
        .json();
    assert_eq!(
        json,
        json!({"success": true, "account_id": "10278", "total": 1, "bad": 0, "info": NOT_LIVE})
    );
    let row = &sandbox.read(&token, "dataset=100&id=550000").await["list"][0];
    assert_eq!(row["ProcessType"], "COMPLETE");
    assert_eq!(row["outcomecode"], "200");
    let live = sandbox.read(&token, "dataset=100&mode=live").await;
    assert_eq!(Sandbox::ids(&live), ["550001", "550003", "550004"]);

    let xml = sandbox
        .write(
            &token,
            "update",
            "xml",
            "<easycall><ecnow_records><id>550001</id><dataset>100</dataset>\
             <outcomecode>510456</outcomecode></ecnow_records></easycall>",
        )
        .await;
    assert!(
        xml.body
            .ends_with(&format!("<bad>0</bad><info>{NOT_LIVE}</info></result>\n")),
        "{}",
        xml.body
    );
    // As the vendor's wrapper sends it.
    let wrapper = sandbox
        .post_as(
            &wrapper_query(&token, "update", "json"),
            URLENCODED,
            r#"[{"id":"550003","dataset":"100","outcomecode":201}]"#,
        )
        .await
        .json();
    assert_eq!(wrapper["info"], NOT_LIVE);
    let created = sandbox
        .create_json(
            &token,
            json!([{"dataset": 200, "mobilephone": "07700900999", "outcomecode": "200"}]),
        )
        .await;
    assert_eq!(created["info"], NOT_LIVE);
    let completed = sandbox.read(&token, "dataset=200&mode=unexpired").await;
    assert_eq!(completed["list"][0]["ProcessType"], "COMPLETE");

    // An outcome that is not complete puts a completed record back on the dialer; an
    // account code the emulator does not list does not complete.
    let reopened = sandbox
        .write(
            &token,
            "update",
            "json",
            r#"[{"id":"550002","dataset":"100","outcomecode":"300"}]"#,
        )
        .await
        .json();
    assert_eq!(reopened["info"], "Record is LIVE on the dialer.");
    let unlisted = sandbox
        .write(
            &token,
            "update",
            "json",
            r#"[{"id":"550004","dataset":"100","outcomecode":"777"}]"#,
        )
        .await
        .json();
    assert_eq!(unlisted["info"], "Record is LIVE on the dialer.");
    let rows = sandbox.read(&token, "dataset=100").await;
    let process_types: Vec<&str> = rows["list"]
        .as_array()
        .expect("list")
        .iter()
        .map(|r| r["ProcessType"].as_str().expect("ProcessType"))
        .collect();
    assert_eq!(
        process_types,
        [
            "COMPLETE",
            "COMPLETE",
            "NEEDSMOREWORK",
            "COMPLETE",
            "New Prospect"
        ]
    );
}
