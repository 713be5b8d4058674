//! The dialler fields of a record (`outcome_code`, `callback_at`, `callback_notes`,
//! `callback_same_time`, `agent_ref`, `agent_specific`, `notes_append`) on create and update:
//! round trips against the emulator, refusals before the upstream, the exact wire payload, and
//! CSV imports.

use serde_json::{Value, json};

use crate::helpers::{
    finished, full_token, json_of, mount_ecnow, mount_token, problem_of, record_requests,
    spawn_app, spawn_app_with_mock, upload,
};

/// The emulator's outcome code whose `complete` is true.
const COMPLETE_OUTCOME: u64 = 200;

/// The fields named by a validation problem.
fn problem_fields(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|error| error["field"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_record_created_with_a_callback_and_an_agent_reads_them_back() {
    let app = spawn_app().await;
    let response = app
        .post(
            "/datasets/100/records",
            &json!({"mobile_phone": "07123456789", "callback_at": "2026-12-01T10:00:00",
                    "callback_notes": "After ten", "callback_same_time": true,
                    "agent_ref": "1001", "agent_specific": true, "outcome_code": 300,
                    "notes_append": "Booked by the web form"}),
        )
        .await;
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created = json_of(response, 201).await;
    assert_eq!(created["live"], true, "{created}");

    let record = json_of(app.get(&location).await, 200).await;
    assert_eq!(record["callback_at"], "2026-12-01T10:00:00", "{record}");
    assert_eq!(record["callback_notes"], "After ten", "{record}");
    assert_eq!(record["callback_same_time"], true, "{record}");
    assert_eq!(record["agent_ref"], "1001", "{record}");
    assert_eq!(record["agent_specific"], true, "{record}");
    assert_eq!(record["outcome_code"], 300, "{record}");
    assert_eq!(record["process_type"], "New Prospect", "{record}");
    assert_eq!(record["notes"], "Booked by the web form", "{record}");
}

#[tokio::test]
async fn a_complete_outcome_takes_the_record_off_the_dialler_and_null_clears_callback_and_agent() {
    let app = spawn_app().await;
    let response = app
        .post(
            "/datasets/100/records",
            &json!({"mobile_phone": "07123456789", "callback_at": "2026-12-01T10:00:00",
                    "agent_ref": "1001", "agent_specific": true}),
        )
        .await;
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let id = json_of(response, 201).await["id"].as_u64().unwrap();

    let updated = json_of(
        app.patch(
            &format!("/records/{id}"),
            &json!({"dataset": 100, "outcome_code": COMPLETE_OUTCOME}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(updated["live"], false, "{updated}");
    let record = json_of(app.get(&location).await, 200).await;
    assert_eq!(record["outcome_code"], COMPLETE_OUTCOME, "{record}");
    assert_eq!(record["process_type"], "COMPLETE", "{record}");

    json_of(
        app.patch(
            &location,
            &json!({"callback_at": null, "agent_ref": null, "agent_specific": false}),
        )
        .await,
        200,
    )
    .await;
    let record = json_of(app.get(&location).await, 200).await;
    assert_eq!(record["callback_at"], Value::Null, "{record}");
    assert_eq!(record["agent_ref"], Value::Null, "{record}");
    assert_eq!(record["agent_specific"], false, "{record}");
}

#[tokio::test]
async fn bad_dialler_values_are_refused_by_name_and_nothing_is_sent() {
    let app = spawn_app().await;
    let cases = [
        ("outcome_code", json!(0)),
        ("outcome_code", json!(1_000_000_000u64)),
        ("outcome_code", json!("200")),
        ("callback_at", json!("2026-12-01 10:00:00")),
        ("callback_at", json!("2026-02-30T10:00:00")),
        ("callback_at", json!("2026-12-01T10:00:00Z")),
        ("callback_notes", json!("a\u{1}b")),
        ("callback_notes", json!(5)),
        ("callback_same_time", json!("1")),
        ("agent_ref", json!("agent7")),
        ("agent_ref", json!("0")),
        ("agent_ref", json!(1001)),
        ("agent_ref", json!("1".repeat(21))),
        ("agent_specific", json!(1)),
    ];
    for (field, value) in cases {
        let mut body = json!({"mobile_phone": "07123456789"});
        body[field] = value.clone();
        let created = problem_of(app.post("/datasets/100/records", &body).await, 422).await;
        let patched = problem_of(
            app.patch("/datasets/100/records/550000", &json!({field: value}))
                .await,
            422,
        )
        .await;
        for problem in [created, patched] {
            assert_eq!(problem_fields(&problem), [field], "{field}: {value}");
            // The value's rule, not a refusal of the field itself.
            let message = problem["errors"][0]["message"].as_str().unwrap();
            assert!(message.contains("must"), "{field}: {value}: {message}");
        }
    }
    let calls = app.emulator().calls();
    assert_eq!(
        (calls.create, calls.update, calls.read),
        (0, 0, 0),
        "{calls:?}"
    );
}

#[tokio::test]
async fn agent_specific_true_needs_an_agent() {
    let app = spawn_app().await;
    for body in [
        json!({"mobile_phone": "07123456789", "agent_specific": true}),
        json!({"mobile_phone": "07123456789", "agent_specific": true, "agent_ref": null}),
    ] {
        let problem = problem_of(app.post("/datasets/100/records", &body).await, 422).await;
        assert_eq!(problem_fields(&problem), ["agent_specific"], "{body}");
    }
    let problem = problem_of(
        app.patch(
            "/datasets/100/records/550000",
            &json!({"agent_specific": true, "agent_ref": null}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem_fields(&problem), ["agent_specific"]);
    let calls = app.emulator().calls();
    assert_eq!(
        (calls.create, calls.update, calls.read),
        (0, 0, 0),
        "{calls:?}"
    );

    // Without `agent_ref` in the body, the record's own agent decides.
    let created = |agent: Option<&str>| {
        let mut body = json!({"mobile_phone": "07123456789"});
        if let Some(agent) = agent {
            body["agent_ref"] = json!(agent);
        }
        body
    };
    let without = json_of(app.post("/datasets/100/records", &created(None)).await, 201).await;
    let problem = problem_of(
        app.patch(
            &format!("/datasets/100/records/{}", without["id"]),
            &json!({"agent_specific": true}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem_fields(&problem), ["agent_specific"]);
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("send `agent_ref` along"),
        "{problem}"
    );
    assert_eq!(app.emulator().calls().update, 0, "nothing written");

    let with = json_of(
        app.post("/datasets/100/records", &created(Some("1001")))
            .await,
        201,
    )
    .await;
    let location = format!("/datasets/100/records/{}", with["id"]);
    json_of(
        app.patch(&location, &json!({"agent_specific": true})).await,
        200,
    )
    .await;
    let record = json_of(app.get(&location).await, 200).await;
    assert_eq!(record["agent_specific"], true, "{record}");
    assert_eq!(record["agent_ref"], "1001", "{record}");
}

#[tokio::test]
async fn dialler_fields_go_upstream_by_their_write_names_and_the_upstreams_values() {
    let app = spawn_app_with_mock().await;
    mount_token(app.mock(), 1).await;
    mount_ecnow(
        app.mock(),
        "create",
        json!({"success": true, "account_id": "10278", "total": 1, "bad": 0, "key": 550447,
               "info": "Record is LIVE on the dialer."}),
        1,
    )
    .await;
    mount_ecnow(
        app.mock(),
        "update",
        json!({"success": true, "account_id": "10278", "total": 1, "bad": 0,
               "info": "Record is NOT live on the dialer due having a complete outcome."}),
        1,
    )
    .await;

    json_of(
        app.post(
            "/datasets/100/records",
            &json!({"mobile_phone": "07123456789", "callback_at": "2026-12-01T10:00:00",
                    "callback_same_time": true, "agent_ref": "1001", "agent_specific": true,
                    "outcome_code": 300, "callback_notes": "After ten",
                    "notes_append": "web form"}),
        )
        .await,
        201,
    )
    .await;
    let updated = json_of(
        app.patch(
            "/datasets/100/records/550447",
            &json!({"outcome_code": 510456, "callback_at": null, "agent_ref": null,
                    "agent_specific": false, "callback_same_time": false,
                    "callback_notes": null}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(updated["live"], false, "{updated}");

    let sent = record_requests(app.mock()).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[0].1,
        r#"[{"dataset":"100","mobilephone":"07123456789","outcomecode":"300","callback":"2026-12-01 10:00:00","call_back_notes":"After ten","call_back_sametime":"1","agentref":"1001","agent_specific":"1","notes_append":"web form"}]"#
    );
    assert_eq!(
        sent[1].1,
        r#"[{"id":"550447","dataset":"100","outcomecode":"510456","callback":"0000-00-00 00:00:00","call_back_notes":"","call_back_sametime":"0","agentref":"0","agent_specific":"0"}]"#
    );
}

#[tokio::test]
async fn a_csv_import_takes_the_dialler_columns() {
    let app = spawn_app().await;
    let csv = "mobile_phone,callback_at,agent_ref,agent_specific,callback_same_time,outcome_code\n\
               07999000111,2026-12-01T10:00:00,1001,true,1,300\n\
               07999000222,,,0,false,\n\
               07999000333,,,true,,\n";
    let response = upload(&app, "text/csv", csv.into()).await;
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    json_of(response, 202).await;
    let import = finished(&app, &full_token(), &location).await;
    assert_eq!(
        (import["created"].as_u64(), import["invalid"].as_u64()),
        (Some(2), Some(1)),
        "{import}"
    );
    let errors = json_of(app.get(&format!("{location}/errors")).await, 200).await;
    assert_eq!(errors["errors"][0]["row"], 3, "{errors}");
    assert_eq!(errors["errors"][0]["field"], "agent_specific", "{errors}");

    let page = json_of(
        app.get("/datasets/100/records?phone=07999000111").await,
        200,
    )
    .await;
    let record = &page["records"][0];
    assert_eq!(record["callback_at"], "2026-12-01T10:00:00", "{page}");
    assert_eq!(record["agent_ref"], "1001", "{page}");
    assert_eq!(record["agent_specific"], true, "{page}");
    assert_eq!(record["callback_same_time"], true, "{page}");
    assert_eq!(record["outcome_code"], 300, "{page}");
}
