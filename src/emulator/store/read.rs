//! The `read` action: its arguments checked into a [`ReadQuery`], and the records it finds.

use std::borrow::Cow;
use std::cmp::Ordering;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use super::model::{
    DATE_FORMAT, DATETIME_FORMAT, EXPIRED, Field, HOLD_NEEDS_MORE_WORK, HOLD_NEW_PROSPECT,
    NEEDS_MORE_WORK, NEW_PROSPECT, Record, RecordView, Store, parse_datetime,
};
use crate::emulator::wire::{Args, Cell, Row};

/// The last second of a day: what a date-only `tstop` stands for (`tstart` takes the first).
const END_OF_DAY: NaiveTime = match NaiveTime::from_hms_opt(23, 59, 59) {
    Some(time) => time,
    None => NaiveTime::MIN,
};

/// The records found by a read: how many matched, and the ones kept after `limit`.
#[derive(Debug)]
pub(in crate::emulator) struct Found<'s> {
    /// Every match.
    pub(in crate::emulator) total: usize,
    /// The matches kept, in id order or by `sort`.
    pub(in crate::emulator) rows: Vec<RecordView<'s>>,
}

impl Store {
    /// Runs a read.
    pub(in crate::emulator) fn read(&self, query: &ReadQuery<'_>) -> Result<Found<'_>, String> {
        let table = match (query.dataset, query.table) {
            (Some(d), _) => self.dataset(d).map(|d| d.table),
            (None, Some(t)) => self.tables.iter().position(|x| x.name == t),
            (None, None) => return Err("Bad argument: dataset or table required".to_owned()),
        };
        let Some(table_index) = table else {
            return Ok(Found {
                total: 0,
                rows: Vec::new(),
            });
        };
        let table = &self.tables[table_index];
        let searches = query
            .searches
            .iter()
            .map(|(field, value)| {
                table
                    .resolve(field)
                    .map(|c| (c, value.as_ref()))
                    .ok_or_else(|| format!("Bad argument: search[{field}]"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let sort = query
            .sort
            .map(|s| {
                table
                    .resolve(s)
                    .ok_or_else(|| "Bad argument: sort".to_owned())
            })
            .transpose()?;
        let in_scope = |r: &Record| {
            query.dataset.is_none_or(|d| r.dataset == d)
                && (query.dataset.is_some() || self.table_of(r.dataset) == table_index)
                && query
                    .table
                    .is_none_or(|t| self.tables[self.table_of(r.dataset)].name == t)
        };
        let matches = |r: &&Record| {
            in_scope(r)
                && query.matches(r)
                && searches
                    .iter()
                    .all(|(column, pattern)| search_matches(r.cell(*column), pattern, query.exact))
        };
        let mut rows: Vec<&Record> = match query.id {
            Some(id) => self.records.get(&id).into_iter().filter(matches).collect(),
            None => self.records.values().filter(matches).collect(),
        };
        let total = rows.len();
        if let Some(column) = sort {
            rows.sort_by(|a, b| compare_cells(a.cell(column), b.cell(column)));
        }
        if let Some(limit) = query.limit {
            rows.truncate(limit);
        }
        Ok(Found {
            total,
            rows: rows.into_iter().map(|r| self.view(r)).collect(),
        })
    }
}

fn search_matches(cell: Cell<'_>, pattern: &str, exact: bool) -> bool {
    let number;
    let value = match cell {
        Cell::Text(text) => text,
        Cell::Number(n) => {
            number = n.to_string();
            number.as_str()
        }
        Cell::Null => "",
    };
    if exact {
        return value == pattern;
    }
    let value = value.to_lowercase();
    let pattern = pattern.to_lowercase();
    let mut rest = value.as_str();
    for piece in pattern.split(['*', '%']).filter(|p| !p.is_empty()) {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    true
}

fn compare_cells(a: Cell<'_>, b: Cell<'_>) -> Ordering {
    match (a, b) {
        (Cell::Number(x), Cell::Number(y)) => x.cmp(&y),
        (Cell::Null, Cell::Null) => Ordering::Equal,
        (Cell::Null, _) => Ordering::Less,
        (_, Cell::Null) => Ordering::Greater,
        (Cell::Text(x), Cell::Text(y)) => match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => x.cmp(y),
        },
        (Cell::Number(x), Cell::Text(y)) => x.to_string().as_str().cmp(y),
        (Cell::Text(x), Cell::Number(y)) => x.cmp(y.to_string().as_str()),
    }
}

/// Which records `mode` keeps: the vendor defines each mode by `ProcessType` alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// `active`: `HOLD: New Prospect`, `New Prospect`, `HOLD: NEEDSMOREWORK`, `NEEDSMOREWORK`.
    Active,
    /// `live`: `NEEDSMOREWORK`, `New Prospect`.
    Live,
    /// `callbacks`: `HOLD: NEEDSMOREWORK`, `NEEDSMOREWORK`.
    Callbacks,
    /// `live-callbacks`: `NEEDSMOREWORK`.
    LiveCallbacks,
    /// `unexpired`: anything but `EXPIRED`.
    Unexpired,
}

impl Mode {
    fn from_arg(value: &str) -> Option<Self> {
        match value {
            "active" => Some(Self::Active),
            "live" => Some(Self::Live),
            "callbacks" => Some(Self::Callbacks),
            "live-callbacks" => Some(Self::LiveCallbacks),
            "unexpired" => Some(Self::Unexpired),
            _ => None,
        }
    }

    fn keeps(self, process_type: &str) -> bool {
        let kept: &[&str] = match self {
            Self::Active => &[
                HOLD_NEW_PROSPECT,
                NEW_PROSPECT,
                HOLD_NEEDS_MORE_WORK,
                NEEDS_MORE_WORK,
            ],
            Self::Live => &[NEEDS_MORE_WORK, NEW_PROSPECT],
            Self::Callbacks => &[HOLD_NEEDS_MORE_WORK, NEEDS_MORE_WORK],
            Self::LiveCallbacks => &[NEEDS_MORE_WORK],
            Self::Unexpired => return process_type != EXPIRED,
        };
        kept.contains(&process_type)
    }
}

/// One search of a read: the field named, and the pattern its value must match.
type SearchTerm<'a> = (Cow<'a, str>, Cow<'a, str>);

/// The search terms of a read, in both of the forms clients send: `search[<field>]=<pattern>`
/// arguments, and one `search` argument holding a JSON object of field → pattern. Anything
/// else named `search` is refused, so a read is never widened by a search it ignored.
fn searches<'a>(args: &'a Args<'_>) -> Result<Vec<SearchTerm<'a>>, String> {
    let mut terms = Vec::new();
    if let Some(object) = args.non_empty("search") {
        let Ok(Row(fields)) = serde_json::from_str::<Row>(object) else {
            return Err("Bad argument: search".to_owned());
        };
        terms.extend(
            fields
                .into_iter()
                .map(|(field, pattern)| (Cow::Owned(field), Cow::Owned(pattern))),
        );
    }
    for (field, pattern) in args.searches() {
        if field.is_empty() {
            return Err("Bad argument: search[]".to_owned());
        }
        terms.push((Cow::Borrowed(field), Cow::Borrowed(pattern)));
    }
    Ok(terms)
}

/// The datetime column `timetype` ranges over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TimeField {
    Callback,
    ProcessDate,
}

/// The arguments of a `read`, checked.
#[derive(Debug, Default)]
pub(in crate::emulator) struct ReadQuery<'a> {
    dataset: Option<u64>,
    table: Option<&'a str>,
    id: Option<u64>,
    urn: Option<&'a str>,
    outcomes: Vec<&'a str>,
    agent: Option<&'a str>,
    ddi: Option<&'a str>,
    mode: Option<Mode>,
    time: Option<(TimeField, Option<NaiveDateTime>, Option<NaiveDateTime>)>,
    /// `(field, pattern)` from `search[<field>]=<pattern>` and from the older
    /// `search={"<field>":"<pattern>",…}`.
    searches: Vec<SearchTerm<'a>>,
    exact: bool,
    limit: Option<usize>,
    sort: Option<&'a str>,
}

impl<'a> ReadQuery<'a> {
    /// Reads the filters from the call's arguments; an unusable one is `Bad argument: <name>`.
    /// `tstart` / `tstop` take `YYYY-MM-DD HH:MM:SS`, or a bare date for that whole day.
    pub(in crate::emulator) fn parse(args: &'a Args<'_>) -> Result<Self, String> {
        let bad = |name: &str| format!("Bad argument: {name}");
        let number = |name: &str| {
            args.non_empty(name)
                .map(|v| v.trim().parse::<u64>().map_err(|_| bad(name)))
                .transpose()
        };
        let bound = |name: &str, day_edge: NaiveTime| {
            args.non_empty(name)
                .map(|v| {
                    let v = v.trim();
                    NaiveDateTime::parse_from_str(v, DATETIME_FORMAT)
                        .or_else(|_| {
                            NaiveDate::parse_from_str(v, DATE_FORMAT).map(|d| d.and_time(day_edge))
                        })
                        .map_err(|_| bad(name))
                })
                .transpose()
        };
        let mode = args
            .non_empty("mode")
            .map(|m| Mode::from_arg(m).ok_or_else(|| bad("mode")))
            .transpose()?;
        let (start, stop) = (
            bound("tstart", NaiveTime::MIN)?,
            bound("tstop", END_OF_DAY)?,
        );
        let time = match args.non_empty("timetype") {
            None if start.is_some() || stop.is_some() => return Err(bad("timetype")),
            None => None,
            Some("callback") => Some((TimeField::Callback, start, stop)),
            Some("processdate") => Some((TimeField::ProcessDate, start, stop)),
            Some(_) => return Err(bad("timetype")),
        };
        let exact = match args.non_empty("type") {
            None | Some("wildcard") => false,
            Some("exact") => true,
            Some(_) => return Err(bad("type")),
        };
        let limit = number("limit")?.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        Ok(Self {
            dataset: number("dataset")?,
            table: args.non_empty("table"),
            id: number("id")?,
            urn: args.non_empty("urn"),
            outcomes: args
                .non_empty("outcome")
                .map(|list| {
                    list.split(',')
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            agent: args.non_empty("agent"),
            ddi: args.non_empty("ddi"),
            mode,
            time,
            searches: searches(args)?,
            exact,
            limit,
            sort: args.non_empty("sort"),
        })
    }

    /// Whether a record passes every filter but the scope and the searches.
    fn matches(&self, r: &Record) -> bool {
        self.id.is_none_or(|id| r.id == id)
            && self.urn.is_none_or(|u| r.urn.as_deref() == Some(u))
            && (self.outcomes.is_empty() || self.outcomes.contains(&r.field(Field::OutcomeCode)))
            && self.agent.is_none_or(|a| r.field(Field::AgentRef) == a)
            && self.ddi.is_none_or(|d| r.has_phone(d))
            && self
                .mode
                .is_none_or(|m| m.keeps(r.field(Field::ProcessType)))
            && self.time.is_none_or(|(field, start, stop)| {
                if start.is_none() && stop.is_none() {
                    return true;
                }
                let column = match field {
                    TimeField::Callback => Field::Callback,
                    TimeField::ProcessDate => Field::ProcessDate,
                };
                parse_datetime(r.field(column))
                    .is_some_and(|t| start.is_none_or(|s| t >= s) && stop.is_none_or(|s| t <= s))
            })
    }
}
