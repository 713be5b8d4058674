//! Upstream faults become clear 4xx/5xx problems, and nothing is retried that could duplicate.

use std::time::Duration;

use ecnow_gateway::emulator::Fault;
use serde_json::json;
use wiremock::matchers::path;
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{
    AppOptions, mount_ecnow, mount_token, problem_of, spawn_app, spawn_app_with,
    spawn_app_with_mock,
};

#[tokio::test]
async fn updating_a_missing_record_is_404_with_the_upstream_words() {
    let app = spawn_app().await;
    let problem = problem_of(
        app.patch("/datasets/100/records/999999", &json!({"notes": "x"}))
            .await,
        404,
    )
    .await;
    assert_eq!(problem["detail"], "Record id [999999] does not exist.");
    problem_of(app.get("/datasets/100/records/999999").await, 404).await;
    problem_of(
        app.get("/campaigns/sandbox_campaign/records/999999").await,
        404,
    )
    .await;
}

#[tokio::test]
async fn creating_in_a_missing_dataset_is_404_and_in_an_expired_one_422() {
    let app = spawn_app().await;
    let problem = problem_of(
        app.post(
            "/datasets/4242/records",
            &json!({"mobile_phone": "07123456789"}),
        )
        .await,
        404,
    )
    .await;
    assert!(
        problem["detail"].as_str().unwrap().contains("4242"),
        "{problem}"
    );
    let problem = problem_of(
        app.post(
            "/datasets/300/records",
            &json!({"mobile_phone": "07123456789"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(
        problem["code"], "validation_failed",
        "refused before anything is sent"
    );
    assert_eq!(problem["errors"][0]["field"], "dataset");
}

#[tokio::test]
async fn a_slow_upstream_is_504_and_a_create_is_never_sent_twice() {
    let app = spawn_app_with(AppOptions {
        timeout: Duration::from_millis(300),
        ..AppOptions::default()
    })
    .await;
    crate::helpers::json_of(app.get("/healthz").await, 200).await;
    crate::helpers::json_of(app.http.get(app.url("/readyz")).send().await.unwrap(), 200).await;
    app.emulator()
        .inject_fault(Fault::Stall(Duration::from_secs(2)), 1);
    let problem = problem_of(
        app.post(
            "/datasets/100/records",
            &json!({"mobile_phone": "07123456789"}),
        )
        .await,
        504,
    )
    .await;
    assert_eq!(problem["code"], "upstream_timeout");
    assert_eq!(app.emulator().calls().create, 1);
}

#[tokio::test]
async fn garbage_and_http_errors_from_the_upstream_are_502() {
    let app = spawn_app().await;
    app.emulator().inject_fault(Fault::Garbage, 1);
    problem_of(app.get("/datasets/100/records").await, 502).await; // token.php answered garbage
    crate::helpers::json_of(app.http.get(app.url("/readyz")).send().await.unwrap(), 200).await;
    app.emulator().inject_fault(Fault::Garbage, 1);
    let problem = problem_of(app.get("/datasets/100/records").await, 502).await;
    assert_eq!(problem["code"], "upstream_failed");
    assert_eq!(
        problem["detail"],
        "ContactNow answered with an error or an invalid answer"
    );
    app.emulator().inject_fault(Fault::ServerError, 1);
    problem_of(app.get("/datasets/100/records").await, 502).await;
}

#[tokio::test]
async fn redirects_bad_arguments_and_missing_keys_are_502() {
    let app = spawn_app_with_mock().await;
    mount_token(app.mock(), 1).await;
    Mock::given(path("/ecnow.php"))
        .and(wiremock::matchers::query_param("method", "ecnow_records"))
        .and(wiremock::matchers::query_param("action", "read"))
        .respond_with(
            ResponseTemplate::new(302).insert_header("location", "https://elsewhere.example/"),
        )
        .expect(1)
        .mount(app.mock())
        .await;
    problem_of(app.get("/datasets/100/records").await, 502).await;
    mount_ecnow(
        app.mock(),
        "update",
        json!({"success": false, "error": "Bad argument: id"}),
        1,
    )
    .await;
    problem_of(
        app.patch("/datasets/100/records/5", &json!({"notes": "x"}))
            .await,
        502,
    )
    .await;
    mount_ecnow(
        app.mock(),
        "create",
        json!({"success": true, "total": 1, "bad": 0}),
        1,
    )
    .await;
    problem_of(
        app.post(
            "/datasets/100/records",
            &json!({"mobile_phone": "07123456789"}),
        )
        .await,
        502,
    )
    .await;
}

#[tokio::test]
async fn an_unreachable_upstream_is_503() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let app = spawn_app_with(AppOptions {
        base_url: Some(format!("http://127.0.0.1:{port}/")),
        ..AppOptions::default()
    })
    .await;
    let problem = problem_of(app.get("/datasets/100/records").await, 503).await;
    assert_eq!(problem["code"], "upstream_unavailable");
}

/// A ContactNow on a bare socket that answers `ecnow.php` record reads in `chunks` (chunked
/// transfer encoding, a pause between chunks so that each arrives on its own), `token.php` with
/// a token, and refuses every other method (so the metadata checks are skipped).
async fn chunked_upstream(chunks: Vec<Vec<u8>>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let chunks = chunks.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                loop {
                    head.clear();
                    while !head.ends_with(b"\r\n\r\n") {
                        if socket.read(&mut byte).await.unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    let line = String::from_utf8_lossy(&head).into_owned();
                    let plain = |body: String| {
                        format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                             content-length: {}\r\n\r\n{body}",
                            body.len()
                        )
                    };
                    let answer = if line.contains("token.php") {
                        plain(
                            json!({"success": true, "token": "t0k3n",
                                   "expire": crate::helpers::unix_in(Duration::from_secs(3600))})
                            .to_string(),
                        )
                    } else if !line.contains("method=ecnow_records") {
                        plain(r#"{"success":false,"error":"Bad argument: method"}"#.into())
                    } else {
                        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                                    transfer-encoding: chunked\r\n\r\n";
                        if socket.write_all(head.as_bytes()).await.is_err() {
                            return;
                        }
                        for chunk in &chunks {
                            let framed =
                                [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"]
                                    .concat();
                            if socket.write_all(&framed).await.is_err() {
                                return;
                            }
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        "0\r\n\r\n".to_owned()
                    };
                    if socket.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{address}/")
}

#[tokio::test]
async fn an_answer_in_several_chunks_is_read_whole_and_one_over_8_mib_is_502() {
    let row = r#"{"success":true,"total":1,"list":[{"id":"550000","datasetid":"100","FirstName":"Chunked","LastName":"Reader"}]}"#;
    let (a, rest) = row.split_at(40);
    let (b, c) = rest.split_at(30);
    let split = vec![a.into(), b.into(), c.into()];
    let app = spawn_app_with(AppOptions {
        emulator: None,
        base_url: Some(chunked_upstream(split).await),
        ..AppOptions::default()
    })
    .await;
    let record = crate::helpers::json_of(app.get("/datasets/100/records/550000").await, 200).await;
    assert_eq!(
        (&record["first_name"], &record["last_name"]),
        (&json!("Chunked"), &json!("Reader")),
        "{record}"
    );

    // The same answer padded past 8 MiB with whitespace (valid JSON, read whole it would be a
    // 200), in chunks of 1 MiB without Content-Length: refused once past 8 MiB.
    let mut huge = vec![row.as_bytes().to_vec()];
    huge.extend(vec![vec![b' '; 1024 * 1024]; 9]);
    let app = spawn_app_with(AppOptions {
        emulator: None,
        base_url: Some(chunked_upstream(huge).await),
        ..AppOptions::default()
    })
    .await;
    let problem = problem_of(app.get("/datasets/100/records/550000").await, 502).await;
    assert_eq!(problem["code"], "upstream_failed", "{problem}");

    // The same size declared up front is refused before it is read.
    let app = spawn_app_with_mock().await;
    mount_token(app.mock(), 1).await;
    Mock::given(path("/ecnow.php"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(format!("{row}{}", " ".repeat(9 * 1024 * 1024))),
        )
        .mount(app.mock())
        .await;
    let problem = problem_of(app.get("/datasets/100/records/550000").await, 502).await;
    assert_eq!(problem["code"], "upstream_failed", "{problem}");
}
