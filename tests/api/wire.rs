//! What goes on the wire: the exact query strings and bodies sent upstream (wiremock).

use ecnow_gateway::upstream::WireFormat;
use serde_json::json;

use crate::helpers::{
    AppOptions, MOCK_TOKEN, json_of, mount_ecnow, mount_token, record_requests, spawn_app_with,
    spawn_app_with_mock,
};

const CREATED: &str = r#"{"success":true,"account_id":"10278","total":1,"bad":0,"key":550447,"info":"Record is LIVE on the dialer."}"#;

#[tokio::test]
async fn a_create_sends_the_write_names_in_order_and_values_only_in_the_body() {
    let app = spawn_app_with_mock().await;
    mount_token(app.mock(), 1).await;
    mount_ecnow(
        app.mock(),
        "create",
        serde_json::from_str(CREATED).unwrap(),
        1,
    )
    .await;

    let created = json_of(
        app.post(
            "/datasets/100/records",
            &json!({"custom": {"company_name": "ACME"}, "mobile_phone": "07123456789",
                    "first_name": "Joe&action=delete", "title": "Mr", "last_name": "Blogs"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(
        created,
        json!({"id": 550447, "dataset_id": 100, "live": true, "info": "Record is LIVE on the dialer."})
    );

    let sent = record_requests(app.mock()).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].0,
        format!("token={MOCK_TOKEN}&method=ecnow_records&action=create&format=json&raw=1")
    );
    assert_eq!(
        sent[0].1,
        r#"[{"dataset":"100","title":"Mr","firstname":"Joe&action=delete","lastname":"Blogs","mobilephone":"07123456789","company_name":"ACME"}]"#
    );
}

#[tokio::test]
async fn a_create_over_xml_sends_an_easycall_document() {
    let app = spawn_app_with(AppOptions {
        format: WireFormat::Xml,
        emulator: None,
        ..AppOptions::default()
    })
    .await;
    use wiremock::matchers::{path, query_param};
    wiremock::Mock::given(path("/token.php"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_string(format!(
            "<result><success>1</success><token>{MOCK_TOKEN}</token><expire>{}</expire></result>",
            crate::helpers::unix_in(std::time::Duration::from_secs(3600))
        )))
        .expect(1)
        .mount(app.mock())
        .await;
    // The dataset and campaign lists are refused: the create falls back to the syntax rules.
    for method in ["ecnow_datasets", "campaign_tables"] {
        wiremock::Mock::given(path("/ecnow.php"))
            .and(query_param("method", method))
            .respond_with(wiremock::ResponseTemplate::new(200).set_body_string(
                "<result><success>0</success><error>Bad argument: method</error></result>",
            ))
            .expect(1)
            .mount(app.mock())
            .await;
    }
    wiremock::Mock::given(path("/ecnow.php"))
        .and(query_param("method", "ecnow_records"))
        .and(query_param("format", "xml"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_string(
            "<result><success>1</success><total>1</total><bad>0</bad><key>550423</key><info>Record is LIVE on the dialer.</info></result>",
        ))
        .expect(1)
        .mount(app.mock())
        .await;

    let created = json_of(
        app.post(
            "/datasets/100/records",
            &json!({"first_name": "Jo <&> Co", "work_phone": "0200000000"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(created["id"], 550423);
    let sent = record_requests(app.mock()).await;
    assert_eq!(
        sent[0].0,
        format!("token={MOCK_TOKEN}&method=ecnow_records&action=create&format=xml&raw=1")
    );
    assert_eq!(
        sent[0].1,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<easycall><ecnow_records><dataset>100</dataset>\
         <firstname>Jo &lt;&amp;&gt; Co</firstname><workphone>0200000000</workphone></ecnow_records></easycall>"
    );
}

#[tokio::test]
async fn a_read_sends_every_filter_percent_encoded() {
    let app = spawn_app_with_mock().await;
    mount_token(app.mock(), 1).await;
    mount_ecnow(
        app.mock(),
        "read",
        json!({"success": true, "total": 0, "list": []}),
        1,
    )
    .await;

    let page = json_of(
        app.get(
            "/datasets/100/records?outcome=100,200&mode=live&agent=7&phone=07123456789\
             &time_field=process_date&from=2019-01-01&to=2019-01-31T12:30:00\
             &search[last_name]=Blo%26action%3Ddelete&search[company_name]=AC&match=exact&limit=5",
        )
        .await,
        200,
    )
    .await;
    assert_eq!(page, json!({"total": 0, "records": []}));
    let sent = record_requests(app.mock()).await;
    assert_eq!(
        sent[0].0,
        format!(
            "token={MOCK_TOKEN}&method=ecnow_records&action=read&format=json&raw=1&dataset=100\
             &outcome=100%2C200&mode=live&agent=7&ddi=07123456789&timetype=processdate\
             &tstart=2019-01-01+00%3A00%3A00&tstop=2019-01-31+12%3A30%3A00\
             &search%5BLastName%5D=Blo%26action%3Ddelete&search%5Bcompany_name%5D=AC&type=exact&limit=5"
        )
    );
    assert_eq!(sent[0].1, "", "a read has no body");
}

#[tokio::test]
async fn an_update_sends_id_in_query_and_body_and_clears_with_empty_strings() {
    let app = spawn_app_with_mock().await;
    mount_token(app.mock(), 1).await;
    mount_ecnow(
        app.mock(),
        "update",
        json!({"success": true, "account_id": "10278", "total": 1, "bad": 0, "info": "Record is LIVE on the dialer."}),
        2,
    )
    .await;

    json_of(
        app.patch("/records/550431", &json!({"table": "sandbox_campaign", "postcode": null, "last_name": "King",
                                             "custom": {"company_name": null}, "notes_append": "called"}))
            .await,
        200,
    )
    .await;
    json_of(
        app.patch("/datasets/100/records/550431", &json!({"title": "Dr"}))
            .await,
        200,
    )
    .await;

    let sent = record_requests(app.mock()).await;
    assert_eq!(
        sent[0].0,
        format!(
            "token={MOCK_TOKEN}&method=ecnow_records&action=update&format=json&raw=1&id=550431"
        )
    );
    assert_eq!(
        sent[0].1,
        r#"[{"id":"550431","table":"sandbox_campaign","lastname":"King","postcode":"","company_name":"","notes_append":"called"}]"#
    );
    assert_eq!(
        sent[1].1,
        r#"[{"id":"550431","dataset":"100","title":"Dr"}]"#
    );
}
