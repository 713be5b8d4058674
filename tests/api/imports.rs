//! Bulk imports against the emulator: streaming CSV and NDJSON validation, chunked sending,
//! rejected and invalid rows, cancel, ownership, Idempotency-Key, limits and SIGTERM.

use std::time::{Duration, Instant};

use ecnow_gateway::imports::ImportSettings;
use serde_json::Value;

use crate::helpers::{
    AppOptions, TestApp, captured_logs, finished, full_token, json_of, problem_of, spawn_app,
    spawn_app_with, token_for, token_of, upload, upload_as,
};

const CSV: &str = "text/csv";
const NDJSON: &str = "application/x-ndjson";

async fn errors_of(app: &TestApp, location: &str) -> Vec<Value> {
    let body = json_of(app.get(&format!("{location}/errors")).await, 200).await;
    body["errors"].as_array().unwrap().clone()
}

/// `count` CSV rows with distinct phones, after a header.
fn csv_rows(count: usize) -> String {
    let mut text = String::from("first_name,mobile_phone\n");
    for row in 1..=count {
        text.push_str(&format!("Lead {row},0770090{row:04}\n"));
    }
    text
}

fn location_of(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

fn with_imports(chunk_rows: usize, concurrency: usize) -> AppOptions {
    AppOptions {
        imports: ImportSettings {
            chunk_rows,
            concurrency,
            ..ImportSettings::default()
        },
        ..AppOptions::default()
    }
}

#[tokio::test]
async fn a_csv_with_bom_crlf_quoted_commas_and_newlines_is_created_row_for_row() {
    let app = spawn_app().await;
    let before = app.emulator().records_in_dataset(100);
    let body = "\u{feff}first_name,last_name,mobile_phone,notes,custom.company_name\r\n\
                Joe,\"Quoteson, Jr\",07700900001,\"line one\r\nline two\",ACME\r\n\
                Ann,Smith,07700900002,,\r\n"
        .to_owned();
    let response = upload(&app, CSV, body).await;
    let location = location_of(&response);
    assert!(location.starts_with("/imports/imp_"), "{location}");
    let accepted = json_of(response, 202).await;
    assert_eq!(accepted["dataset_id"], 100);
    assert_eq!(accepted["rows"], 2);

    let import = finished(&app, &full_token(), &location).await;
    assert_eq!(import["state"], "done");
    assert_eq!(
        (
            &import["rows"],
            &import["invalid"],
            &import["sent"],
            &import["created"]
        ),
        (&2.into(), &0.into(), &2.into(), &2.into())
    );
    assert!(import["finished_at"].is_string());
    assert_eq!(app.emulator().records_in_dataset(100), before + 2);

    let found = json_of(
        app.get("/datasets/100/records?search[last_name]=Quoteson")
            .await,
        200,
    )
    .await;
    let record = &found["records"][0];
    assert_eq!(record["last_name"], "Quoteson, Jr");
    assert_eq!(record["notes"], "line one\r\nline two");
    assert_eq!(record["custom"]["company_name"], "ACME");
}

#[tokio::test]
async fn ndjson_invalid_rows_are_listed_with_row_and_field_and_never_sent() {
    let app = spawn_app().await;
    let before = app.emulator().records_in_dataset(100);
    let body = [
        r#"{"first_name": "Ok", "mobile_phone": "07700900011"}"#,
        r#"{"first_name": "No phone"}"#,
        "",
        r#"{"mobile_phone": "12"}"#,
        r#"{"mobile_phone": "07700900012", "nickname": "typo"}"#,
        r#"{"first_name": "Ok too", "home_phone": "07700900013"}"#,
    ]
    .join("\n");
    let response = upload(&app, NDJSON, body).await;
    let location = location_of(&response);
    json_of(response, 202).await;
    let import = finished(&app, &full_token(), &location).await;
    assert_eq!(import["state"], "done");
    assert_eq!(import["rows"], 5);
    assert_eq!(import["invalid"], 3);
    assert_eq!(import["created"], 2);
    assert_eq!(app.emulator().records_in_dataset(100), before + 2);

    let errors = errors_of(&app, &location).await;
    let listed: Vec<(u64, &str)> = errors
        .iter()
        .map(|e| (e["row"].as_u64().unwrap(), e["field"].as_str().unwrap()))
        .collect();
    assert_eq!(
        listed,
        vec![(2, "mobile_phone"), (3, "mobile_phone"), (4, "nickname")]
    );
    assert!(errors.iter().all(|e| e["message"].as_str().is_some()));
}

#[tokio::test]
async fn a_header_naming_an_unknown_column_refuses_the_whole_import_and_sends_nothing() {
    let app = spawn_app().await;
    let before = app.emulator().records_in_dataset(100);
    let body = "first_name,mobile_phone,process_type\nJoe,07700900021,New\n".to_owned();
    let problem = problem_of(upload(&app, CSV, body).await, 422).await;
    assert_eq!(problem["errors"][0]["field"], "header[2]");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("process_type")
    );
    assert_eq!(app.emulator().calls().create, 0);
    assert_eq!(app.emulator().records_in_dataset(100), before);
}

#[tokio::test]
async fn rows_go_in_chunks_of_chunk_rows_with_concurrency_chunks_in_flight() {
    let app = spawn_app_with(with_imports(10, 4)).await;
    // A token is held before the latency applies, so only the creates wait for it.
    json_of(app.get("/datasets/100/records?limit=1").await, 200).await;
    let latency = Duration::from_millis(300);
    app.emulator().set_latency(latency);
    let before = app.emulator().records_in_dataset(100);
    let started = Instant::now();
    let response = upload(&app, CSV, csv_rows(75)).await;
    let location = location_of(&response);
    json_of(response, 202).await;
    let import = finished(&app, &full_token(), &location).await;
    let elapsed = started.elapsed();
    assert_eq!(import["created"], 75);
    // 8 chunks: seven of 10 rows and one of 5, one create each.
    assert_eq!(app.emulator().calls().create, 8);
    assert_eq!(app.emulator().records_in_dataset(100), before + 75);
    // Four in flight: 2 rounds of the latency, where one at a time would take 8.
    assert!(
        elapsed < latency * 6,
        "8 chunks with 4 in flight took {elapsed:?}"
    );
}

#[tokio::test]
async fn rows_contactnow_refuses_are_rejected_with_the_chunk_row_range() {
    let app = spawn_app_with(with_imports(10, 1)).await;
    // Dataset 300 is expired in the emulator: ContactNow refuses every row.
    let response = upload_as(
        &app,
        &full_token(),
        "/datasets/300/imports",
        CSV,
        csv_rows(15),
        None,
    )
    .await;
    let location = location_of(&response);
    json_of(response, 202).await;
    let import = finished(&app, &full_token(), &location).await;
    assert_eq!(import["state"], "done");
    assert_eq!(
        (&import["sent"], &import["created"], &import["rejected"]),
        (&15.into(), &0.into(), &15.into())
    );
    let errors = errors_of(&app, &location).await;
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(errors[0]["rows"], "1-10");
    assert_eq!(errors[1]["rows"], "11-15");
    let message = errors[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("ContactNow refused 10 of these rows") && message.contains("expired"),
        "{message}"
    );
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains(r#"ecnow_gateway_import_rows_total{outcome="rejected"} 15"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"ecnow_gateway_imports{state="done"} 1"#));
}

#[tokio::test]
async fn delete_cancels_an_import_and_no_chunk_starts_after_it() {
    let app = spawn_app_with(with_imports(5, 1)).await;
    app.emulator().set_latency(Duration::from_millis(200));
    let before = app.emulator().records_in_dataset(100);
    let response = upload(&app, CSV, csv_rows(50)).await;
    let location = location_of(&response);
    json_of(response, 202).await;
    let cancelling = app
        .send(
            reqwest::Method::DELETE,
            &location,
            Some(&full_token()),
            None,
        )
        .await;
    json_of(cancelling, 200).await;
    let import = finished(&app, &full_token(), &location).await;
    assert_eq!(import["state"], "cancelled");
    let created = import["created"].as_u64().unwrap();
    assert!(created < 50, "{import}");
    assert_eq!(
        app.emulator().records_in_dataset(100),
        before + created as usize
    );
    assert_eq!(import["resume_from_row"], created + 1);
    // Nothing more starts later.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.emulator().records_in_dataset(100),
        before + created as usize
    );
}

#[tokio::test]
async fn another_caller_cannot_see_errors_of_or_cancel_an_import() {
    let app = spawn_app().await;
    let response = upload(&app, CSV, csv_rows(3)).await;
    let location = location_of(&response);
    json_of(response, 202).await;
    let other = token_of("someone-else");
    for (method, path) in [
        (reqwest::Method::GET, location.clone()),
        (reqwest::Method::GET, format!("{location}/errors")),
        (reqwest::Method::DELETE, location.clone()),
    ] {
        let response = app.send(method, &path, Some(&other), None).await;
        problem_of(response, 404).await;
    }
    let import = finished(&app, &full_token(), &location).await;
    assert_eq!(import["state"], "done");
}

#[tokio::test]
async fn an_idempotency_key_answers_the_same_import_and_sends_nothing_again() {
    let app = spawn_app().await;
    let before = app.emulator().records_in_dataset(100);
    let token = full_token();
    let path = "/datasets/100/imports";
    let first = upload_as(&app, &token, path, CSV, csv_rows(4), Some("leads-1")).await;
    let location = location_of(&first);
    let first = json_of(first, 202).await;
    finished(&app, &token, &location).await;
    let again = upload_as(&app, &token, path, CSV, csv_rows(4), Some("leads-1")).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(location_of(&again), location);
    let again = json_of(again, 202).await;
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["state"], "done");
    assert_eq!(app.emulator().records_in_dataset(100), before + 4);
}

#[tokio::test]
async fn running_imports_are_bounded_per_caller_and_uploads_need_a_known_media_type() {
    let app = spawn_app_with(with_imports(1, 1)).await;
    app.emulator().set_latency(Duration::from_millis(200));
    let mut locations = Vec::new();
    for _ in 0..2 {
        let response = upload(&app, CSV, csv_rows(20)).await;
        locations.push(location_of(&response));
        json_of(response, 202).await;
    }
    let refused = upload(&app, CSV, csv_rows(1)).await;
    assert!(refused.headers().contains_key("retry-after"));
    problem_of(refused, 429).await;
    // Another caller still may.
    let response = upload_as(
        &app,
        &token_of("another-team"),
        "/datasets/100/imports",
        CSV,
        csv_rows(1),
        None,
    )
    .await;
    json_of(response, 202).await;
    for location in &locations {
        app.send(reqwest::Method::DELETE, location, Some(&full_token()), None)
            .await;
    }

    let json = upload(&app, "application/json", "{}".into()).await;
    problem_of(json, 415).await;
    let read_only = upload_as(
        &app,
        &token_for("records:read", None, None),
        "/datasets/100/imports",
        CSV,
        csv_rows(1),
        None,
    )
    .await;
    problem_of(read_only, 403).await;
    let unknown_query = upload_as(
        &app,
        &full_token(),
        "/datasets/100/imports?dry_run=true",
        CSV,
        csv_rows(1),
        None,
    )
    .await;
    problem_of(unknown_query, 400).await;
}

#[tokio::test]
async fn sigterm_interrupts_an_import_after_its_chunks_in_flight_and_start_row_sends_the_rest() {
    const ROWS: usize = 60;
    let app = spawn_app_with(with_imports(5, 2)).await;
    app.emulator().set_latency(Duration::from_millis(150));
    let before = app.emulator().records_in_dataset(100);
    let response = upload(&app, CSV, csv_rows(ROWS)).await;
    let location = location_of(&response);
    let id = json_of(response, 202).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(Duration::from_millis(400)).await;
    app.stopper.stop().await;

    // Every chunk in flight ended before the gateway stopped; nothing more arrives after.
    let sent = app.emulator().records_in_dataset(100) - before;
    assert!(0 < sent && sent < ROWS, "{sent} rows were sent");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(app.emulator().records_in_dataset(100) - before, sent);
    let logs = captured_logs();
    let ended = logs
        .lines()
        .find(|line| line.contains(&id) && line.contains("import ended"))
        .unwrap_or_else(|| panic!("no end of {id} logged ({location})"));
    assert!(ended.contains("interrupted"), "{ended}");
    let resume_from_row = sent + 1;
    assert!(
        ended.contains(&format!("\"resume_from_row\":{resume_from_row}")),
        "{ended}"
    );

    // A new gateway on the same upstream sends only the rest.
    let next = spawn_app_with(AppOptions {
        base_url: Some(app.upstream_url.clone()),
        ..with_imports(5, 2)
    })
    .await;
    let response = upload_as(
        &next,
        &full_token(),
        &format!("/datasets/100/imports?start_row={resume_from_row}"),
        CSV,
        csv_rows(ROWS),
        None,
    )
    .await;
    let location = location_of(&response);
    json_of(response, 202).await;
    let import = finished(&next, &full_token(), &location).await;
    assert_eq!(import["rows"], (ROWS - sent) as u64);
    assert_eq!(import["created"], (ROWS - sent) as u64);
    assert_eq!(app.emulator().records_in_dataset(100) - before, ROWS);
}

/// Runs `ecnow-gateway import ARGS` (off the test's runtime, which serves the emulator).
async fn run_import_command(args: Vec<String>, token: Option<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_ecnow-gateway"));
        command.arg("import").args(&args).env_remove("ECNOW_TOKEN");
        if let Some(token) = token {
            command.env("ECNOW_TOKEN", token);
        }
        command.output().unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn the_import_command_loads_a_file_and_writes_the_refused_rows_beside_it() {
    let app = spawn_app().await;
    let before = app.emulator().records_in_dataset(100);
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.csv");
    std::fs::write(&good, csv_rows(7)).unwrap();
    let args = |file: &std::path::Path| {
        vec![
            file.display().to_string(),
            "--dataset".into(),
            "100".into(),
            "--gateway".into(),
            app.address.clone(),
        ]
    };
    let output = run_import_command(args(&good), Some(full_token())).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("done: 7 rows, 7 created, 0 rejected, 0 invalid"),
        "{stdout}"
    );
    assert_eq!(app.emulator().records_in_dataset(100), before + 7);
    assert!(!dir.path().join("good.csv.errors.csv").exists());

    let mixed = dir.path().join("mixed.csv");
    std::fs::write(
        &mixed,
        "first_name,mobile_phone\nOk,07700900031\nNo phone,\nOk,07700900032\n",
    )
    .unwrap();
    let output = run_import_command(args(&mixed), Some(full_token())).await;
    assert_eq!(output.status.code(), Some(1));
    let errors = std::fs::read_to_string(dir.path().join("mixed.csv.errors.csv")).unwrap();
    let mut lines = errors.lines();
    assert_eq!(lines.next(), Some("row,field,message"));
    assert!(
        lines.next().unwrap().starts_with("2,mobile_phone,"),
        "{errors}"
    );
    assert_eq!(app.emulator().records_in_dataset(100), before + 9);
}

#[tokio::test]
async fn the_import_command_exits_2_for_unusable_arguments_and_sends_nothing() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("leads.csv");
    std::fs::write(&file, csv_rows(2)).unwrap();
    let text = dir.path().join("leads.txt");
    std::fs::write(&text, csv_rows(2)).unwrap();
    let path = file.display().to_string();
    let gateway = app.address.clone();
    let cases: Vec<(Vec<String>, Option<String>)> = vec![
        // No token.
        (
            vec![
                path.clone(),
                "--dataset".into(),
                "100".into(),
                "--gateway".into(),
                gateway.clone(),
            ],
            None,
        ),
        // No dataset.
        (
            vec![path.clone(), "--gateway".into(), gateway.clone()],
            Some(full_token()),
        ),
        // Not a file type it knows.
        (
            vec![
                text.display().to_string(),
                "--dataset".into(),
                "100".into(),
                "--gateway".into(),
                gateway.clone(),
            ],
            Some(full_token()),
        ),
        // A file that does not exist.
        (
            vec![
                format!("{path}.missing.csv"),
                "--dataset".into(),
                "100".into(),
                "--gateway".into(),
                gateway.clone(),
            ],
            Some(full_token()),
        ),
        // Not a URL.
        (
            vec![
                path.clone(),
                "--dataset".into(),
                "100".into(),
                "--gateway".into(),
                "gateway:8080".into(),
            ],
            Some(full_token()),
        ),
    ];
    for (args, token) in cases {
        let output = run_import_command(args.clone(), token).await;
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert_eq!(app.emulator().calls().create, 0);
}

#[tokio::test]
async fn ctrl_c_in_the_import_command_cancels_the_import() {
    let app = spawn_app_with(with_imports(5, 1)).await;
    app.emulator().set_latency(Duration::from_millis(150));
    let before = app.emulator().records_in_dataset(100);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("leads.csv");
    std::fs::write(&file, csv_rows(100)).unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_ecnow-gateway"))
        .args(["import", &file.display().to_string(), "--dataset", "100"])
        .args(["--gateway", &app.address])
        .env("ECNOW_TOKEN", full_token())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the import is sending, then press Ctrl-C.
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.emulator().records_in_dataset(100) == before {
        assert!(Instant::now() < deadline, "the import never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let interrupted = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains(" cancelled: 100 rows"), "{stdout}");
    assert!(stdout.contains("--start-row"), "{stdout}");
    let sent = app.emulator().records_in_dataset(100) - before;
    assert!(sent < 100, "{sent}");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(app.emulator().records_in_dataset(100) - before, sent);
}

#[tokio::test]
async fn a_chunk_whose_answer_is_lost_is_unconfirmed_and_never_sent_again() {
    let app = spawn_app_with(AppOptions {
        timeout: Duration::from_millis(500),
        ..with_imports(10, 1)
    })
    .await;
    json_of(app.get("/datasets/100/records?limit=1").await, 200).await;
    let before = app.emulator().records_in_dataset(100);
    let creates = app.emulator().calls().create;
    app.emulator().inject_fault(
        ecnow_gateway::emulator::Fault::Stall(Duration::from_secs(1)),
        1,
    );
    let response = upload(&app, CSV, csv_rows(30)).await;
    let location = location_of(&response);
    json_of(response, 202).await;
    let import = finished(&app, &full_token(), &location).await;
    assert_eq!(import["state"], "done");
    assert_eq!(
        (&import["sent"], &import["created"], &import["unconfirmed"]),
        (&30.into(), &20.into(), &10.into())
    );
    let errors = errors_of(&app, &location).await;
    assert_eq!(errors[0]["rows"], "1-10");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("not confirmed")
    );
    // Three chunks, three creates: the lost one was not sent again (the emulator applied it
    // after its stall, so every row exists exactly once).
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(app.emulator().calls().create - creates, 3);
    assert_eq!(app.emulator().records_in_dataset(100), before + 30);
}

#[tokio::test]
async fn the_emulator_command_delays_every_answer_by_its_latency() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut emulator = std::process::Command::new(env!("CARGO_BIN_EXE_ecnow-gateway"))
        .args(["emulator", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--latency", "400ms"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!(
        "http://127.0.0.1:{port}/token.php?action=get&username=sandbox&password=sandbox&format=json"
    );
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let elapsed = loop {
        let started = Instant::now();
        match http.get(&url).send().await {
            Ok(response) if response.status() == 200 => break started.elapsed(),
            _ => {
                assert!(Instant::now() < deadline, "the emulator never answered");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    emulator.kill().unwrap();
    emulator.wait().unwrap();
    assert!(
        elapsed >= Duration::from_millis(400),
        "answered in {elapsed:?}"
    );
}

#[tokio::test]
async fn with_redis_any_replica_answers_for_an_import_and_cancels_it() {
    let Some(redis) = crate::helpers::start_redis() else {
        return;
    };
    let first = spawn_app_with(AppOptions {
        redis_url: Some(redis.url.clone()),
        ..with_imports(5, 1)
    })
    .await;
    let second = spawn_app_with(AppOptions {
        redis_url: Some(redis.url.clone()),
        base_url: Some(first.upstream_url.clone()),
        ..with_imports(5, 1)
    })
    .await;
    let token = full_token();
    let path = "/datasets/100/imports";

    // A finished import of the first replica, with its errors, is read on the second.
    let body = "first_name,mobile_phone\nOk,07700900041\nNo phone,\n".to_owned();
    let response = upload_as(&first, &token, path, CSV, body, Some("shared-1")).await;
    let location = location_of(&response);
    json_of(response, 202).await;
    let done = finished(&first, &token, &location).await;
    let seen = finished(&second, &token, &location).await;
    assert_eq!(seen, done);
    let errors = json_of(second.get(&format!("{location}/errors")).await, 200).await;
    assert_eq!(errors["errors"][0]["row"], 2);
    // Another caller sees nothing there either.
    let other = second
        .send(
            reqwest::Method::GET,
            &location,
            Some(&token_of("stranger")),
            None,
        )
        .await;
    problem_of(other, 404).await;
    // The same Idempotency-Key on the second replica answers the first one's import.
    let again = upload_as(&second, &token, path, CSV, csv_rows(3), Some("shared-1")).await;
    assert_eq!(location_of(&again), location);
    json_of(again, 202).await;

    // A running import of the first replica is cancelled through the second.
    first.emulator().set_latency(Duration::from_millis(150));
    let before = first.emulator().records_in_dataset(100);
    let response = upload_as(&first, &token, path, CSV, csv_rows(60), None).await;
    let location = location_of(&response);
    json_of(response, 202).await;
    let cancelling = second
        .send(reqwest::Method::DELETE, &location, Some(&token), None)
        .await;
    json_of(cancelling, 200).await;
    let import = finished(&second, &token, &location).await;
    assert_eq!(import["state"], "cancelled");
    let created = import["created"].as_u64().unwrap();
    assert!(created < 60, "{import}");
    assert_eq!(
        first.emulator().records_in_dataset(100),
        before + created as usize
    );
}

#[tokio::test]
async fn with_redis_an_interrupted_import_is_read_after_its_replica_stopped() {
    let Some(redis) = crate::helpers::start_redis() else {
        return;
    };
    const ROWS: usize = 60;
    let first = spawn_app_with(AppOptions {
        redis_url: Some(redis.url.clone()),
        ..with_imports(5, 2)
    })
    .await;
    first.emulator().set_latency(Duration::from_millis(150));
    let before = first.emulator().records_in_dataset(100);
    let response = upload(&first, CSV, csv_rows(ROWS)).await;
    let location = location_of(&response);
    json_of(response, 202).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    first.stopper.stop().await;
    let sent = (first.emulator().records_in_dataset(100) - before) as u64;

    let second = spawn_app_with(AppOptions {
        redis_url: Some(redis.url.clone()),
        base_url: Some(first.upstream_url.clone()),
        ..with_imports(5, 2)
    })
    .await;
    let import = json_of(second.get(&location).await, 200).await;
    assert_eq!(import["state"], "interrupted");
    assert_eq!(import["created"], sent);
    assert_eq!(import["resume_from_row"], sent + 1);
    assert!(0 < sent && sent < ROWS as u64, "{import}");
}

#[tokio::test]
async fn an_upload_the_caller_abandons_is_forgotten_and_frees_its_place() {
    use tokio::io::AsyncWriteExt;
    let app = spawn_app().await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /datasets/100/imports HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: text/csv\r\nContent-Length: 100000\r\n\r\nfirst_name,mobile_phone\n",
        full_token()
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let validating = r#"ecnow_gateway_imports{state="validating"}"#;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !app
        .metrics_text()
        .await
        .contains(&format!("{validating} 1"))
    {
        assert!(Instant::now() < deadline, "the upload never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(socket);
    while !app
        .metrics_text()
        .await
        .contains(&format!("{validating} 0"))
    {
        assert!(
            Instant::now() < deadline,
            "the abandoned upload is still validating"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Its place among the caller's running imports is free again: two more may run.
    for _ in 0..2 {
        let response = upload(&app, CSV, csv_rows(1)).await;
        json_of(response, 202).await;
    }
}

#[tokio::test]
async fn a_start_row_past_the_documented_maximum_is_400_and_starts_nothing() {
    let app = spawn_app().await;
    let before = app.emulator().records_in_dataset(100);
    for start_row in ["0", "9007199254740992", "18446744073709551616", "x"] {
        let response = upload_as(
            &app,
            &full_token(),
            &format!("/datasets/100/imports?start_row={start_row}"),
            CSV,
            "first_name,mobile_phone\nAnn,07123456780\n".into(),
            None,
        )
        .await;
        let problem = problem_of(response, 400).await;
        assert_eq!(problem["errors"][0]["field"], "start_row", "{start_row}");
    }
    assert_eq!(app.emulator().records_in_dataset(100), before);
}
