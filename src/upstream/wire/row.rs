//! Read rows: their column names, resolved while parsing, and the rows → [`Record`] mapping
//! that follows from the column table.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;

use chrono::{NaiveDate, NaiveDateTime};
use serde::de::{Deserialize, Deserializer, Visitor};

use super::{bad_answer, parse_flag};
use crate::domain::{CellReader, Column, ColumnKind, Record};
use crate::error::Error;

/// The top-level scalars (by lower-case name) and the list of an answer.
#[derive(Default)]
pub(super) struct Fields {
    pub(super) scalars: BTreeMap<String, Option<String>>,
    pub(super) list: Option<Vec<Row>>,
}

/// One row of a read: its columns in the order sent, values as the upstream spells them.
pub type Row = Vec<(RowKey, Option<String>)>;

/// A column of a read row, resolved while parsing so that standard names are never allocated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RowKey {
    /// A standard column (its upstream name in any case).
    Column(Column),
    /// A custom column, by its own name.
    Custom(String),
}

impl RowKey {
    /// The key an upstream column name stands for.
    pub fn of(name: &str) -> Self {
        column_of(name).map_or_else(|| RowKey::Custom(name.to_owned()), RowKey::Column)
    }

    pub(super) fn of_owned(name: String) -> Self {
        column_of(&name).map_or(RowKey::Custom(name), RowKey::Column)
    }
}

impl<'de> Deserialize<'de> for RowKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = RowKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a column name")
            }
            fn visit_str<E>(self, name: &str) -> Result<RowKey, E> {
                Ok(RowKey::of(name))
            }
            fn visit_string<E>(self, name: String) -> Result<RowKey, E> {
                Ok(RowKey::of_owned(name))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}
/// The columns by the length of their read name: a name is compared only with the few columns
/// whose names are as long (it is looked up for every field of every row).
static COLUMNS_BY_LENGTH: LazyLock<Vec<Vec<Column>>> = LazyLock::new(|| {
    let longest = Column::ALL.map(|column| column.read_name().len());
    let mut by_length = vec![Vec::new(); longest.into_iter().max().unwrap_or(0) + 1];
    for column in Column::ALL {
        by_length[column.read_name().len()].push(column);
    }
    by_length
});

/// The standard column an upstream name (in any case) stands for.
fn column_of(name: &str) -> Option<Column> {
    // Names of one length differ mostly in their last byte (`Address1` … `Address6`): compare
    // that first, the whole name only then.
    let last = name.as_bytes().last()?.to_ascii_lowercase();
    COLUMNS_BY_LENGTH
        .get(name.len())?
        .iter()
        .copied()
        .find(|column| {
            let known = column.read_name();
            known.as_bytes()[known.len() - 1].to_ascii_lowercase() == last
                && known.eq_ignore_ascii_case(name)
        })
}

/// The upstream's date of no date (`0000-00-00`, also the start of its zero datetime).
const ZERO_DATE: &str = "0000-00-00";
/// The length of `YYYY-MM-DD`.
const DATE_LEN: usize = 10;

/// The number written in `b[range]`, when every byte there is an ASCII digit.
fn digits(b: &[u8], range: std::ops::Range<usize>) -> Option<u32> {
    b.get(range)?.iter().try_fold(0u32, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
    })
}

/// `YYYY-MM-DD`, read by position.
fn fixed_date(value: &str) -> Option<NaiveDate> {
    let b = value.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    NaiveDate::from_ymd_opt(digits(b, 0..4)? as i32, digits(b, 5..7)?, digits(b, 8..10)?)
}

/// `YYYY-MM-DD HH:MM:SS`, read by position (the upstream's one datetime format).
pub(super) fn fixed_datetime(value: &str) -> Option<NaiveDateTime> {
    let b = value.as_bytes();
    if b.len() != 19 || b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    fixed_date(value.get(..10)?)?.and_hms_opt(
        digits(b, 11..13)?,
        digits(b, 14..16)?,
        digits(b, 17..19)?,
    )
}

fn parse_datetime(value: &str, column: Column) -> Result<Option<NaiveDateTime>, Error> {
    if value.starts_with(ZERO_DATE) {
        return Ok(None);
    }
    fixed_datetime(value)
        .map(Some)
        .ok_or_else(|| bad_answer(format!("`{}` is not a datetime", column.read_name())))
}

fn parse_number<T: std::str::FromStr>(value: &str, column: Column) -> Result<T, Error> {
    value
        .trim()
        .parse()
        .map_err(|_| bad_answer(format!("`{}` is not a number", column.read_name())))
}

/// The records of a read's `list` (none when it has no list).
pub fn records(list: Option<Vec<Row>>) -> Result<Vec<Record>, Error> {
    list.unwrap_or_default()
        .into_iter()
        .map(record_from_row)
        .collect()
}

/// The upstream's datetime format, for query arguments (answers are read by position).
pub(crate) fn wire_datetime(value: &NaiveDateTime) -> String {
    value.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Turns an upstream row into a [`Record`]; every unknown column goes under `custom`.
pub fn record_from_row(row: Row) -> Result<Record, Error> {
    let mut record = Record::default();
    let (mut has_id, mut has_dataset) = (false, false);
    for (key, value) in row {
        let value = value.filter(|v| !v.is_empty());
        let column = match key {
            RowKey::Column(column) => column,
            RowKey::Custom(name) => {
                record.custom.insert(name, value);
                continue;
            }
        };
        let Some(value) = value else {
            if column.kind() == ColumnKind::Key {
                return Err(bad_answer(format!(
                    "a row with an empty `{}`",
                    column.read_name()
                )));
            }
            continue;
        };
        match column {
            Column::Id => has_id = true,
            Column::DatasetId => has_dataset = true,
            _ => {}
        }
        record.set(column, value, &WireCells)?;
    }
    if !has_id || !has_dataset {
        return Err(bad_answer("a row without `id` or `datasetid`"));
    }
    Ok(record)
}

/// The upstream's spelling of each kind of value: numbers as text, `0000-00-00` dates for
/// none, `1`/`0` flags, `0` for no agent.
struct WireCells;

impl CellReader for WireCells {
    type Error = Error;

    fn key(&self, column: Column, value: String) -> Result<u64, Error> {
        parse_number(&value, column)
    }

    fn text(&self, _: Column, value: String) -> Result<Option<String>, Error> {
        Ok(Some(value))
    }

    fn reference(&self, _: Column, value: String) -> Result<Option<String>, Error> {
        Ok(Some(value).filter(|v| v.trim() != "0"))
    }

    fn code(&self, column: Column, value: String) -> Result<Option<u32>, Error> {
        parse_number(&value, column).map(Some)
    }

    fn datetime(&self, column: Column, value: String) -> Result<Option<NaiveDateTime>, Error> {
        parse_datetime(&value, column)
    }

    fn date(&self, column: Column, value: String) -> Result<Option<NaiveDate>, Error> {
        if value.starts_with(ZERO_DATE) {
            return Ok(None);
        }
        let date = value.get(..DATE_LEN).unwrap_or(&value);
        // By position first; chrono's reader for the unpadded forms (`2019-1-7`).
        fixed_date(date)
            .or_else(|| NaiveDate::parse_from_str(date, "%Y-%m-%d").ok())
            .map(Some)
            .ok_or_else(|| bad_answer(format!("`{}` is not a date", column.read_name())))
    }

    fn flag(&self, column: Column, value: String) -> Result<bool, Error> {
        parse_flag(&value)
            .ok_or_else(|| bad_answer(format!("`{}` is not a flag", column.read_name())))
    }
}
