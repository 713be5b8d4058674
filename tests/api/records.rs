//! Create, read and update round trips against the emulator, in both wire formats.

use ecnow_gateway::upstream::WireFormat;
use serde_json::{Value, json};

use crate::helpers::{AppOptions, json_of, spawn_app_with};

async fn round_trip(format: WireFormat) {
    let app = spawn_app_with(AppOptions {
        format,
        ..AppOptions::default()
    })
    .await;

    // Create one record.
    let response = app
        .post(
            "/datasets/100/records",
            &json!({"title": "Ms", "first_name": "Ada & <Co>", "last_name": "Lovelace",
                    "mobile_phone": "+44 7700 900123", "postcode": "EC1A 1BB",
                    "custom": {"company_name": "Analytical Engines"}}),
        )
        .await;
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created = json_of(response, 201).await;
    let id = created["id"].as_u64().expect("a numeric id");
    assert_eq!(location, format!("/datasets/100/records/{id}"));
    assert_eq!(created["dataset_id"], 100);
    assert_eq!(created["live"], true);

    // Read it back by id, in the clean shape.
    let record = json_of(app.get(&location).await, 200).await;
    assert_eq!(record["id"], id);
    assert_eq!(record["first_name"], "Ada & <Co>");
    assert_eq!(record["mobile_phone"], "+44 7700 900123");
    assert_eq!(record["home_phone"], Value::Null);
    assert_eq!(record["process_date"], Value::Null);
    assert_eq!(record["outcome_code"], 100);
    assert_eq!(record["custom"]["company_name"], "Analytical Engines");
    assert_eq!(record["custom"]["test_field"], Value::Null);

    // Update it on both update routes, clearing a field and appending notes.
    let updated = json_of(
        app.patch(
            &location,
            &json!({"postcode": null, "last_name": "King", "notes": "first"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(updated["id"], id);
    let updated = json_of(
        app.patch(
            &format!("/records/{id}"),
            &json!({"dataset": 100, "notes_append": "second"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(updated["live"], true);
    let record = json_of(app.get(&location).await, 200).await;
    assert_eq!(record["last_name"], "King");
    assert_eq!(record["postcode"], Value::Null);
    assert!(
        record["notes"].as_str().unwrap().starts_with("first"),
        "{record}"
    );
    assert!(
        record["notes"].as_str().unwrap().ends_with("second"),
        "{record}"
    );

    // Find it by search and by phone in the dataset and in its campaign table.
    let page = json_of(
        app.get("/datasets/100/records?search[last_name]=King&match=exact")
            .await,
        200,
    )
    .await;
    assert_eq!(page["total"], 1);
    assert_eq!(page["records"][0]["id"], id);
    let page = json_of(
        app.get("/campaigns/sandbox_campaign/records?phone=%2B44%207700%20900123")
            .await,
        200,
    )
    .await;
    assert_eq!(page["records"][0]["id"], id);
    let record = json_of(
        app.get(&format!("/campaigns/sandbox_campaign/records/{id}"))
            .await,
        200,
    )
    .await;
    assert_eq!(record["dataset_id"], 100);
}

#[tokio::test]
async fn a_record_round_trips_over_json() {
    round_trip(WireFormat::Json).await;
}

#[tokio::test]
async fn a_record_round_trips_over_xml() {
    round_trip(WireFormat::Xml).await;
}

#[tokio::test]
async fn the_seeded_dataset_reads_with_filters_and_total_counts_every_match() {
    let app = spawn_app_with(AppOptions::default()).await;
    let all = json_of(app.get("/datasets/100/records").await, 200).await;
    let total = all["total"].as_u64().unwrap();
    assert!(total >= 3, "{all}");
    assert_eq!(all["records"][0]["id"], 550000);

    let page = json_of(app.get("/datasets/100/records?limit=1").await, 200).await;
    assert_eq!(page["total"], total);
    assert_eq!(page["records"].as_array().unwrap().len(), 1);

    let complete = json_of(app.get("/datasets/100/records?outcome=200").await, 200).await;
    assert!(
        complete["records"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["outcome_code"] == 200)
    );
    let unexpired = json_of(
        app.get("/datasets/100/records?mode=callbacks&time_field=callback&from=2000-01-01")
            .await,
        200,
    )
    .await;
    assert!(
        unexpired["records"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| !r["callback_at"].is_null())
    );
}

#[tokio::test]
async fn a_batch_creates_every_record_and_reports_refusals() {
    let app = spawn_app_with(AppOptions::default()).await;
    let before = app.emulator().records_in_dataset(200);
    let batch: Vec<Value> = (0..1000)
        .map(|i| json!({"first_name": format!("P{i}"), "mobile_phone": format!("07700{i:06}")}))
        .collect();
    let result = json_of(
        app.post("/datasets/200/records", &Value::Array(batch))
            .await,
        201,
    )
    .await;
    assert_eq!(result["created"], 1000);
    assert_eq!(result["rejected"], 0);
    assert_eq!(app.emulator().records_in_dataset(200), before + 1000);
    assert_eq!(app.emulator().calls().create, 2, "two chunks of 500");

    // Dataset 300 is expired upstream: the gateway refuses the batch whole, nothing is sent.
    let creates = app.emulator().calls().create;
    let refused = json_of(
        app.post(
            "/datasets/300/records",
            &json!([{"mobile_phone": "0712345678"}]),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(refused["errors"][0]["field"], "dataset");
    assert_eq!(app.emulator().calls().create, creates, "nothing sent");
}

#[tokio::test]
async fn duplicates_are_created_as_upstream_does() {
    let app = spawn_app_with(AppOptions::default()).await;
    let body = json!({"first_name": "Twin", "mobile_phone": "07000000001"});
    let first = json_of(app.post("/datasets/100/records", &body).await, 201).await;
    let second = json_of(app.post("/datasets/100/records", &body).await, 201).await;
    assert_ne!(first["id"], second["id"]);
}
