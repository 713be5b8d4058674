//! The records routes' checks against the cached metadata: a dataset ContactNow does not list
//! is `404` and an `expired` one takes no creates (nothing sent either way), a dataset created
//! since the list was cached is found by one fresh read, a refused list skips the checks, and an
//! `outcome_code` the outcome-code list does not name is `422`.

use serde_json::json;
use wiremock::matchers::{path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::*;

/// A dataset id neither the emulator nor the mocks list.
const UNKNOWN: u64 = 999;

#[tokio::test]
async fn an_unlisted_dataset_is_404_on_every_records_route_with_nothing_sent() {
    let app = spawn_app().await;
    let record = json!({"mobile_phone": "0712345678"});
    problem_of(
        app.post(&format!("/datasets/{UNKNOWN}/records"), &record)
            .await,
        404,
    )
    .await;
    problem_of(app.get(&format!("/datasets/{UNKNOWN}/records")).await, 404).await;
    problem_of(
        app.get(&format!("/datasets/{UNKNOWN}/records/550000"))
            .await,
        404,
    )
    .await;
    let change = json!({"last_name": "Bloggs"});
    problem_of(
        app.patch(&format!("/datasets/{UNKNOWN}/records/550000"), &change)
            .await,
        404,
    )
    .await;
    let named = json!({"dataset": UNKNOWN, "last_name": "Bloggs"});
    problem_of(app.patch("/records/550000", &named).await, 404).await;
    let calls = app.emulator().calls();
    assert_eq!(
        (calls.create, calls.read, calls.update),
        (0, 0, 0),
        "{calls:?}"
    );
}

#[tokio::test]
async fn a_create_into_an_expired_dataset_is_422_with_nothing_sent() {
    let app = spawn_app().await;
    let before = app.emulator().records_in_dataset(300);
    let problem = problem_of(
        app.post(
            "/datasets/300/records",
            &json!({"mobile_phone": "0712345678"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "dataset", "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("expired")
            || problem["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("expired")
    );
    assert_eq!(app.emulator().calls().create, 0);
    assert_eq!(app.emulator().records_in_dataset(300), before);
    // Reading an expired dataset is still allowed.
    json_of(app.get("/datasets/300/records").await, 200).await;
}

/// Mounts the `ecnow_datasets` answers: the whole list shows dataset 100 only, a read of
/// dataset 351 finds it (created since), a read of any other finds nothing.
async fn mount_datasets(app: &TestApp, fresh_reads_of_351: u64, fresh_reads_of_unknown: u64) {
    let row = |id: &str| json!({"dataset": id, "qid": "1", "d_status": "LIVE", "d_priority": "50"});
    Mock::given(path("/ecnow.php"))
        .and(query_param("method", "ecnow_datasets"))
        .and(query_param("dataset", "351"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"success": true, "list": [row("351")]})),
        )
        .expect(fresh_reads_of_351)
        .named("ecnow_datasets dataset=351")
        .mount(app.mock())
        .await;
    Mock::given(path("/ecnow.php"))
        .and(query_param("method", "ecnow_datasets"))
        .and(query_param("dataset", UNKNOWN.to_string()))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"success": true, "list": []})),
        )
        .expect(fresh_reads_of_unknown)
        .named("ecnow_datasets dataset=999")
        .mount(app.mock())
        .await;
    Mock::given(path("/ecnow.php"))
        .and(query_param("method", "ecnow_datasets"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"success": true, "list": [row("100")]})),
        )
        .expect(1)
        .named("ecnow_datasets list")
        .mount(app.mock())
        .await;
}

/// Mounts an `ecnow_records` read answering no rows, expected `times` times.
async fn mount_record_reads(app: &TestApp, times: u64) {
    Mock::given(path("/ecnow.php"))
        .and(query_param("method", "ecnow_records"))
        .and(query_param("action", "read"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"success": true, "total": 0, "list": []})),
        )
        .expect(times)
        .named("ecnow_records read")
        .mount(app.mock())
        .await;
}

#[tokio::test]
async fn a_dataset_created_since_the_list_was_cached_is_found_by_one_fresh_read() {
    let app = spawn_app_with_mock().await;
    mount_token(app.mock(), 1).await;
    mount_datasets(&app, 1, 1).await;
    mount_record_reads(&app, 3).await;
    // The list is cached with dataset 100 only.
    json_of(app.get("/datasets/100/records").await, 200).await;
    // 351 is not in it: one fresh read finds it, and a second request reads it no more.
    json_of(app.get("/datasets/351/records").await, 200).await;
    json_of(app.get("/datasets/351/records").await, 200).await;
    // An unknown dataset: one fresh read, then 404 without asking again within 10 s.
    problem_of(app.get(&format!("/datasets/{UNKNOWN}/records")).await, 404).await;
    problem_of(app.get(&format!("/datasets/{UNKNOWN}/records")).await, 404).await;
}

#[tokio::test]
async fn a_refused_dataset_list_skips_the_checks() {
    let app = spawn_app_with_mock().await;
    mount_token(app.mock(), 1).await;
    Mock::given(path("/ecnow.php"))
        .and(query_param("method", "ecnow_datasets"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"success": false, "error": "Bad argument: method"})),
        )
        .expect(1)
        .named("ecnow_datasets refused")
        .mount(app.mock())
        .await;
    Mock::given(path("/database.php"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"success": false, "error": "Bad argument: method"})),
        )
        .expect(1)
        .named("outcomecodes refused")
        .mount(app.mock())
        .await;
    mount_ecnow(
        app.mock(),
        "create",
        json!({"success": true, "account_id": "10278", "total": 1, "bad": 0, "key": 550447,
               "info": "Record is LIVE on the dialer."}),
        1,
    )
    .await;
    let created = json_of(
        app.post(
            &format!("/datasets/{UNKNOWN}/records"),
            &json!({"mobile_phone": "07123456789", "outcome_code": 777}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(created["id"], 550447);
}

#[tokio::test]
async fn an_outcome_code_the_list_does_not_name_is_422_with_nothing_sent() {
    let app = spawn_app().await;
    let problem = problem_of(
        app.post(
            "/datasets/100/records",
            &json!({"mobile_phone": "0712345678", "outcome_code": 777}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "outcome_code", "{problem}");
    let problem = problem_of(
        app.post(
            "/datasets/100/records",
            &json!([{"mobile_phone": "0712345678"}, {"mobile_phone": "0712345679", "outcome_code": 777}]),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(
        problem["errors"][0]["field"], "[1].outcome_code",
        "{problem}"
    );
    assert_eq!(app.emulator().calls().create, 0);
    let created = json_of(
        app.post(
            "/datasets/100/records",
            &json!({"mobile_phone": "0712345678", "outcome_code": 510456}),
        )
        .await,
        201,
    )
    .await;
    let location = format!("/datasets/100/records/{}", created["id"]);
    let problem = problem_of(
        app.patch(&location, &json!({"outcome_code": 777})).await,
        422,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "outcome_code", "{problem}");
    let named = json!({"dataset": 100, "outcome_code": 777});
    let problem = problem_of(
        app.patch(&format!("/records/{}", created["id"]), &named)
            .await,
        422,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "outcome_code", "{problem}");
    assert_eq!(app.emulator().calls().update, 0);
    json_of(
        app.patch(&location, &json!({"outcome_code": 301})).await,
        200,
    )
    .await;
}

#[tokio::test]
async fn prefer_return_representation_answers_the_record_as_read_back() {
    let app = spawn_app().await;
    let token = full_token();
    let prefer = |path: &str, body: serde_json::Value| {
        app.http
            .patch(app.url(path))
            .bearer_auth(&token)
            .header("Prefer", "respond-async, return=representation")
            .json(&body)
            .send()
    };
    let answer = prefer(
        "/datasets/100/records/550000",
        json!({"last_name": "Bloggs"}),
    )
    .await
    .unwrap();
    assert_eq!(
        answer.headers()["preference-applied"],
        "return=representation"
    );
    let record = json_of(answer, 200).await;
    assert_eq!(
        (record["id"].clone(), record["last_name"].clone()),
        (json!(550000), json!("Bloggs"))
    );
    assert_eq!(record["dataset_id"], 100, "{record}");
    let answer = prefer(
        "/records/550001",
        json!({"dataset": 100, "notes": "Prefers post"}),
    )
    .await
    .unwrap();
    assert_eq!(
        answer.headers()["preference-applied"],
        "return=representation"
    );
    let record = json_of(answer, 200).await;
    assert_eq!(record["notes"], "Prefers post", "{record}");
    // Without the preference: the short answer, no header.
    let answer = app
        .patch("/records/550001", &json!({"dataset": 100, "notes": "x"}))
        .await;
    assert!(answer.headers().get("preference-applied").is_none());
    assert!(json_of(answer, 200).await.get("notes").is_none());
}
