//! create and update: ids, refusals, changes, outcomes.

use super::*;

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
