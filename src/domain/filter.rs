//! The query of a table read (`GET …/records`).

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use super::value::{NOT_WIRE_TEXT, is_wire_text};
use super::{Column, CustomFieldName, Phone};
use crate::error::Error;

/// The default and the largest `limit`.
pub const DEFAULT_LIMIT: u32 = 100;
/// The largest `limit`.
pub const MAX_LIMIT: u32 = 1000;
/// The longest `agent`.
pub const MAX_AGENT_CHARS: usize = 64;
/// What `agent` takes, as a pattern.
pub const AGENT_PATTERN: &str = "^[A-Za-z0-9_.\\-]{1,64}$";
/// What `outcome` takes, as a pattern: a comma list of codes.
pub const OUTCOMES_PATTERN: &str = "^[0-9]{1,9}(,[0-9]{1,9})*$";
/// What `from` and `to` take, as a pattern: an ISO 8601 date, or a datetime to the minute or
/// second, without offset.
pub const TIME_PATTERN: &str = "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])(T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?)?$";
/// The most `search[…]` parameters one read may carry.
pub const MAX_SEARCHES: usize = 20;
/// The longest `search[…]` value, in characters.
pub const MAX_SEARCH_CHARS: usize = 255;

/// Which records a read keeps by their process state (`mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadMode {
    /// `active`
    Active,
    /// `live`
    Live,
    /// `callbacks`
    Callbacks,
    /// `live-callbacks`
    LiveCallbacks,
    /// `unexpired`
    Unexpired,
}

impl ReadMode {
    /// Every mode.
    pub const ALL: [ReadMode; 5] = [
        ReadMode::Active,
        ReadMode::Live,
        ReadMode::Callbacks,
        ReadMode::LiveCallbacks,
        ReadMode::Unexpired,
    ];

    /// The mode's name, as callers and the upstream both spell it.
    pub fn name(self) -> &'static str {
        match self {
            ReadMode::Active => "active",
            ReadMode::Live => "live",
            ReadMode::Callbacks => "callbacks",
            ReadMode::LiveCallbacks => "live-callbacks",
            ReadMode::Unexpired => "unexpired",
        }
    }
}

/// The datetime column a `from`/`to` range applies to (`time_field`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeField {
    /// `callback`: the callback time.
    Callback,
    /// `process_date`: the last processing time.
    ProcessDate,
}

/// A column to search in: a standard one by its gateway name, or a custom one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SearchField {
    /// A standard column.
    Column(Column),
    /// A custom column, by its own name.
    Custom(CustomFieldName),
}

/// A time range on one datetime column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeRange {
    /// The column.
    pub field: TimeField,
    /// Inclusive start.
    pub from: Option<NaiveDateTime>,
    /// Inclusive end.
    pub to: Option<NaiveDateTime>,
}

/// The parsed query of a table read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadFilter {
    /// Outcome codes to keep (any of them); empty keeps all.
    pub outcomes: Vec<u32>,
    /// Process state to keep.
    pub mode: Option<ReadMode>,
    /// Agent reference to keep.
    pub agent: Option<String>,
    /// A phone matching any of the three phones.
    pub phone: Option<Phone>,
    /// A datetime range.
    pub time: Option<TimeRange>,
    /// Column searches, all of which must match.
    pub search: Vec<(SearchField, String)>,
    /// Exact (`true`) or wildcard matching for `search`.
    pub exact: bool,
    /// The most records to return.
    pub limit: u32,
}

impl Default for ReadFilter {
    fn default() -> Self {
        Self {
            outcomes: Vec::new(),
            mode: None,
            agent: None,
            phone: None,
            time: None,
            search: Vec::new(),
            exact: false,
            limit: DEFAULT_LIMIT,
        }
    }
}

impl ReadFilter {
    /// Parses a raw query string. Unknown or repeated parameters are refused, so a typo never
    /// silently widens a read.
    pub fn parse_query(query: &str) -> Result<Self, Error> {
        let mut filter = ReadFilter::default();
        let mut seen: Vec<String> = Vec::new();
        let (mut time_field, mut from, mut to) = (None, None, None);
        for (key, value) in query_pairs(query)? {
            if seen.contains(&key) {
                return Err(Error::bad_field(key, "given more than once"));
            }
            seen.push(key.clone());
            match key.as_str() {
                "outcome" => {
                    filter.outcomes = value
                        .split(',')
                        .map(|code| code.trim().parse::<u32>())
                        .collect::<Result<_, _>>()
                        .map_err(|_| {
                            Error::bad_field("outcome", "a comma list of outcome codes")
                        })?;
                }
                "mode" => {
                    filter.mode = Some(
                        ReadMode::ALL
                            .into_iter()
                            .find(|mode| mode.name() == value)
                            .ok_or_else(|| {
                                Error::bad_field(
                                    "mode",
                                    "one of active, live, callbacks, live-callbacks, unexpired",
                                )
                            })?,
                    );
                }
                "agent" => {
                    let valid = (1..=MAX_AGENT_CHARS).contains(&value.len())
                        && value
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
                    if !valid {
                        return Err(Error::bad_field(
                            "agent",
                            format!("1 to {MAX_AGENT_CHARS} of A-Z, a-z, 0-9, _, -, ."),
                        ));
                    }
                    filter.agent = Some(value);
                }
                "phone" => {
                    filter.phone =
                        Some(Phone::parse(&value).map_err(|m| Error::bad_field("phone", m))?);
                }
                "time_field" => {
                    time_field = Some(match value.as_str() {
                        "callback" => TimeField::Callback,
                        "process_date" => TimeField::ProcessDate,
                        _ => {
                            return Err(Error::bad_field("time_field", "callback or process_date"));
                        }
                    });
                }
                "from" => from = Some(parse_time(&value, false).ok_or_else(|| bad_time("from"))?),
                "to" => to = Some(parse_time(&value, true).ok_or_else(|| bad_time("to"))?),
                "match" => {
                    filter.exact = match value.as_str() {
                        "exact" => true,
                        "wildcard" => false,
                        _ => return Err(Error::bad_field("match", "exact or wildcard")),
                    };
                }
                "limit" => {
                    filter.limit = value
                        .parse::<u32>()
                        .ok()
                        .filter(|limit| (1..=MAX_LIMIT).contains(limit))
                        .ok_or_else(limit_refused)?;
                }
                other => {
                    let field = search_field(other)
                        .ok_or_else(|| Error::bad_field(other, "unknown query parameter"))??;
                    if filter.search.len() == MAX_SEARCHES {
                        return Err(Error::bad_field(
                            other,
                            format!("a read takes at most {MAX_SEARCHES} search[…] parameters"),
                        ));
                    }
                    if value.is_empty() || value.chars().count() > MAX_SEARCH_CHARS {
                        return Err(Error::bad_field(
                            other,
                            format!("a search value of 1 to {MAX_SEARCH_CHARS} characters"),
                        ));
                    }
                    if !is_wire_text(&value) {
                        return Err(Error::bad_field(other, NOT_WIRE_TEXT));
                    }
                    filter.search.push((field, value));
                }
            }
        }
        // `time_field` alone filters nothing; `from`/`to` alone apply to `process_date`. A range
        // whose start is after its end matches nothing, as upstream.
        filter.time = match (from, to) {
            (None, None) => None,
            (from, to) => Some(TimeRange {
                field: time_field.unwrap_or(TimeField::ProcessDate),
                from,
                to,
            }),
        };
        Ok(filter)
    }
}

/// The answer to a `limit` out of its bounds.
pub fn limit_refused() -> Error {
    Error::bad_field("limit", format!("an integer from 1 to {MAX_LIMIT}"))
}

/// The `name=value` pairs of a query string, decoded as `application/x-www-form-urlencoded`
/// (`+` is a space) but strictly: a name or value that is not UTF-8 once percent-decoded is
/// refused, never replaced with U+FFFD (a lossy decoder would send the upstream another value
/// than the caller's).
fn query_pairs(query: &str) -> Result<Vec<(String, String)>, Error> {
    let decode = |text: &str| {
        percent_encoding::percent_decode_str(&text.replace('+', " "))
            .decode_utf8()
            .map(std::borrow::Cow::into_owned)
    };
    let not_utf8 = "not valid UTF-8 once percent-decoded";
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = decode(name).map_err(|_| Error::bad_field("query", not_utf8))?;
            let value = decode(value).map_err(|_| Error::bad_field(name.as_str(), not_utf8))?;
            Ok((name, value))
        })
        .collect()
}

/// `Some(Ok(field))` for a valid `search[<field>]` key, `Some(Err)` for a malformed field
/// inside one, `None` for a key that is not a search.
fn search_field(key: &str) -> Option<Result<SearchField, Error>> {
    let name = key.strip_prefix("search[")?.strip_suffix(']')?;
    Some(match Column::from_name(name) {
        Some(column) => Ok(SearchField::Column(column)),
        None => CustomFieldName::parse(name)
            .map(SearchField::Custom)
            .map_err(|message| Error::bad_field(key, message)),
    })
}

fn bad_time(field: &str) -> Error {
    Error::bad_field(
        field,
        "an ISO 8601 date or datetime without offset, e.g. 2019-01-07T10:15:00",
    )
}

/// An ISO 8601 date or datetime without offset; a bare date means the start of the day, or with
/// `end_of_day` its last second.
fn parse_time(value: &str, end_of_day: bool) -> Option<NaiveDateTime> {
    if let Ok(datetime) = NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S") {
        return Some(datetime);
    }
    if let Ok(datetime) = NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M") {
        return Some(datetime);
    }
    let date = NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()?;
    let time = if end_of_day {
        NaiveTime::from_hms_opt(23, 59, 59)?
    } else {
        NaiveTime::MIN
    };
    Some(date.and_time(time))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_filter_parses() {
        let filter = ReadFilter::parse_query(
            "outcome=100,200&mode=live-callbacks&agent=7&phone=07123456789&time_field=callback\
             &from=2019-01-01&to=2019-01-31T12:00:00&search%5Blast_name%5D=Blo&search[company_name]=A\
             &match=exact&limit=5",
        )
        .unwrap();
        assert_eq!(filter.outcomes, [100, 200]);
        assert_eq!(filter.mode, Some(ReadMode::LiveCallbacks));
        assert_eq!(filter.limit, 5);
        assert!(filter.exact);
        assert_eq!(filter.search.len(), 2);
        assert_eq!(filter.search[0].0, SearchField::Column(Column::LastName));
        let time = filter.time.unwrap();
        assert_eq!(time.to.unwrap().to_string(), "2019-01-31 12:00:00");
    }

    #[test]
    fn searches_are_capped_in_count_and_length() {
        let searches = |count: usize, value: &str| {
            (1..=count)
                .map(|n| format!("search[c{n}]={value}"))
                .collect::<Vec<_>>()
                .join("&")
        };
        let longest = "x".repeat(MAX_SEARCH_CHARS);
        let filter = ReadFilter::parse_query(&searches(MAX_SEARCHES, &longest)).unwrap();
        assert_eq!(filter.search.len(), MAX_SEARCHES);
        assert!(ReadFilter::parse_query(&searches(MAX_SEARCHES + 1, "a")).is_err());
        assert!(ReadFilter::parse_query(&searches(1, &format!("{longest}x"))).is_err());
    }

    #[test]
    fn typos_and_bad_values_are_refused() {
        for bad in [
            "limt=5",
            "limit=0",
            "limit=1001",
            "limit=x",
            "outcome=1,a",
            "mode=all",
            "search[loaddate]=x",
            "search[a-b]=x",
            "from=2019-13-01",
            "time_field=sometimes",
            "limit=5&limit=6",
            "search[x]=",
            "dataset=200",
            "phone=abc",
            "search[last_name]=%FF%FE",
            "search%5B%FF%5D=x",
            "agent=%C3",
            "search[last_name]=%EF%BF%BF",
            "search[last_name]=a%1Bb",
        ] {
            assert!(ReadFilter::parse_query(bad).is_err(), "{bad}");
        }
    }
}
