//! token.php, the token check of ecnow.php, injected faults, call counters, script paths.

use super::*;

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
            "ecnow.php?token={token}&method=ecnow_queues&action=read"
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
    assert!(parse_xml_rows(xml.body.as_bytes(), "ecnow_records").is_err());
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
