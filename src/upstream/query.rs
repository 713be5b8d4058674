//! The `ecnow.php` query string: every argument appended through form encoding, so no value can
//! add, remove or change an argument.

use std::borrow::Cow;

use url::Url;

use super::wire::{self, WireFormat};
use crate::domain::{ReadFilter, RecordId, SearchField, Source, filter::TimeField};
use crate::error::Error;

/// The longest `ecnow.php` URL a read may send, in bytes: the base URL and every argument,
/// percent-encoded, the token's value aside. Web servers commonly refuse longer request lines
/// (HTTP 414), so a read over it is refused with 400 before anything is sent.
pub const MAX_READ_URL_BYTES: usize = 8 * 1024;

/// Refuses (400) read arguments whose URL would be longer than [`MAX_READ_URL_BYTES`].
pub fn check_url_budget(
    base: &Url,
    format: WireFormat,
    args: &[(Cow<'_, str>, String)],
) -> Result<(), Error> {
    let length = url_length(base, &Call::new("", RECORDS_METHOD, "read", format), args);
    if length > MAX_READ_URL_BYTES {
        return Err(Error::bad_field(
            "query",
            format!(
                "too long: the read would send ContactNow a URL of {length} bytes, over the \
                 {MAX_READ_URL_BYTES}-byte budget; use fewer or shorter search values"
            ),
        ));
    }
    Ok(())
}

/// The `method` of record exchanges.
pub const RECORDS_METHOD: &str = "ecnow_records";

/// The `method` of dataset exchanges.
pub const DATASETS_METHOD: &str = "ecnow_datasets";

/// The `method` of campaign table reads.
pub const CAMPAIGN_TABLES_METHOD: &str = "campaign_tables";

/// The `method` of campaign field reads.
pub const CAMPAIGN_FIELDS_METHOD: &str = "campaign_fields";

/// The `method` of outcome code reads, on `database.php`.
pub const OUTCOME_CODES_METHOD: &str = "outcomecodes";

/// The URL of one `ecnow.php` (or, with its URL as `base`, `database.php`) call of `method`: the common arguments, then `args` in order.
pub fn ecnow_url(
    base: &Url,
    token: &str,
    method: &str,
    action: &str,
    format: WireFormat,
    args: &[(Cow<'_, str>, String)],
) -> Url {
    let mut common = base.clone();
    common
        .query_pairs_mut()
        .extend_pairs(Call::new(token, method, action, format).pairs(&[]));
    with_arguments(common, args)
}

/// `url` (an [`ecnow_url`] without arguments) with `args` appended: the same URL as
/// [`ecnow_url`] with them.
pub fn with_arguments(mut url: Url, args: &[(Cow<'_, str>, String)]) -> Url {
    url.query_pairs_mut().extend_pairs(
        args.iter()
            .map(|(name, value)| (name.as_ref(), value.as_str())),
    );
    url
}

/// The arguments every call carries.
struct Call<'a>([(&'static str, &'a str); 5]);

impl<'a> Call<'a> {
    fn new(token: &'a str, method: &'a str, action: &'a str, format: WireFormat) -> Self {
        Self([
            ("token", token),
            ("method", method),
            ("action", action),
            ("format", format.as_str()),
            ("raw", "1"),
        ])
    }

    /// Every argument of the call, in order: the common ones, then `args`.
    fn pairs<'b>(
        &'b self,
        args: &'b [(Cow<'_, str>, String)],
    ) -> impl Iterator<Item = (&'b str, &'b str)> {
        self.0.iter().map(|&(name, value)| (name, value)).chain(
            args.iter()
                .map(|(name, value)| (name.as_ref(), value.as_str())),
        )
    }
}

/// The length of the URL [`ecnow_url`] would build, counted rather than built: form encoding
/// keeps ASCII letters, digits and `*-._`, writes a space as `+`, and any other byte as `%XX`.
fn url_length(base: &Url, call: &Call, args: &[(Cow<'_, str>, String)]) -> usize {
    let encoded = |text: &str| -> usize {
        text.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || matches!(b, b'*' | b'-' | b'.' | b'_' | b' ') {
                    1
                } else {
                    3
                }
            })
            .sum()
    };
    // `?` before the first argument and `&` before each other one: one per argument.
    let query: usize = call
        .pairs(args)
        .map(|(name, value)| 1 + encoded(name) + 1 + encoded(value))
        .sum();
    base.as_str().len() + query
}

/// The arguments of a `read`: the source, then each filter in the upstream's terms.
pub fn read_arguments(
    source: &Source,
    id: Option<RecordId>,
    filter: &ReadFilter,
) -> Vec<(Cow<'static, str>, String)> {
    let mut args: Vec<(Cow<'static, str>, String)> = Vec::new();
    match source {
        Source::Dataset(dataset) => args.push(("dataset".into(), dataset.to_string())),
        Source::Table(table) => args.push(("table".into(), table.to_string())),
    }
    if let Some(id) = id {
        args.push(("id".into(), id.to_string()));
    }
    if !filter.outcomes.is_empty() {
        let codes: Vec<String> = filter.outcomes.iter().map(u32::to_string).collect();
        args.push(("outcome".into(), codes.join(",")));
    }
    if let Some(mode) = filter.mode {
        args.push(("mode".into(), mode.name().into()));
    }
    if let Some(agent) = &filter.agent {
        args.push(("agent".into(), agent.clone()));
    }
    if let Some(phone) = &filter.phone {
        args.push(("ddi".into(), phone.as_str().into()));
    }
    if let Some(time) = &filter.time {
        let field = match time.field {
            TimeField::Callback => "callback",
            TimeField::ProcessDate => "processdate",
        };
        args.push(("timetype".into(), field.into()));
        if let Some(from) = &time.from {
            args.push(("tstart".into(), wire::wire_datetime(from)));
        }
        if let Some(to) = &time.to {
            args.push(("tstop".into(), wire::wire_datetime(to)));
        }
    }
    for (field, value) in &filter.search {
        let name = match field {
            SearchField::Column(column) => column.read_name(),
            SearchField::Custom(name) => name.as_str(),
        };
        args.push((format!("search[{name}]").into(), value.clone()));
    }
    if filter.exact && !filter.search.is_empty() {
        args.push(("type".into(), "exact".into()));
    }
    args.push(("limit".into(), filter.limit.to_string()));
    args
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{DatasetId, NewRecord};
    use crate::upstream::wire;
    use proptest::prelude::*;

    fn keys(url: &Url) -> Vec<String> {
        url.query_pairs().map(|(k, _)| k.into_owned()).collect()
    }

    fn base() -> Url {
        Url::parse("https://api-106.dxi.eu/ecnow.php").unwrap()
    }

    proptest! {
        /// The URL budget counts the URL that would be sent, byte for byte.
        #[test]
        fn the_budget_counts_the_url_sent(value in "\\PC{0,30}", name in "[a-z\\[\\]_ ]{1,12}") {
            let args = [(Cow::Owned(name), value), (Cow::Borrowed("id"), "550000".to_owned())];
            let url = ecnow_url(&base(), "", RECORDS_METHOD, "read", WireFormat::Xml, &args);
            let call = Call::new("", RECORDS_METHOD, "read", WireFormat::Xml);
            prop_assert_eq!(url_length(&base(), &call, &args), url.as_str().len());
        }

        /// A call's own arguments appended to its token's prefix give the URL built at once,
        /// byte for byte (what records calls send).
        #[test]
        fn arguments_appended_to_the_prefix_give_the_whole_url(token in "[0-9a-f]{0,40}", value in "\\PC{0,30}", name in "[a-z\\[\\]_ ]{1,12}") {
            let args = [(Cow::Owned(name), value), (Cow::Borrowed("id"), "550000".to_owned())];
            for count in 0..=args.len() {
                let common = [("token", token.as_str()), ("method", RECORDS_METHOD), ("action", "update"), ("format", "json"), ("raw", "1")];
                let own = args[..count].iter().map(|(name, value)| (name.as_ref(), value.as_str()));
                let whole = Url::parse_with_params(base().as_str(), common.into_iter().chain(own)).unwrap();
                let prefix = ecnow_url(&base(), &token, RECORDS_METHOD, "update", WireFormat::Json, &[]);
                let appended = with_arguments(prefix, &args[..count]);
                prop_assert_eq!(appended.as_str(), whole.as_str());
            }
        }

        /// Whatever a caller searches for, the argument names sent are the expected ones and
        /// every value arrives unchanged.
        #[test]
        fn search_values_never_change_the_arguments(last in "\\PC{1,60}", custom in "\\PC{1,60}", agent in "[A-Za-z0-9_.-]{1,20}") {
            let query = format!(
                "agent={}&search[last_name]={}&search[company_name]={}&match=exact",
                urlencode(&agent), urlencode(&last), urlencode(&custom)
            );
            let filter = ReadFilter::parse_query(&query).unwrap();
            let source = Source::Dataset(DatasetId::try_from(100).unwrap());
            let url = ecnow_url(&base(), "t0k3n", RECORDS_METHOD, "read", WireFormat::Json, &read_arguments(&source, None, &filter));
            prop_assert_eq!(keys(&url), [
                "token", "method", "action", "format", "raw", "dataset", "agent",
                "search[LastName]", "search[company_name]", "type", "limit",
            ]);
            let pairs: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
            prop_assert_eq!(&pairs[0].1, "t0k3n");
            prop_assert_eq!(&pairs[2].1, "read");
            prop_assert_eq!(&pairs[6].1, &agent);
            prop_assert_eq!(&pairs[7].1, &last);
            prop_assert_eq!(&pairs[8].1, &custom);
        }

        /// Record values travel in the body only, and come back out of it unchanged, in JSON and
        /// in XML.
        #[test]
        fn record_values_survive_the_payload(name in "\\PC{0,80}", notes in "[\\PC\n\t]{0,200}", company in "\\PC{0,40}") {
            let body = serde_json::json!({"first_name": name, "notes": notes, "mobile_phone": "07123456789",
                                          "custom": {"company_name": company}});
            let Ok(request) = NewRecord::parse_body(&body) else { return Ok(()) };
            let records = request.records();
            let dataset = DatasetId::try_from(100).unwrap();
            let json: serde_json::Value = serde_json::from_slice(&wire::create_payload(dataset, records, WireFormat::Json)).unwrap();
            let row = json[0].as_object().unwrap();
            for (key, value) in [("firstname", &name), ("notes", &notes), ("company_name", &company)] {
                if !value.is_empty() {
                    prop_assert_eq!(row[key].as_str(), Some(value.as_str()));
                }
            }
            prop_assert_eq!(row["dataset"].as_str(), Some("100"));
            let xml = wire::create_payload(dataset, records, WireFormat::Xml);
            let mut reader = quick_xml::Reader::from_reader(xml.as_slice());
            let mut text = String::new();
            let mut elements = 0;
            loop {
                match reader.read_event().unwrap() {
                    quick_xml::events::Event::Start(_) => elements += 1,
                    quick_xml::events::Event::Text(t) => text.push_str(&t.decode().unwrap()),
                    quick_xml::events::Event::GeneralRef(r) => {
                        let name = r.decode().unwrap();
                        text.push(match name.as_ref() { "amp" => '&', "lt" => '<', "gt" => '>', "quot" => '"', "apos" => '\'', _ => panic!("{name}") });
                    }
                    quick_xml::events::Event::Eof => break,
                    _ => {}
                }
            }
            prop_assert_eq!(elements, 2 + row.len(), "easycall, ecnow_records and one element per field");
            for value in [&name, &notes, &company] {
                prop_assert!(text.contains(value.as_str()));
            }
        }
    }

    #[test]
    fn the_url_budget_fits_the_longest_plain_searches_and_refuses_wider_ones() {
        use crate::domain::filter::{MAX_SEARCH_CHARS, MAX_SEARCHES};
        let source = Source::Dataset(DatasetId::try_from(100).unwrap());
        let query = |value: &str| {
            (1..=MAX_SEARCHES)
                .map(|n| format!("search[c{n}]={value}"))
                .collect::<Vec<_>>()
                .join("&")
        };
        let plain = ReadFilter::parse_query(&query(&"x".repeat(MAX_SEARCH_CHARS))).unwrap();
        let args = read_arguments(&source, None, &plain);
        assert!(check_url_budget(&base(), WireFormat::Json, &args).is_ok());
        let wide = ReadFilter::parse_query(&query(&"%C3%A9".repeat(MAX_SEARCH_CHARS))).unwrap();
        let args = read_arguments(&source, None, &wide);
        assert!(check_url_budget(&base(), WireFormat::Json, &args).is_err());
    }

    fn urlencode(value: &str) -> String {
        url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
    }
}
