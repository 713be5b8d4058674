//! Writes checked against the campaign's own columns (`campaign_fields`, cached): a custom
//! column the dataset's campaign does not have, or a value over a column's `size`, is `422`
//! before anything is sent, on creates (one or a batch), both update routes and imports; a
//! refused field list lets writes through on the syntax rules; a fault reading it is `5xx`; a
//! stampede of writes reads it once.

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};
use wiremock::matchers::{path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::*;

/// The custom columns of both emulated campaigns, as the message lists them.
const SANDBOX_CUSTOM: &str = "its custom columns are: company_name, test_field";

fn message(problem: &Value, index: usize) -> &str {
    problem["errors"][index]["message"].as_str().unwrap()
}

fn fields(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn an_unknown_custom_column_is_422_naming_it_and_the_real_columns_with_nothing_sent() {
    let app = spawn_app().await;
    let before = app.emulator().records_in_dataset(100);
    let problem = problem_of(
        app.post(
            "/datasets/100/records",
            &json!({"mobile_phone": "07123456789", "custom": {"vat_number": "GB123"}}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(fields(&problem), ["custom.vat_number"], "{problem}");
    assert!(
        message(&problem, 0).contains("sandbox_campaign"),
        "{problem}"
    );
    assert!(message(&problem, 0).ends_with(SANDBOX_CUSTOM), "{problem}");
    assert_eq!(app.emulator().calls().create, 0, "nothing was sent");
    assert_eq!(app.emulator().records_in_dataset(100), before);

    // A real column, in any letter case, is written and read back.
    let created = json_of(
        app.post(
            "/datasets/100/records",
            &json!({"mobile_phone": "07123456789", "last_name": "Checked",
                    "custom": {"Company_Name": "Fields Ltd", "test_field": "t"}}),
        )
        .await,
        201,
    )
    .await;
    let record = json_of(
        app.get(&format!("/datasets/100/records/{}", created["id"]))
            .await,
        200,
    )
    .await;
    assert_eq!(record["custom"]["company_name"], "Fields Ltd", "{record}");
    assert_eq!(record["custom"]["test_field"], "t", "{record}");
    assert_eq!(app.emulator().records_in_dataset(100), before + 1);
}

#[tokio::test]
async fn a_value_over_its_columns_size_is_422_naming_the_size_counted_in_characters() {
    let app = spawn_app().await;
    // The emulator's `Title` holds 10 characters, a custom column 200.
    let problem = problem_of(
        app.post(
            "/datasets/100/records",
            &json!({"mobile_phone": "07123456789", "title": "Professor Emeritus"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(fields(&problem), ["title"], "{problem}");
    assert!(message(&problem, 0).contains("at most 10"), "{problem}");
    let problem = problem_of(
        app.post(
            "/datasets/200/records",
            &json!({"mobile_phone": "07123456789", "custom": {"company_name": "x".repeat(201)}}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(fields(&problem), ["custom.company_name"], "{problem}");
    assert!(message(&problem, 0).contains("at most 200"), "{problem}");
    assert_eq!(app.emulator().calls().create, 0, "nothing was sent");
    // 200 two-byte characters fit a 200-character column.
    json_of(
        app.post(
            "/datasets/200/records",
            &json!({"mobile_phone": "07123456789", "custom": {"company_name": "é".repeat(200)}}),
        )
        .await,
        201,
    )
    .await;
}

#[tokio::test]
async fn a_batch_with_bad_items_names_each_by_index_and_sends_nothing() {
    let app = spawn_app().await;
    let before = app.emulator().records_in_dataset(100);
    let problem = problem_of(
        app.post(
            "/datasets/100/records",
            &json!([
                {"mobile_phone": "07123456789", "custom": {"company_name": "Good"}},
                {"mobile_phone": "07123456780", "custom": {"vat_number": "GB1"}},
                {"mobile_phone": "07123456781", "postcode": "SW1A 2AA LONDON"},
            ]),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(
        fields(&problem),
        ["[1].custom.vat_number", "[2].postcode"],
        "{problem}"
    );
    assert!(message(&problem, 0).ends_with(SANDBOX_CUSTOM), "{problem}");
    assert_eq!(app.emulator().calls().create, 0);
    assert_eq!(app.emulator().records_in_dataset(100), before);
}

#[tokio::test]
async fn both_update_routes_check_the_campaigns_columns_before_sending() {
    let app = spawn_app().await;
    let id = app.create_record(100).await;
    let on_dataset = format!("/datasets/100/records/{id}");
    let on_record = format!("/records/{id}");

    // Clearing a column the campaign does not have is refused too.
    let problem = problem_of(
        app.patch(&on_dataset, &json!({"custom": {"vat_number": null}}))
            .await,
        422,
    )
    .await;
    assert_eq!(fields(&problem), ["custom.vat_number"], "{problem}");
    assert!(message(&problem, 0).ends_with(SANDBOX_CUSTOM), "{problem}");
    let problem = problem_of(
        app.patch(
            &on_record,
            &json!({"dataset": 100, "custom": {"VAT_number": "GB1"}}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(fields(&problem), ["custom.VAT_number"], "{problem}");
    let problem = problem_of(
        app.patch(
            &on_record,
            &json!({"table": "sandbox_campaign", "first_name": "N".repeat(51)}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(fields(&problem), ["first_name"], "{problem}");
    assert!(message(&problem, 0).contains("at most 50"), "{problem}");
    assert_eq!(app.emulator().calls().update, 0, "nothing was sent");

    json_of(
        app.patch(
            &on_record,
            &json!({"table": "sandbox_campaign", "custom": {"test_field": "updated"}}),
        )
        .await,
        200,
    )
    .await;
    let record = json_of(app.get(&on_dataset).await, 200).await;
    assert_eq!(record["custom"]["test_field"], "updated", "{record}");
}

#[tokio::test]
async fn import_rows_against_the_campaigns_columns_are_invalid_and_never_sent() {
    let app = spawn_app().await;
    let before = app.emulator().records_in_dataset(100);
    let body = [
        r#"{"mobile_phone": "07700900031", "custom": {"company_name": "Imported"}}"#,
        r#"{"mobile_phone": "07700900032", "custom": {"vat_number": "GB1"}}"#,
        r#"{"mobile_phone": "07700900033", "title": "Right Honourable"}"#,
    ]
    .join("\n");
    let response = upload(&app, "application/x-ndjson", body).await;
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    json_of(response, 202).await;
    let import = finished(&app, &full_token(), &location).await;
    assert_eq!(import["state"], "done", "{import}");
    assert_eq!(
        (&import["rows"], &import["invalid"], &import["created"]),
        (&3.into(), &2.into(), &1.into()),
        "{import}"
    );
    assert_eq!(app.emulator().records_in_dataset(100), before + 1);
    let errors = json_of(app.get(&format!("{location}/errors")).await, 200).await;
    let listed: Vec<(u64, &str)> = errors["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].as_u64().unwrap(), e["field"].as_str().unwrap()))
        .collect();
    assert_eq!(listed, [(2, "custom.vat_number"), (3, "title")], "{errors}");
    assert!(
        errors["errors"][0]["message"]
            .as_str()
            .unwrap()
            .ends_with(SANDBOX_CUSTOM),
        "{errors}"
    );
}

/// Mounts a dataset list placing dataset 100 in `sandbox_campaign` (both the whole list and
/// the table's read answer it), and that one campaign table.
async fn mount_sandbox_campaign(app: &TestApp) {
    Mock::given(path("/ecnow.php"))
        .and(query_param("method", "ecnow_datasets"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"success": true,
            "list": [{"dataset": "100", "qid": "1", "d_status": "LIVE", "d_priority": "0"}]})),
        )
        .named("ecnow_datasets")
        .mount(app.mock())
        .await;
    Mock::given(path("/ecnow.php"))
        .and(query_param("method", "campaign_tables"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"success": true, "list": [{"name": "sandbox_campaign"}]})),
        )
        .named("campaign_tables")
        .mount(app.mock())
        .await;
}

/// A gateway on a wiremock ContactNow whose dataset 100 belongs to `sandbox_campaign`: one
/// token fetch, the campaign's field list answered by `fields` and read `field_reads` times,
/// and `creates` creates answered with [`CREATED`].
async fn mocked_campaign(fields: ResponseTemplate, field_reads: u64, creates: u64) -> TestApp {
    let app = spawn_app_with_mock().await;
    mount_token(app.mock(), 1).await;
    mount_sandbox_campaign(&app).await;
    mount_fields(&app, fields, field_reads).await;
    mount_ecnow(
        app.mock(),
        "create",
        serde_json::from_str(CREATED).unwrap(),
        creates,
    )
    .await;
    app
}

/// Mounts the `campaign_fields` read of `sandbox_campaign`, answering `answer`, expected
/// `times` times.
async fn mount_fields(app: &TestApp, answer: ResponseTemplate, times: u64) {
    Mock::given(path("/ecnow.php"))
        .and(query_param("method", "campaign_fields"))
        .and(query_param("action", "read"))
        .and(query_param("table", "sandbox_campaign"))
        .respond_with(answer)
        .expect(times)
        .named("campaign_fields sandbox_campaign")
        .mount(app.mock())
        .await;
}

const CREATED: &str =
    r#"{"success":true,"total":1,"bad":0,"key":550447,"info":"Record is LIVE on the dialer."}"#;

#[tokio::test]
async fn a_refused_field_list_lets_writes_through_on_the_syntax_rules() {
    // The refusal of an API user without the right (PROTOCOL.md), kept like an answer.
    let refused = json!({"success": false, "error": "Bad argument: method"});
    let app = mocked_campaign(ResponseTemplate::new(200).set_body_json(refused), 1, 2).await;
    for _ in 0..2 {
        let created = json_of(
            app.post(
                "/datasets/100/records",
                &json!({"mobile_phone": "07123456789", "custom": {"vat_number": "GB1"}}),
            )
            .await,
            201,
        )
        .await;
        assert_eq!(created["id"], 550447);
    }
    let sent = record_requests(app.mock()).await;
    assert_eq!(sent.len(), 2);
    assert!(sent[0].1.contains(r#""vat_number":"GB1""#), "{}", sent[0].1);
}

#[tokio::test]
async fn a_fault_reading_the_field_list_is_5xx_with_nothing_sent_and_is_not_kept() {
    let app = mocked_campaign(ResponseTemplate::new(500), 2, 0).await;
    for _ in 0..2 {
        let problem = problem_of(
            app.post(
                "/datasets/100/records",
                &json!({"mobile_phone": "07123456789", "last_name": "Fault"}),
            )
            .await,
            502,
        )
        .await;
        assert_eq!(problem["code"], "upstream_failed", "{problem}");
    }
    assert!(record_requests(app.mock()).await.is_empty());
}

#[tokio::test]
async fn a_stampede_of_creates_reads_the_campaign_fields_once() {
    let listed = json!({"success": true, "list": [
        {"name": "FirstName", "standard_field": "1", "size": "50", "type": "varchar"},
        {"name": "Region", "standard_field": "0", "size": "5", "type": "varchar"},
    ]});
    const WRITERS: usize = 20;
    let field_list = ResponseTemplate::new(200)
        .set_body_json(listed)
        .set_delay(Duration::from_millis(300));
    let app = mocked_campaign(field_list, 1, WRITERS as u64).await;
    let body = json!({"mobile_phone": "07123456789", "custom": {"region": "North"}});
    let answers = join_all((0..WRITERS).map(|_| app.post("/datasets/100/records", &body))).await;
    for answer in answers {
        json_of(answer, 201).await;
    }
    // Warm: the same list refuses an over-size value with no further read.
    let problem = problem_of(
        app.post(
            "/datasets/100/records",
            &json!({"mobile_phone": "07123456789", "custom": {"REGION": "Northeast"}}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(fields(&problem), ["custom.REGION"], "{problem}");
    let metrics = app.metrics_text().await;
    for line in [
        "ecnow_gateway_metadata_list_fetches_total{list=\"campaign_fields\",outcome=\"ok\"} 1",
        "ecnow_gateway_metadata_list_cache_hits_total{list=\"campaign_fields\"} 20",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line}\n{metrics}");
    }
}
