//! The account's configuration: `ecnow_datasets`, `campaign_tables`, `campaign_fields` on
//! `ecnow.php`, `outcomecodes` on `database.php`, the dialler fields of a record, and the
//! fixtures the sandbox banner lists.

use super::*;

impl Sandbox {
    /// A read of `method` on `script` (`ecnow.php` or `database.php`).
    async fn config_read(&self, script: &str, method: &str, format: &str, filters: &str) -> Answer {
        let token = self.token().await;
        self.get(&format!(
            "{script}?token={token}&method={method}&action=read&format={format}&raw=1&{filters}"
        ))
        .await
    }

    /// A create or update of datasets.
    async fn datasets_write(&self, action: &str, format: &str, body: &str) -> Answer {
        let token = self.token().await;
        self.post(
            &format!(
                "ecnow.php?token={token}&method=ecnow_datasets&action={action}&format={format}&raw=1"
            ),
            body,
        )
        .await
    }
}

/// The values of column `name` in a JSON read's list.
fn column(answer: &Value, name: &str) -> Vec<String> {
    answer["list"]
        .as_array()
        .unwrap_or_else(|| panic!("a list: {answer}"))
        .iter()
        .map(|row| row[name].as_str().expect("string cell").to_owned())
        .collect()
}

#[tokio::test]
async fn datasets_read_with_upstream_names_and_filters() {
    let sandbox = spawn().await;
    let all = sandbox
        .config_read("ecnow.php", "ecnow_datasets", "json", "")
        .await
        .json();
    assert_eq!(all["success"], true);
    assert_eq!(all["total"], 4);
    assert_eq!(column(&all, "dataset"), ["100", "200", "300", "400"]);
    assert_eq!(
        column(&all, "d_status"),
        ["LIVE", "LIVE", "EXPIRED", "HOLD"]
    );
    let first = &all["list"][0];
    let raw = sandbox
        .config_read("ecnow.php", "ecnow_datasets", "json", "dataset=100")
        .await
        .body;
    assert_eq!(
        raw,
        "{\"success\":true,\"total\":1,\"list\":[{\"dataset\":\"100\",\"qid\":\"75674454\",\
         \"d_status\":\"LIVE\",\"d_priority\":\"0\",\"notes\":\"Loaded by the emulator\",\
         \"callbacks\":\"none\",\"crm_account\":\"0\",\"crm_campaign\":\"0\",\
         \"description\":\"Sandbox prospects\",\"locked\":\"0\"}]}",
        "the upstream's names, in its order"
    );
    assert_eq!(first["qid"], "75674454");
    assert_eq!(first["d_priority"], "0");
    assert_eq!(first["callbacks"], "none");
    assert_eq!(first["locked"], "0");

    for (filters, expected) in [
        ("state=EXPIRED", &["300"][..]),
        ("state=hold", &["400"]),
        ("table=other_campaign", &["300"]),
        ("table=sandbox_campaign&state=LIVE", &["100", "200"]),
        ("qid=75674455", &["300"]),
        ("dataset=100,400", &["100", "400"]),
        ("table=no_such_table", &[]),
    ] {
        let found = sandbox
            .config_read("ecnow.php", "ecnow_datasets", "json", filters)
            .await
            .json();
        assert_eq!(column(&found, "dataset"), expected, "{filters}");
        assert_eq!(found["total"], expected.len(), "{filters}");
    }
    for (filters, error) in [
        ("state=ASLEEP", "Bad argument: state"),
        ("qid=seven", "Bad argument: qid"),
        ("dataset=1x", "Bad argument: dataset"),
    ] {
        let refused = sandbox
            .config_read("ecnow.php", "ecnow_datasets", "json", filters)
            .await
            .json();
        assert_eq!(
            refused,
            json!({"success": false, "error": error}),
            "{filters}"
        );
    }

    let xml = sandbox
        .config_read("ecnow.php", "ecnow_datasets", "xml", "dataset=300")
        .await;
    assert_eq!(xml.content_type, "text/xml; charset=utf-8");
    assert_eq!(
        xml.body,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<result><success>1</success><total>1</total>\
         <list><ecnow_dataset><dataset>300</dataset><qid>75674455</qid><d_status>EXPIRED</d_status>\
         <d_priority>0</d_priority><notes>Loaded by the emulator</notes><callbacks>none</callbacks>\
         <crm_account>0</crm_account><crm_campaign>0</crm_campaign>\
         <description>Last year's list</description><locked>0</locked></ecnow_dataset></list>\
         </result>\n"
    );
    let refused = sandbox
        .config_read("ecnow.php", "ecnow_datasets", "xml", "state=ASLEEP")
        .await;
    assert!(
        refused
            .body
            .contains("<success>0</success><error>Bad argument: state</error>"),
        "{}",
        refused.body
    );
}

#[tokio::test]
async fn dataset_create_takes_the_upstream_defaults_and_answers_the_new_id_as_key() {
    let sandbox = spawn().await;
    let created = sandbox
        .datasets_write(
            "create",
            "json",
            r#"[{"qid":"75674455","description":"Spring list"}]"#,
        )
        .await
        .json();
    assert_eq!(
        created,
        json!({"success": true, "account_id": "10278", "total": 1, "bad": 0, "key": 401})
    );
    let read = sandbox
        .config_read("ecnow.php", "ecnow_datasets", "json", "dataset=401")
        .await
        .json();
    let row = &read["list"][0];
    assert_eq!(row["d_status"], "HOLD");
    assert_eq!(row["d_priority"], "0");
    assert_eq!(row["notes"], "");
    assert_eq!(row["description"], "Spring list");
    // A new dataset joins its queue's campaign table.
    let in_other = sandbox
        .config_read(
            "ecnow.php",
            "ecnow_datasets",
            "json",
            "table=other_campaign",
        )
        .await
        .json();
    assert_eq!(column(&in_other, "dataset"), ["300", "401"]);

    let xml = sandbox
        .datasets_write(
            "create",
            "xml",
            "<easycall><ecnow_datasets><qid>75674454</qid><d_status>LIVE</d_status>\
             <d_priority>90</d_priority><notes>A &amp; B</notes></ecnow_datasets></easycall>",
        )
        .await;
    assert_eq!(
        xml.body,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<result><success>1</success>\
         <account_id>10278</account_id><total>1</total><bad>0</bad><key>402</key></result>\n"
    );
    let read = sandbox
        .config_read("ecnow.php", "ecnow_datasets", "json", "dataset=402")
        .await
        .json();
    assert_eq!(read["list"][0]["d_status"], "LIVE");
    assert_eq!(read["list"][0]["d_priority"], "90");
    assert_eq!(read["list"][0]["notes"], "A & B");

    for (row, error) in [
        (
            json!({"qid": "1", "d_priority": "91"}),
            "Bad argument: d_priority",
        ),
        (
            json!({"qid": "1", "d_status": "ASLEEP"}),
            "Bad argument: d_status",
        ),
        (json!({"qid": "x"}), "Bad argument: qid"),
        (
            json!({"qid": "1", "colour": "red"}),
            "Unknown field [colour].",
        ),
        (
            json!({"qid": "1", "table": "no_such_table"}),
            "Table [no_such_table] does not exist.",
        ),
    ] {
        let refused = sandbox
            .datasets_write("create", "json", &json!([row]).to_string())
            .await
            .json();
        assert_eq!(refused["success"], true, "{row}");
        assert_eq!(refused["total"], 0, "{row}");
        assert_eq!(refused["bad"], 1, "{row}");
        assert_eq!(refused["error"], error, "{row}");
    }
    let lone_object = sandbox
        .datasets_write("create", "json", r#"{"qid":"1"}"#)
        .await
        .json();
    assert_eq!(
        lone_object["error"],
        "Bad argument: payload must be an array"
    );
    let records_xml = sandbox
        .datasets_write(
            "create",
            "xml",
            "<easycall><ecnow_records><qid>1</qid></ecnow_records></easycall>",
        )
        .await;
    assert!(
        records_xml
            .body
            .contains("<error>Bad argument: payload</error>"),
        "{}",
        records_xml.body
    );
    let all = sandbox
        .config_read("ecnow.php", "ecnow_datasets", "json", "")
        .await
        .json();
    assert_eq!(all["total"], 6, "refused rows create nothing");
}

#[tokio::test]
async fn held_datasets_take_records_off_the_dialer_and_expired_ones_refuse_them() {
    let sandbox = spawn().await;
    let token = sandbox.token().await;
    let held = sandbox
        .create_json(
            &token,
            json!([{"dataset": 400, "mobilephone": "07700900999"}]),
        )
        .await;
    assert_eq!(held["total"], 1);
    assert_eq!(
        held["info"],
        "Record is NOT live on the dialer due to the dataset being on HOLD."
    );
    let record = sandbox.read(&token, "dataset=400").await;
    assert_eq!(record["list"][0]["ProcessType"], "HOLD: New Prospect");

    let live = sandbox
        .datasets_write(
            "update",
            "json",
            r#"[{"dataset":"400","d_status":"LIVE","d_priority":"50","description":"Now live"}]"#,
        )
        .await
        .json();
    assert_eq!(
        live,
        json!({"success": true, "account_id": "10278", "total": 1, "bad": 0})
    );
    let record = sandbox.read(&token, "dataset=400").await;
    assert_eq!(record["list"][0]["ProcessType"], "New Prospect");
    let row = sandbox
        .config_read("ecnow.php", "ecnow_datasets", "json", "dataset=400")
        .await
        .json();
    assert_eq!(row["list"][0]["d_status"], "LIVE");
    assert_eq!(row["list"][0]["d_priority"], "50");
    assert_eq!(row["list"][0]["description"], "Now live");
    let now_live = sandbox
        .create_json(
            &token,
            json!([{"dataset": 400, "mobilephone": "07700900998"}]),
        )
        .await;
    assert_eq!(now_live["info"], "Record is LIVE on the dialer.");

    let expire = sandbox
        .datasets_write(
            "update",
            "xml",
            "<easycall><ecnow_datasets><dataset>400</dataset><d_status>EXPIRED</d_status>\
             </ecnow_datasets></easycall>",
        )
        .await;
    assert!(
        expire
            .body
            .contains("<total>1</total><bad>0</bad></result>"),
        "{}",
        expire.body
    );
    let record = sandbox.read(&token, "dataset=400").await;
    assert_eq!(column(&record, "ProcessType"), ["EXPIRED", "EXPIRED"]);
    let refused = sandbox
        .create_json(
            &token,
            json!([{"dataset": 400, "mobilephone": "07700900997"}]),
        )
        .await;
    assert_eq!(refused["total"], 0);
    assert_eq!(refused["bad"], 1);
    assert_eq!(refused["error"], "Dataset [400] is expired.");

    for (row, error) in [
        (
            json!({"dataset": "300", "d_status": "LIVE"}),
            "Dataset [300] is expired.",
        ),
        (
            json!({"dataset": "300", "description": "renamed"}),
            "Dataset [300] is expired.",
        ),
        (json!({"d_status": "LIVE"}), "No dataset provided."),
        (
            json!({"dataset": "999", "d_status": "LIVE"}),
            "Dataset [999] does not exist.",
        ),
        (
            json!({"dataset": "100", "table": "other_campaign"}),
            "Unknown field [table].",
        ),
        (
            json!({"dataset": "100", "d_priority": "-1"}),
            "Bad argument: d_priority",
        ),
    ] {
        let answer = sandbox
            .datasets_write("update", "json", &json!([row]).to_string())
            .await
            .json();
        assert_eq!(answer["success"], true, "{row}");
        assert_eq!(answer["total"], 0, "{row}");
        assert_eq!(answer["bad"], 1, "{row}");
        assert_eq!(answer["error"], error, "{row}");
    }
    let unchanged = sandbox
        .config_read("ecnow.php", "ecnow_datasets", "json", "dataset=100,300")
        .await
        .json();
    assert_eq!(column(&unchanged, "d_status"), ["LIVE", "EXPIRED"]);
    assert_eq!(column(&unchanged, "d_priority"), ["0", "0"]);
}

#[tokio::test]
async fn campaign_tables_and_fields_match_the_columns_records_read_back_with() {
    let sandbox = spawn().await;
    let tables = sandbox
        .config_read("ecnow.php", "campaign_tables", "json", "")
        .await
        .json();
    assert_eq!(
        tables,
        json!({"success": true, "total": 2,
               "list": [{"name": "sandbox_campaign"}, {"name": "other_campaign"}]})
    );
    let xml = sandbox
        .config_read("ecnow.php", "campaign_tables", "xml", "")
        .await;
    assert!(
        xml.body.contains(
            "<total>2</total><list><campaign_table><name>sandbox_campaign</name></campaign_table>\
             <campaign_table><name>other_campaign</name></campaign_table></list>"
        ),
        "{}",
        xml.body
    );

    // A write naming a new column adds it to the table, and so to its fields.
    let token = sandbox.token().await;
    let created = sandbox
        .create_json(
            &token,
            json!([{"dataset": 100, "mobilephone": "07700900321", "shoe_size": "9"}]),
        )
        .await;
    assert_eq!(created["total"], 1);
    let record = sandbox.read(&token, "dataset=100&limit=1").await;
    // serde_json sorts keys: compare the sets here, the order by `position` below.
    let record_columns: Vec<String> = record["list"][0]
        .as_object()
        .expect("row")
        .keys()
        .cloned()
        .collect();
    let fields = sandbox
        .config_read(
            "ecnow.php",
            "campaign_fields",
            "json",
            "table=sandbox_campaign",
        )
        .await
        .json();
    assert_eq!(fields["success"], true);
    let mut field_names = column(&fields, "name");
    field_names.sort();
    assert_eq!(field_names, record_columns);
    let positions: Vec<String> = (1..=record_columns.len()).map(|p| p.to_string()).collect();
    assert_eq!(column(&fields, "position"), positions);
    let in_order = column(&fields, "name");
    assert_eq!(in_order[..3], ["id", "datasetid", "Title"]);
    assert_eq!(
        in_order[in_order.len() - 5..],
        [
            "URN",
            "VENDOR_URN",
            "company_name",
            "test_field",
            "shoe_size"
        ]
    );
    assert_eq!(fields["total"], record_columns.len());
    let first_name = &fields["list"][3];
    assert_eq!(first_name["name"], "FirstName");
    assert_eq!(first_name["standard_field"], "1");
    assert_eq!(first_name["group_name"], "Name and Address");
    let custom = sandbox
        .config_read(
            "ecnow.php",
            "campaign_fields",
            "json",
            "table=sandbox_campaign&name=COMPANY_NAME",
        )
        .await
        .json();
    assert_eq!(
        custom["list"],
        json!([{"position": "29", "table": "sandbox_campaign", "name": "company_name",
                "size": "200", "standard_field": "0", "group_name": "Custom", "type": "varchar",
                "prompt": "Company name", "readonly": "N", "search": "yes", "hidden": "N",
                "hidden_on_script": "N", "order": "29", "picklist": "", "required": "N"}])
    );
    let other = sandbox
        .config_read(
            "ecnow.php",
            "campaign_fields",
            "json",
            "table=other_campaign",
        )
        .await
        .json();
    assert!(
        !column(&other, "name").contains(&"shoe_size".to_owned()),
        "a new column joins only its own table"
    );
    let unknown = sandbox
        .config_read(
            "ecnow.php",
            "campaign_fields",
            "json",
            "table=no_such_table",
        )
        .await
        .json();
    assert_eq!(
        unknown,
        json!({"success": false, "error": "Table [no_such_table] does not exist."})
    );
    let xml = sandbox
        .config_read(
            "ecnow.php",
            "campaign_fields",
            "xml",
            "table=other_campaign&name=callback",
        )
        .await;
    assert!(
        xml.body.contains(
            "<total>1</total><list><campaign_field><position>20</position>\
             <table>other_campaign</table><name>callback</name><size>19</size>\
             <standard_field>1</standard_field><group_name>system</group_name>\
             <type>datetime</type>"
        ),
        "{}",
        xml.body
    );
    let unknown_xml = sandbox
        .config_read("ecnow.php", "campaign_fields", "xml", "table=nope")
        .await;
    assert!(
        unknown_xml
            .body
            .contains("<success>0</success><error>Table [nope] does not exist.</error>"),
        "{}",
        unknown_xml.body
    );
    let write = sandbox
        .post(
            &format!(
                "ecnow.php?token={token}&method=campaign_tables&action=create&format=json&raw=1"
            ),
            r#"[{"name":"new"}]"#,
        )
        .await
        .json();
    assert_eq!(write["error"], "Bad argument: action");
}

#[tokio::test]
async fn database_php_lists_the_outcome_codes_writes_complete_records_by() {
    let sandbox = spawn().await;
    let codes = sandbox
        .config_read("database.php", "outcomecodes", "json", "")
        .await
        .json();
    assert_eq!(codes["success"], true);
    assert_eq!(
        column(&codes, "outcome"),
        ["100", "200", "201", "300", "301", "302", "510456"]
    );
    assert_eq!(
        column(&codes, "complete"),
        ["N", "Y", "Y", "N", "N", "Y", "Y"]
    );
    assert_eq!(
        column(&codes, "answerphone"),
        ["0", "0", "0", "0", "1", "0", "0"]
    );
    assert_eq!(
        column(&codes, "do_not_call"),
        ["N", "N", "N", "N", "N", "Y", "N"]
    );
    assert_eq!(
        codes["list"][6],
        json!({"outcome": "510456", "description": "Appointment Booked", "complete": "Y",
               "dmc": "Y", "sale": "Y", "do_not_call": "N", "answerphone": "0"})
    );
    let system = sandbox
        .config_read("database.php", "outcomecodes", "json", "mode=system")
        .await
        .json();
    assert_eq!(system["total"], 6);
    let one = sandbox
        .config_read("database.php", "outcomecodes", "json", "uid=302")
        .await
        .json();
    assert_eq!(column(&one, "description"), ["Do Not Call"]);
    let bad = sandbox
        .config_read("database.php", "outcomecodes", "json", "uid=abc")
        .await
        .json();
    assert_eq!(bad, json!({"success": false, "error": "Bad argument: uid"}));

    // Every code the list calls complete completes a record; the others do not.
    let token = sandbox.token().await;
    for row in codes["list"].as_array().expect("list") {
        let code = row["outcome"].as_str().expect("code");
        let updated = sandbox
            .write(
                &token,
                "update",
                "json",
                &json!([{"id": "550000", "dataset": "100", "outcomecode": code}]).to_string(),
            )
            .await
            .json();
        assert_eq!(updated["total"], 1, "{code}");
        let read = sandbox.read(&token, "dataset=100&id=550000").await;
        let complete = read["list"][0]["ProcessType"] == "COMPLETE";
        assert_eq!(complete, row["complete"] == "Y", "{code}");
    }

    // XML, a doubled slash, and POST fields like the other scripts.
    let xml = sandbox
        .post_fields(
            "/database.php",
            &[
                ("token", &token),
                ("method", "outcomecodes"),
                ("action", "read"),
                ("format", "xml"),
                ("uid", "301"),
            ],
        )
        .await;
    assert_eq!(xml.status, 200);
    assert_eq!(
        xml.body,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<result><success>1</success><total>1</total>\
         <list><outcomecode><outcome>301</outcome><description>Answerphone</description>\
         <complete>N</complete><dmc>N</dmc><sale>N</sale><do_not_call>N</do_not_call>\
         <answerphone>1</answerphone></outcomecode></list></result>\n"
    );
    for (script, method) in [
        ("database.php", "ecnow_records"),
        ("ecnow.php", "outcomecodes"),
    ] {
        let refused = sandbox.config_read(script, method, "json", "").await.json();
        assert_eq!(
            refused["error"], "Bad argument: method",
            "{method} on {script}"
        );
    }
    let no_token = sandbox
        .get("database.php?method=outcomecodes&action=read&format=json")
        .await
        .json();
    assert_eq!(
        no_token,
        json!({"success": false, "error": "Invalid token"})
    );
    let update = sandbox
        .get(&format!(
            "database.php?token={token}&method=outcomecodes&action=update&format=json"
        ))
        .await
        .json();
    assert_eq!(update["error"], "Bad argument: action");
}

#[tokio::test]
async fn dialler_fields_are_written_in_lower_case_and_read_back_by_their_upstream_names() {
    let sandbox = spawn().await;
    let token = sandbox.token().await;
    let created = sandbox
        .create_json(
            &token,
            json!([{"dataset": "200", "mobilephone": "07700900555", "callback": "2030-01-02 09:15:00",
                    "call_back_notes": "After lunch", "call_back_sametime": "1",
                    "agentref": "1001", "agent_specific": "1", "outcomecode": "300",
                    "notes": "first"}]),
        )
        .await;
    assert_eq!(created["info"], "Record is LIVE on the dialer.");
    let id = created["key"].to_string();
    let read = sandbox.read(&token, &format!("dataset=200&id={id}")).await;
    let row = &read["list"][0];
    assert_eq!(row["callback"], "2030-01-02 09:15:00");
    assert_eq!(row["Call_Back_Notes"], "After lunch");
    assert_eq!(row["Call_Back_Sametime"], "1");
    assert_eq!(row["AgentRef"], "1001");
    assert_eq!(row["Agent_Specific"], "1");
    assert_eq!(row["outcomecode"], "300");

    // No callback and nobody: the upstream's zero values, and notes_append adds a line.
    let updated = sandbox
        .write(
            &token,
            "update",
            "xml",
            &format!(
                "<easycall><ecnow_records><id>{id}</id><dataset>200</dataset>\
                 <callback>0000-00-00 00:00:00</callback><agentref>0</agentref>\
                 <agent_specific>0</agent_specific><call_back_notes></call_back_notes>\
                 <notes_append>called back</notes_append></ecnow_records></easycall>"
            ),
        )
        .await;
    assert!(
        updated.body.contains("<total>1</total>"),
        "{}",
        updated.body
    );
    let read = sandbox.read(&token, &format!("dataset=200&id={id}")).await;
    let row = &read["list"][0];
    assert_eq!(row["callback"], "0000-00-00 00:00:00");
    assert_eq!(row["AgentRef"], "0");
    assert_eq!(row["Agent_Specific"], "0");
    assert_eq!(row["Call_Back_Notes"], "");
    assert_eq!(row["notes"], "first\ncalled back");
    let bad = sandbox
        .write(
            &token,
            "update",
            "json",
            &json!([{"id": id, "dataset": "200", "agent_specific": "yes"}]).to_string(),
        )
        .await
        .json();
    assert_eq!(bad["bad"], 1);
    assert_eq!(bad["error"], "Bad argument: Agent_Specific");
}

#[test]
fn fixtures_list_dataset_statuses_and_the_outcome_table() {
    let fixtures = Emulator::new(EmulatorConfig::default()).fixtures();
    let statuses: Vec<(u64, &str)> = fixtures.datasets.iter().map(|d| (d.id, d.status)).collect();
    assert_eq!(
        statuses,
        [
            (100, "live"),
            (200, "live"),
            (300, "expired"),
            (400, "hold")
        ]
    );
    let complete: Vec<u64> = fixtures
        .outcome_codes
        .iter()
        .filter(|o| o.complete)
        .map(|o| o.code)
        .collect();
    assert_eq!(complete, [200, 201, 302, 510_456]);
    assert_eq!(fixtures.outcome_codes[0].description, "New Prospect");
    let banner = fixtures.to_string();
    assert!(
        banner.contains("    400    hold     campaign sandbox_campaign"),
        "{banner}"
    );
    assert!(
        banner.contains("    510456 complete Appointment Booked"),
        "{banner}"
    );
    assert!(
        banner.contains("    100             New Prospect"),
        "{banner}"
    );
}
