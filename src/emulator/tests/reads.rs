//! read: filters, searches, limits, sorting, time ranges, modes.

use super::*;

#[tokio::test]
async fn seeded_dataset_reads_back_with_upstream_names() {
    let sandbox = spawn().await;
    let token = sandbox.token().await;
    let all = sandbox.read(&token, "dataset=100").await;
    assert_eq!(all["total"], 5);
    assert_eq!(
        Sandbox::ids(&all),
        ["550000", "550001", "550002", "550003", "550004"]
    );
    let first = &all["list"][0];
    let today = chrono::Local::now().date_naive().to_string();
    assert_eq!(first["datasetid"], "100");
    assert_eq!(first["FirstName"], "Joe");
    assert_eq!(first["company_name"], "Company Name");
    assert_eq!(first["test_field"], "");
    assert_eq!(first["AgentRef"], "0");
    assert_eq!(first["callback"], "0000-00-00 00:00:00");
    assert_eq!(first["outcomecode"], "100");
    assert_eq!(first["ProcessType"], "New Prospect");
    assert_eq!(first["loaddate"], today.as_str());
    assert_eq!(first["sourcefile"], "api_data_100.dat");
    assert_eq!(first["URN"], Value::Null);
    assert_eq!(first["VENDOR_URN"], Value::Null);
    assert_eq!(first.as_object().map(|o| o.len()), Some(2 + 24 + 2 + 2));
    let complete = &all["list"][2];
    assert_eq!(complete["ProcessType"], "COMPLETE");
    assert_eq!(complete["outcomecode"], "200");
    assert_ne!(complete["callback"], "0000-00-00 00:00:00");
    assert_eq!(sandbox.emulator.records_in_dataset(200), 0);
    assert_eq!(sandbox.read(&token, "dataset=200").await["total"], 0);
}

#[tokio::test]
async fn read_filters_by_outcome_phone_agent_and_mode() {
    let sandbox = spawn().await;
    let token = sandbox.token().await;
    let complete = sandbox.read(&token, "dataset=100&outcome=200").await;
    assert_eq!(Sandbox::ids(&complete), ["550002"]);
    let both = sandbox.read(&token, "dataset=100&outcome=200%2C100").await;
    assert_eq!(both["total"], 5);
    let none = sandbox.read(&token, "dataset=100&outcome=300,400").await;
    assert_eq!(none["total"], 0);
    assert_eq!(none["list"], json!([]));

    let ddi = sandbox.read(&token, "dataset=100&ddi=07700900456").await;
    assert_eq!(Sandbox::ids(&ddi), ["550004"]);
    let work = sandbox
        .read(&token, "table=sandbox_campaign&ddi=01614960000")
        .await;
    assert_eq!(Sandbox::ids(&work), ["550002"]);
    let partial_phone = sandbox.read(&token, "dataset=100&ddi=0770090045").await;
    assert_eq!(partial_phone["total"], 0);

    let agent = sandbox.read(&token, "dataset=100&agent=1001").await;
    assert_eq!(Sandbox::ids(&agent), ["550002"]);
    let active = sandbox.read(&token, "dataset=100&mode=active").await;
    assert_eq!(active["total"], 4);
    let bad_mode = sandbox.read(&token, "dataset=100&mode=sleepy").await;
    assert_eq!(bad_mode["error"], "Bad argument: mode");
}

#[tokio::test]
async fn read_search_is_wildcard_by_default_and_exact_on_request() {
    let sandbox = spawn().await;
    let token = sandbox.token().await;
    let wildcard = sandbox
        .read(&token, "dataset=100&search[LastName]=BLO")
        .await;
    assert_eq!(Sandbox::ids(&wildcard), ["550000"]);
    let exact_partial = sandbox
        .read(&token, "dataset=100&search%5Blastname%5D=BLO&type=exact")
        .await;
    assert_eq!(exact_partial["total"], 0);
    let exact = sandbox
        .read(&token, "dataset=100&search[lastname]=Blogs&type=exact")
        .await;
    assert_eq!(Sandbox::ids(&exact), ["550000"]);
    let star = sandbox
        .read(&token, "dataset=100&search[postcode]=LS*A")
        .await;
    assert_eq!(Sandbox::ids(&star), ["550003"]);
    let percent = sandbox
        .read(
            &token,
            &format!("dataset=100&search[Postcode]={}", enc("ls%y")),
        )
        .await;
    assert_eq!(Sandbox::ids(&percent), ["550004"]);
    let custom = sandbox
        .read(&token, "dataset=100&search[COMPANY_NAME]=company")
        .await;
    assert_eq!(Sandbox::ids(&custom), ["550000"]);
    let both = sandbox
        .read(&token, "dataset=100&search[title]=mr&search[firstname]=tom")
        .await;
    assert_eq!(Sandbox::ids(&both), ["550004"]);
    let unknown = sandbox
        .read(&token, "dataset=100&search[shoe_size]=9")
        .await;
    assert_eq!(unknown["error"], "Bad argument: search[shoe_size]");
}

#[tokio::test]
async fn read_limit_cuts_the_list_but_not_the_total_and_sort_orders_it() {
    let sandbox = spawn().await;
    let token = sandbox.token().await;
    let limited = sandbox.read(&token, "dataset=100&limit=2").await;
    assert_eq!(limited["total"], 5);
    assert_eq!(Sandbox::ids(&limited), ["550000", "550001"]);
    let sorted = sandbox
        .read(&token, "dataset=100&sort=lastname&limit=3")
        .await;
    assert_eq!(sorted["total"], 5);
    assert_eq!(Sandbox::ids(&sorted), ["550000", "550003", "550002"]);
    let bad = sandbox.read(&token, "dataset=100&limit=ten").await;
    assert_eq!(bad["error"], "Bad argument: limit");
}

#[tokio::test]
async fn read_timetype_range_is_inclusive() {
    let sandbox = spawn().await;
    let token = sandbox.token().await;
    let created = sandbox
        .create_json(
            &token,
            json!([{"dataset": 200, "mobilephone": "07700900001", "callback": "2030-01-01 10:00:00"},
                   {"dataset": 200, "mobilephone": "07700900002", "callback": "2030-01-02 10:00:00"},
                   {"dataset": 200, "mobilephone": "07700900003"}]),
        )
        .await;
    assert_eq!(created["total"], 3);
    let range = |start: &str, stop: &str| {
        format!(
            "dataset=200&timetype=callback&tstart={}&tstop={}",
            enc(start),
            enc(stop)
        )
    };
    let inclusive = sandbox
        .read(&token, &range("2030-01-01 10:00:00", "2030-01-02 10:00:00"))
        .await;
    assert_eq!(Sandbox::ids(&inclusive), ["550005", "550006"]);
    let first_day = sandbox
        .read(&token, &range("2030-01-01 00:00:00", "2030-01-01 23:59:59"))
        .await;
    assert_eq!(Sandbox::ids(&first_day), ["550005"]);
    let open_start = sandbox
        .read(
            &token,
            &format!(
                "dataset=200&timetype=callback&tstop={}",
                enc("2030-01-01 10:00:00")
            ),
        )
        .await;
    assert_eq!(Sandbox::ids(&open_start), ["550005"]);
    let processed = sandbox
        .read(
            &token,
            &range("2000-01-01 00:00:00", "2100-01-01 00:00:00").replace("callback", "processdate"),
        )
        .await;
    assert_eq!(processed["total"], 0);
    for malformed in [
        "2030-01-32",
        "01/01/2030",
        "2030-01-01 25:00:00",
        "tomorrow",
    ] {
        let refused = sandbox
            .read(
                &token,
                &format!("dataset=200&timetype=callback&tstart={}", enc(malformed)),
            )
            .await;
        assert_eq!(refused["error"], "Bad argument: tstart", "{malformed}");
    }
}

#[tokio::test]
async fn a_date_only_range_covers_whole_days() {
    let sandbox = spawn().await;
    let token = sandbox.token().await;
    let created = sandbox
        .create_json(
            &token,
            json!([{"dataset": 200, "mobilephone": "07700900001", "callback": "2017-10-31 23:59:59"},
                   {"dataset": 200, "mobilephone": "07700900002", "callback": "2017-11-01 00:00:00"},
                   {"dataset": 200, "mobilephone": "07700900003", "callback": "2017-11-01 23:59:59"},
                   {"dataset": 200, "mobilephone": "07700900004", "callback": "2017-11-02 00:00:00"}]),
        )
        .await;
    assert_eq!(created["total"], 4);
    // The vendor's own example dates, by the query string.
    let one_day = sandbox
        .read(
            &token,
            "dataset=200&timetype=callback&tstart=2017-11-01&tstop=2017-11-01",
        )
        .await;
    assert_eq!(Sandbox::ids(&one_day), ["550006", "550007"]);
    let from_day = sandbox
        .read(&token, "dataset=200&timetype=callback&tstart=2017-11-01")
        .await;
    assert_eq!(Sandbox::ids(&from_day), ["550006", "550007", "550008"]);
    let until_day = sandbox
        .read(&token, "dataset=200&timetype=callback&tstop=2017-10-31")
        .await;
    assert_eq!(Sandbox::ids(&until_day), ["550005"]);
    let mixed = sandbox
        .read(
            &token,
            &format!(
                "dataset=200&timetype=callback&tstart={}&tstop=2017-11-01",
                enc("2017-11-01 12:00:00")
            ),
        )
        .await;
    assert_eq!(Sandbox::ids(&mixed), ["550007"]);
    let xml = sandbox
        .get(&format!(
            "ecnow.php?token={token}&format=xml&method=ecnow_records&action=read&dataset=200\
             &timetype=callback&tstart=2017-11-01&tstop=2017-11-01&raw=1"
        ))
        .await;
    assert!(xml.body.contains("<total>2</total>"), "{}", xml.body);
    // As the vendor's wrapper sends them: multipart POST fields.
    let wrapper = sandbox
        .post_fields(
            &wrapper_query(&token, "read", "json"),
            &[
                ("dataset", "200"),
                ("timetype", "callback"),
                ("tstart", "2017-11-01"),
                ("tstop", "2017-11-01"),
            ],
        )
        .await
        .json();
    assert_eq!(Sandbox::ids(&wrapper), ["550006", "550007"]);
}

#[tokio::test]
async fn modes_keep_records_by_process_type_alone() {
    let sandbox = spawn().await;
    let token = sandbox.token().await;
    let kinds = [
        "New Prospect",
        "HOLD: New Prospect",
        "NEEDSMOREWORK",
        "HOLD: NEEDSMOREWORK",
        "COMPLETE",
        "EXPIRED",
    ];
    // Every record has a callback date, so only ProcessType tells them apart.
    let rows: Vec<Value> = kinds
        .iter()
        .enumerate()
        .map(|(i, kind)| {
            json!({"dataset": 200, "mobilephone": format!("0770090000{i}"),
                   "ProcessType": kind, "callback": "2030-01-01 10:00:00"})
        })
        .collect();
    let created = sandbox.create_json(&token, Value::Array(rows)).await;
    assert_eq!(created["total"], 6, "{created}");
    // 550005 New Prospect, 550006 HOLD: New Prospect, 550007 NEEDSMOREWORK,
    // 550008 HOLD: NEEDSMOREWORK, 550009 COMPLETE, 550010 EXPIRED.
    let expected: [(&str, &[&str]); 5] = [
        ("active", &["550005", "550006", "550007", "550008"]),
        ("live", &["550005", "550007"]),
        ("callbacks", &["550007", "550008"]),
        ("live-callbacks", &["550007"]),
        (
            "unexpired",
            &["550005", "550006", "550007", "550008", "550009"],
        ),
    ];
    for (mode, ids) in expected {
        let by_query = sandbox
            .read(&token, &format!("dataset=200&mode={mode}"))
            .await;
        assert_eq!(Sandbox::ids(&by_query), ids, "{mode}");
        let by_fields = sandbox
            .post_fields(
                &wrapper_query(&token, "read", "json"),
                &[("dataset", "200"), ("mode", mode)],
            )
            .await
            .json();
        assert_eq!(Sandbox::ids(&by_fields), ids, "{mode} as POST fields");
        let xml = sandbox
            .get(&format!(
                "ecnow.php?token={token}&format=xml&method=ecnow_records&action=read&dataset=200&mode={mode}&raw=1"
            ))
            .await;
        assert!(
            xml.body.contains(&format!("<total>{}</total>", ids.len())),
            "{mode}: {}",
            xml.body
        );
    }
    // The seeded COMPLETE record has a callback date and is no callback.
    let seeded = sandbox.read(&token, "dataset=100&mode=callbacks").await;
    assert_eq!(seeded["total"], 0);
}

#[tokio::test]
async fn the_older_json_search_is_honoured_and_a_search_never_widens_silently() {
    let sandbox = spawn().await;
    let token = sandbox.token().await;
    let object = enc(r#"{"FirstName":"Joe"}"#);
    let json = sandbox
        .read(&token, &format!("dataset=100&search={object}"))
        .await;
    assert_eq!(Sandbox::ids(&json), ["550000"], "{json}");
    let xml = sandbox
        .get(&format!(
            "ecnow.php?token={token}&format=xml&method=ecnow_records&action=read&dataset=100&search={object}&raw=1"
        ))
        .await;
    assert!(
        xml.body
            .contains("<total>1</total><list><ecnow_record><id>550000</id>"),
        "{}",
        xml.body
    );
    let two_fields = sandbox
        .read(
            &token,
            &format!(
                "dataset=100&type=exact&search={}",
                enc(r#"{"title":"Mr","LastName":"O'Neill"}"#)
            ),
        )
        .await;
    assert_eq!(Sandbox::ids(&two_fields), ["550004"]);
    let as_field = sandbox
        .post_fields(
            &wrapper_query(&token, "read", "json"),
            &[("dataset", "100"), ("search", r#"{"postcode":"LS"}"#)],
        )
        .await
        .json();
    assert_eq!(Sandbox::ids(&as_field), ["550003", "550004"]);

    for (search, error) in [
        ("search=Joe", "Bad argument: search"),
        ("search=%5B%22Joe%22%5D", "Bad argument: search"),
        (
            "search=%7B%22FirstName%22%3A%5B%22Joe%22%5D%7D",
            "Bad argument: search",
        ),
        (
            "search=%7B%22shoe_size%22%3A%229%22%7D",
            "Bad argument: search[shoe_size]",
        ),
        ("search[]=Joe", "Bad argument: search[]"),
    ] {
        let refused = sandbox.read(&token, &format!("dataset=100&{search}")).await;
        assert_eq!(
            refused,
            json!({"success": false, "error": error}),
            "{search}"
        );
    }
}
