//! Arguments and payloads as the vendor's PHP wrapper sends them.

use super::*;

#[test]
fn query_arguments_decode_like_php() {
    let args = Args::parse("a=1&b=x%2By+z&a=2&search%5BLastName%5D=O%27Neill&bad=%zz&flag");
    assert_eq!(args.get("a"), Some("2"));
    assert_eq!(args.get("b"), Some("x+y z"));
    assert_eq!(args.get("bad"), Some("%zz"));
    assert_eq!(args.get("flag"), Some(""));
    assert_eq!(args.non_empty("flag"), None);
    assert_eq!(
        args.searches().collect::<Vec<_>>(),
        [("LastName", "O'Neill")]
    );
}

#[test]
fn payload_parsers_keep_field_order_and_cast_scalars() {
    let rows = parse_json_rows(br#"[{"b":1,"a":"x","c":null,"d":true,"e":1.5}]"#).expect("rows");
    assert_eq!(
        rows[0].0,
        [("b", "1"), ("a", "x"), ("c", ""), ("d", "1"), ("e", "1.5")]
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
    );
    assert_eq!(parse_json_rows(b" {}"), Err(PayloadError::NotAnArray));
    assert_eq!(parse_json_rows(b"[1]"), Err(PayloadError::Malformed));
    let xml = parse_xml_rows(
        b"<easycall><ecnow_records><a>1</a></ecnow_records><ecnow_records><b/></ecnow_records></easycall>",
        "ecnow_records",
    )
    .expect("rows");
    assert_eq!(xml.len(), 2);
    assert_eq!(xml[0].get("A"), Some("1"));
    assert_eq!(xml[1].get("b"), Some(""));
    for bad in [
        &b"<easycall><ecnow_records><a>1</a></ecnow_records>"[..],
        b"<other><ecnow_records/></other>",
        b"<easycall><ecnow_records><a><b>1</b></a></ecnow_records></easycall>",
        b"<easycall>text</easycall>",
        b"<easycall/><easycall/>",
    ] {
        assert_eq!(
            parse_xml_rows(bad, "ecnow_records"),
            Err(PayloadError::Malformed)
        );
    }
}

#[tokio::test]
async fn reads_take_their_filters_from_multipart_post_fields() {
    let sandbox = spawn().await;
    let token = sandbox.token().await;
    let query = wrapper_query(&token, "read", "json");
    let cases: [(&[Field], &[&str]); 6] = [
        (&[("dataset", "100"), ("limit", "2")], &["550000", "550001"]),
        (
            &[("dataset", "100"), ("search[LastName]", "Blogs")],
            &["550000"],
        ),
        (&[("dataset", "100"), ("ddi", "07700900456")], &["550004"]),
        (&[("dataset", "100"), ("outcome", "200")], &["550002"]),
        (&[("dataset", "100"), ("id", "550003")], &["550003"]),
        (
            &[("table", "sandbox_campaign"), ("search[firstname]", "Chlo")],
            &["550003"],
        ),
    ];
    for (fields, ids) in cases {
        let answer = sandbox.post_fields(&query, fields).await.json();
        assert_eq!(answer["success"], true, "{fields:?}: {answer}");
        assert_eq!(Sandbox::ids(&answer), ids, "{fields:?}");
    }
    let limited = sandbox
        .post_fields(&query, &[("dataset", "100"), ("limit", "2")])
        .await
        .json();
    assert_eq!(limited["total"], 5);

    let xml = sandbox
        .post_fields(
            &wrapper_query(&token, "read", "xml"),
            &[("dataset", "100"), ("ddi", "07700900456")],
        )
        .await;
    assert!(
        xml.body
            .contains("<total>1</total><list><ecnow_record><id>550004</id>"),
        "{}",
        xml.body
    );
    // The article's own call: every argument in the query string.
    let article = sandbox
        .get(&format!(
            "ecnow.php?token={token}&format=xml&method=ecnow_records&action=read&dataset=100&raw=1"
        ))
        .await;
    assert!(
        article.body.contains("<total>5</total>"),
        "{}",
        article.body
    );
}

#[tokio::test]
async fn the_token_and_every_argument_may_come_as_post_fields() {
    let sandbox = spawn().await;
    let token = sandbox.token().await;
    let fields = [
        ("token", token.as_str()),
        ("method", "ecnow_records"),
        ("action", "read"),
        ("format", "json"),
        ("dataset", "100"),
        ("search[FirstName]", "Jane"),
    ];
    let multipart = sandbox.post_fields("ecnow.php", &fields).await.json();
    assert_eq!(Sandbox::ids(&multipart), ["550001"], "{multipart}");

    let form = format!(
        "token={token}&method=ecnow_records&action=read&format=xml&dataset=100&search%5BFirstName%5D=Jane"
    );
    let urlencoded = sandbox.post_as("ecnow.php", URLENCODED, &form).await;
    assert!(
        urlencoded
            .body
            .contains("<total>1</total><list><ecnow_record><id>550001</id>"),
        "{}",
        urlencoded.body
    );
    // A POST field wins over a query argument of the same name, as in PHP's `$_REQUEST`.
    let overridden = sandbox
        .post_fields(
            &wrapper_query(&token, "read", "json"),
            &[("dataset", "100"), ("format", "xml")],
        )
        .await;
    assert_eq!(overridden.content_type, "text/xml; charset=utf-8");

    let unknown = sandbox
        .post_fields(
            "ecnow.php?method=ecnow_records&action=read&format=json",
            &[
                ("token", "0123456789abcdef0123456789abcdef01234567"),
                ("dataset", "100"),
            ],
        )
        .await
        .json();
    assert_eq!(unknown, json!({"success": false, "error": "Invalid token"}));
    let broken = sandbox
        .post_as(
            &wrapper_query(&token, "read", "json"),
            &format!("multipart/form-data; boundary={CURL_BOUNDARY}"),
            "--nothing like the boundary",
        )
        .await
        .json();
    assert_eq!(
        broken,
        json!({"success": false, "error": "Bad argument: multipart body"})
    );
}

#[tokio::test]
async fn the_wrappers_writes_labelled_urlencoded_read_back_through_its_multipart_reads() {
    let sandbox = spawn().await;
    let token = sandbox.token().await;
    let created = sandbox
        .post_as(
            &wrapper_query(&token, "create", "json"),
            URLENCODED,
            r#"[{"title":"Mr","firstname":"Joe","lastname":"Blogs","mobilephone":"07123456789","dataset":"100","company_name":"Company Name"}]"#,
        )
        .await
        .json();
    assert_eq!(
        created,
        json!({"success": true, "account_id": "10278", "total": 1, "bad": 0,
               "key": 550005, "info": "Record is LIVE on the dialer."})
    );
    let updated = sandbox
        .post_as(
            &wrapper_query(&token, "update", "json"),
            URLENCODED,
            r#"[{"id":"550005","title":"Mr","firstName":"Joseph","lastName":"Blogs","mobilephone":"07123456789","dataset":"100","company_name":"Company Name"}]"#,
        )
        .await
        .json();
    assert_eq!(updated["total"], 1, "{updated}");
    let xml = sandbox
        .post_as(
            &wrapper_query(&token, "create", "xml"),
            URLENCODED,
            "<?xml version='1.0' encoding='utf-8' ?>\n<easycall><ecnow_records><FirstName>Ann</FirstName>\
             <dataset>200</dataset><MobilePhone>07700900999</MobilePhone></ecnow_records></easycall>",
        )
        .await;
    assert!(
        xml.body
            .contains("<total>1</total><bad>0</bad><key>550006</key>"),
        "{}",
        xml.body
    );

    let read = sandbox
        .post_fields(
            &wrapper_query(&token, "read", "json"),
            &[("dataset", "100"), ("id", "550005")],
        )
        .await
        .json();
    assert_eq!(read["total"], 1, "{read}");
    let row = &read["list"][0];
    assert_eq!(row["FirstName"], "Joseph");
    assert_eq!(row["company_name"], "Company Name");
    assert_eq!(sandbox.emulator.records_in_dataset(200), 1);
    // Urlencoded fields are not a payload.
    let fields = sandbox
        .post_as(
            &wrapper_query(&token, "create", "json"),
            URLENCODED,
            "dataset=100&mobilephone=07123456789",
        )
        .await
        .json();
    assert_eq!(
        fields,
        json!({"success": false, "error": "Bad argument: payload"})
    );
    assert_eq!(sandbox.emulator.records_in_dataset(100), 6);
}
