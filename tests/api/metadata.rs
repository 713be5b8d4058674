//! The metadata reads: datasets (with their campaign), campaign tables and fields, outcome
//! codes; their filters, grants and 404s against the emulator, and one upstream fetch per key
//! under a stampede (wiremock).

use std::time::Duration;

use ecnow_gateway::upstream::WireFormat;
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};
use wiremock::matchers::{path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{
    AppOptions, MOCK_TOKEN, TestApp, json_of, mount_token, problem_of, spawn_app_with,
    spawn_app_with_mock, token_for,
};

/// The ids of a dataset list, in the order answered.
fn ids(list: &Value) -> Vec<u64> {
    list["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_u64().unwrap())
        .collect()
}

async fn get_as(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.send(Method::GET, path, Some(token), None).await
}

async fn datasets_are_listed_with_their_campaign_and_filtered(format: WireFormat) {
    let app = spawn_app_with(AppOptions {
        format,
        ..AppOptions::default()
    })
    .await;
    let list = json_of(app.get("/datasets").await, 200).await;
    assert_eq!(ids(&list), [100, 200, 300, 400], "{list}");
    assert_eq!(
        list["datasets"][0],
        json!({"id": 100, "queue_id": 75674454, "status": "live", "priority": 0,
               "description": "Sandbox prospects", "notes": "Loaded by the emulator",
               "callbacks": "none", "locked": false, "campaign": "sandbox_campaign"})
    );
    assert_eq!(list["datasets"][2]["campaign"], "other_campaign");
    assert_eq!(list["datasets"][2]["status"], "expired");
    assert_eq!(list["datasets"][3]["status"], "hold");
    for (query, expected) in [
        ("status=expired", &[300][..]),
        ("status=hold", &[400]),
        ("campaign=other_campaign", &[300]),
        ("campaign=no_such_campaign", &[]),
        ("queue_id=75674455", &[300]),
        ("status=live&campaign=sandbox_campaign", &[100, 200]),
    ] {
        let list = json_of(app.get(&format!("/datasets?{query}")).await, 200).await;
        assert_eq!(ids(&list), expected, "{query}: {list}");
    }
    let one = json_of(app.get("/datasets/300").await, 200).await;
    assert_eq!(one["campaign"], "other_campaign", "{one}");
    assert_eq!(one["queue_id"], 75674455);
}

#[tokio::test]
async fn datasets_are_listed_with_their_campaign_and_filtered_over_json() {
    datasets_are_listed_with_their_campaign_and_filtered(WireFormat::Json).await;
}

#[tokio::test]
async fn datasets_are_listed_with_their_campaign_and_filtered_over_xml() {
    datasets_are_listed_with_their_campaign_and_filtered(WireFormat::Xml).await;
}

#[tokio::test]
async fn bad_dataset_queries_and_paths_are_400_and_unknown_datasets_404() {
    let app = spawn_app_with(AppOptions::default()).await;
    for query in [
        "limit=10",
        "status=LIVE",
        "status=paused",
        "campaign=a-b",
        "queue_id=0",
        "queue_id=x",
        "status=live&status=hold",
    ] {
        let problem = problem_of(app.get(&format!("/datasets?{query}")).await, 400).await;
        assert_eq!(problem["code"], "bad_request", "{query}: {problem}");
    }
    for path in ["/datasets/abc", "/datasets/0", "/datasets/100?x=1"] {
        problem_of(app.get(path).await, 400).await;
    }
    let problem = problem_of(app.get("/datasets/999").await, 404).await;
    assert_eq!(problem["code"], "not_found");
    problem_of(app.get("/campaigns?x=1").await, 400).await;
    problem_of(app.get("/outcome-codes?x=1").await, 400).await;
    problem_of(app.get("/campaigns/sandbox_campaign/fields?x=1").await, 400).await;
}

#[tokio::test]
async fn limited_callers_see_only_the_datasets_and_tables_they_may_touch() {
    let app = spawn_app_with(AppOptions::default()).await;
    let dataset_only = token_for("records:read", Some(vec![100]), None);
    let list = json_of(get_as(&app, "/datasets", &dataset_only).await, 200).await;
    assert_eq!(ids(&list), [100]);
    json_of(get_as(&app, "/datasets/100", &dataset_only).await, 200).await;
    problem_of(get_as(&app, "/datasets/200", &dataset_only).await, 403).await;
    let campaigns = json_of(get_as(&app, "/campaigns", &dataset_only).await, 200).await;
    assert_eq!(campaigns, json!({"campaigns": []}));
    let fields = "/campaigns/sandbox_campaign/fields";
    problem_of(get_as(&app, fields, &dataset_only).await, 403).await;

    let table_only = token_for("records:read", None, Some(vec!["other_campaign"]));
    let list = json_of(get_as(&app, "/datasets", &table_only).await, 200).await;
    assert_eq!(ids(&list), [300]);
    json_of(get_as(&app, "/datasets/300", &table_only).await, 200).await;
    problem_of(get_as(&app, "/datasets/100", &table_only).await, 403).await;
    let campaigns = json_of(get_as(&app, "/campaigns", &table_only).await, 200).await;
    assert_eq!(
        campaigns,
        json!({"campaigns": [{"table": "other_campaign"}]})
    );
    problem_of(get_as(&app, fields, &table_only).await, 403).await;
    json_of(
        get_as(&app, "/campaigns/other_campaign/fields", &table_only).await,
        200,
    )
    .await;

    let both = token_for(
        "records:read",
        Some(vec![400]),
        Some(vec!["other_campaign"]),
    );
    let list = json_of(get_as(&app, "/datasets", &both).await, 200).await;
    assert_eq!(ids(&list), [300, 400]);

    let write_only = token_for("records:write", None, None);
    for path in [
        "/datasets",
        "/datasets/100",
        "/campaigns",
        fields,
        "/outcome-codes",
    ] {
        let problem = problem_of(get_as(&app, path, &write_only).await, 403).await;
        assert_eq!(problem["code"], "forbidden", "{path}: {problem}");
    }
}

#[tokio::test]
async fn campaigns_list_their_fields_with_gateway_names_and_unknown_tables_are_404() {
    let app = spawn_app_with(AppOptions::default()).await;
    let campaigns = json_of(app.get("/campaigns").await, 200).await;
    assert_eq!(
        campaigns,
        json!({"campaigns": [{"table": "sandbox_campaign"}, {"table": "other_campaign"}]})
    );
    let list = json_of(app.get("/campaigns/sandbox_campaign/fields").await, 200).await;
    let fields = list["fields"].as_array().unwrap();
    let field = |name: &str| {
        fields
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {list}"))
            .clone()
    };
    let first = field("FirstName");
    assert_eq!(first["gateway_name"], "first_name");
    assert_eq!(first["standard"], true);
    assert_eq!(first["searchable"], true);
    assert_eq!(first["size"], 50);
    assert_eq!(field("id")["read_only"], true);
    let company = field("company_name");
    assert_eq!(
        company,
        json!({"name": "company_name", "gateway_name": "custom.company_name", "type": "varchar",
               "size": 200, "group": "Custom", "prompt": "Company name", "required": false,
               "read_only": false, "hidden": false, "searchable": true,
               "order": company["order"], "standard": false, "picklist": null})
    );
    assert!(company["order"].as_u64().unwrap() > first["order"].as_u64().unwrap());
    let problem = problem_of(app.get("/campaigns/no_such_table/fields").await, 404).await;
    assert_eq!(problem["code"], "not_found");
    problem_of(app.get("/campaigns/a-b/fields").await, 400).await;
}

#[tokio::test]
async fn outcome_codes_turn_the_upstream_flags_into_booleans() {
    let app = spawn_app_with(AppOptions {
        format: WireFormat::Xml,
        ..AppOptions::default()
    })
    .await;
    let list = json_of(app.get("/outcome-codes").await, 200).await;
    let codes = list["outcome_codes"].as_array().unwrap();
    assert!(
        codes.contains(&json!({"code": 510456, "description": "Appointment Booked",
        "complete": true, "dmc": true, "sale": true, "do_not_call": false,
        "answerphone": false})),
        "{list}"
    );
    assert!(
        codes.contains(&json!({"code": 301, "description": "Answerphone",
        "complete": false, "dmc": false, "sale": false, "do_not_call": false,
        "answerphone": true})),
        "{list}"
    );
}

/// Mounts a `database.php` outcome code read answering `body` after `delay`, expected `times`.
async fn mount_outcome_codes(app: &TestApp, body: Value, delay: Duration, times: u64) {
    Mock::given(path("/database.php"))
        .and(query_param("token", MOCK_TOKEN))
        .and(query_param("method", "outcomecodes"))
        .and(query_param("action", "read"))
        .and(query_param("format", "json"))
        .and(query_param("raw", "1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(body)
                .set_delay(delay),
        )
        .expect(times)
        .named("database.php outcomecodes")
        .mount(app.mock())
        .await;
}

#[tokio::test]
async fn twenty_concurrent_outcome_code_reads_make_one_upstream_call() {
    let app = spawn_app_with_mock().await;
    mount_token(app.mock(), 1).await;
    let body = json!({"success": true, "total": 1, "list": [{"outcome": "510456",
        "description": "Sales Completed", "complete": "Y", "dmc": "Y", "sale": "Y",
        "do_not_call": "N", "answerphone": "0"}]});
    mount_outcome_codes(&app, body, Duration::from_millis(300), 1).await;
    let answers = join_all((0..20).map(|_| app.get("/outcome-codes"))).await;
    for answer in answers {
        let list = json_of(answer, 200).await;
        assert_eq!(
            list,
            json!({"outcome_codes": [{"code": 510456, "description": "Sales Completed",
                "complete": true, "dmc": true, "sale": true, "do_not_call": false,
                "answerphone": false}]})
        );
    }
    json_of(app.get("/outcome-codes").await, 200).await;
    let metrics = app.metrics_text().await;
    for line in [
        "ecnow_gateway_metadata_list_fetches_total{list=\"outcome_codes\",outcome=\"ok\"} 1",
        "ecnow_gateway_metadata_list_cache_hits_total{list=\"outcome_codes\"} 20",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line}\n{metrics}");
    }
}

#[tokio::test]
async fn concurrent_field_reads_make_one_upstream_call_per_table() {
    let app = spawn_app_with_mock().await;
    mount_token(app.mock(), 1).await;
    for table in ["alpha", "beta"] {
        Mock::given(path("/ecnow.php"))
            .and(query_param("method", "campaign_fields"))
            .and(query_param("action", "read"))
            .and(query_param("table", table))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"success": true, "list": [{"position": "1",
                        "table": table, "name": format!("{table}_code"), "size": "20",
                        "standard_field": "0", "group_name": "Custom", "type": "varchar",
                        "prompt": "Code", "readonly": "N", "search": "no", "hidden": "Y",
                        "order": "30", "picklist": "codes", "required": "Y"}]}))
                    .set_delay(Duration::from_millis(300)),
            )
            .expect(1)
            .named(format!("campaign_fields {table}"))
            .mount(app.mock())
            .await;
    }
    let routes: Vec<String> = (0..20)
        .map(|n| format!("/campaigns/{}/fields", ["alpha", "beta"][n % 2]))
        .collect();
    let answers = join_all(routes.iter().map(|route| app.get(route))).await;
    for (route, answer) in routes.iter().zip(answers) {
        let list = json_of(answer, 200).await;
        let table = route.split('/').nth(2).unwrap();
        assert_eq!(
            list["fields"],
            json!([{"name": format!("{table}_code"), "gateway_name": format!("custom.{table}_code"),
                "type": "varchar", "size": 20, "group": "Custom", "prompt": "Code",
                "required": true, "read_only": false, "hidden": true, "searchable": false,
                "order": 30, "standard": false, "picklist": "codes"}])
        );
    }
}

#[tokio::test]
async fn hostile_metadata_values_are_502_and_a_refused_list_is_502() {
    let app = spawn_app_with_mock().await;
    mount_token(app.mock(), 1).await;
    mount_outcome_codes(
        &app,
        json!({"success": true, "list": [{"outcome": "12abc", "complete": "Y"}]}),
        Duration::ZERO,
        1,
    )
    .await;
    let problem = problem_of(app.get("/outcome-codes").await, 502).await;
    assert!(!problem["detail"].as_str().unwrap().contains(MOCK_TOKEN));
    Mock::given(path("/ecnow.php"))
        .and(query_param("method", "ecnow_datasets"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"success": true,
            "list": [{"dataset": "351", "qid": "1", "d_status": "LIVE", "d_priority": "900"}]})),
        )
        .expect(1)
        .mount(app.mock())
        .await;
    problem_of(app.get("/datasets?status=live").await, 502).await;
    Mock::given(path("/ecnow.php"))
        .and(query_param("method", "campaign_tables"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"success": false, "error": "Bad argument: method"})),
        )
        .expect(1)
        .mount(app.mock())
        .await;
    problem_of(app.get("/campaigns").await, 502).await;
    problem_of(app.get("/campaigns").await, 502).await;
}

#[tokio::test]
async fn refusals_by_scope_or_dataset_grant_reach_no_upstream() {
    let app = spawn_app_with(AppOptions::default()).await;
    let dataset_only = token_for("records:read", Some(vec![100]), None);
    problem_of(get_as(&app, "/datasets/200", &dataset_only).await, 403).await;
    let fields = "/campaigns/sandbox_campaign/fields";
    problem_of(get_as(&app, fields, &dataset_only).await, 403).await;
    let write_only = token_for("records:write", None, None);
    for path in [
        "/datasets",
        "/datasets/100",
        "/campaigns",
        fields,
        "/outcome-codes",
    ] {
        problem_of(get_as(&app, path, &write_only).await, 403).await;
    }
    let calls = app.emulator().calls();
    assert_eq!((calls.token_get, calls.other), (0, 0), "{calls:?}");
    json_of(app.get("/outcome-codes").await, 200).await;
    assert_eq!(
        app.emulator().calls().other,
        1,
        "the counter sees metadata reads"
    );
}
