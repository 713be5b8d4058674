//! Read rows: their column names, resolved while parsing, and the rows → [`Record`] mapping
//! that follows from the column table.

use std::borrow::Cow;
use std::fmt;
use std::sync::LazyLock;

use chrono::{NaiveDate, NaiveDateTime};
use serde::de::{Deserialize, Deserializer, Visitor};

use super::{bad_answer, parse_flag};
use crate::domain::{CellReader, Column, ColumnKind, Record};
use crate::error::Error;

/// The top-level scalars and the list of an answer, its rows read as `L`.
pub(super) struct Fields<L = Row> {
    pub(super) scalars: Scalars,
    pub(super) list: Option<Vec<L>>,
}

impl<L> Default for Fields<L> {
    fn default() -> Self {
        Self {
            scalars: Scalars::default(),
            list: None,
        }
    }
}

/// The envelope's scalars, by lower-case name: the only ones an answer's are kept as.
const ENVELOPE_SCALARS: [&str; 9] = [
    "success",
    "total",
    "bad",
    "key",
    "error",
    "info",
    "token",
    "expire",
    "account_id",
];

/// The envelope's scalars an answer gave, the last value of each name kept (as a map would);
/// any other top-level scalar is read (so a malformed one still refuses the answer) but not
/// kept.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Scalars([Option<Option<String>>; ENVELOPE_SCALARS.len()]);

impl Scalars {
    /// Keeps `value` when `name` (in any case) is one of the envelope's scalars.
    pub(super) fn insert(&mut self, name: &str, value: Option<Cow<'_, str>>) {
        if let Some(slot) = ENVELOPE_SCALARS
            .iter()
            .position(|known| known.eq_ignore_ascii_case(name))
        {
            self.0[slot] = Some(value.map(Cow::into_owned));
        }
    }

    /// The value given for `name` (lower case), taken out.
    pub(super) fn take(&mut self, name: &str) -> Option<Option<String>> {
        let slot = ENVELOPE_SCALARS.iter().position(|known| *known == name)?;
        self.0[slot].take()
    }
}

impl Fields {
    /// The same fields, each row of the list made an `L`.
    pub(super) fn map_rows<L: ListItem>(self) -> Fields<L> {
        Fields {
            scalars: self.scalars,
            list: self.list.map(|rows| {
                rows.into_iter()
                    .map(|row| L::from_fields(row.into_iter().map(|(k, v)| (k, v.map(Cow::Owned)))))
                    .collect()
            }),
        }
    }
}

/// What the rows of an answer's `list` are read into: [`Row`]s, or the gateway's JSON of a
/// record ([`super::transcode::RecordJson`]).
pub trait ListItem: Sized {
    /// The item of a row given as its fields in the order sent, values as the upstream spells
    /// them. A borrowed value is text as the JSON answer spelled it between quotes, so it holds
    /// nothing JSON escapes (`"`, `\\`, control characters: the JSON readers borrow only such
    /// text); any other value comes owned.
    fn from_fields<'a>(fields: impl Iterator<Item = (RowKey, Option<Cow<'a, str>>)>) -> Self;
}

impl ListItem for Row {
    fn from_fields<'a>(fields: impl Iterator<Item = (RowKey, Option<Cow<'a, str>>)>) -> Self {
        fields
            .map(|(key, value)| (key, value.map(Cow::into_owned)))
            .collect()
    }
}

/// A record as a read delivers it: a [`Record`], or its JSON written while the answer was
/// parsed ([`super::transcode::RecordJson`]).
pub trait ReadRecord: Sized {
    /// What each row of the answer is read into.
    type Item: ListItem;
    /// The record of a row, or why the row is not one.
    fn from_item(item: Self::Item) -> Result<Self, Error>;
    /// Its id.
    fn id(&self) -> u64;
    /// Its dataset's id.
    fn dataset_id(&self) -> u64;
}

impl ReadRecord for Record {
    type Item = Row;
    fn from_item(row: Row) -> Result<Self, Error> {
        record_from_row(row)
    }
    fn id(&self) -> u64 {
        self.id
    }
    fn dataset_id(&self) -> u64 {
        self.dataset_id
    }
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
/// Slots of [`COLUMN_SLOTS`]: a power of two, at least four times the number of columns, so
/// that a probe ends after a slot or two.
const COLUMN_SLOT_COUNT: usize = 256;

/// The standard columns in an open-addressing table keyed by [`name_hash`] (their read names
/// in any case): a name is looked up for every field of every row, so the lookup reads four
/// bytes of it and compares it with one or two columns, rather than with every column.
static COLUMN_SLOTS: LazyLock<[Option<Column>; COLUMN_SLOT_COUNT]> = LazyLock::new(|| {
    const _: () = assert!(Column::ALL.len() * 4 <= COLUMN_SLOT_COUNT);
    let mut slots = [None; COLUMN_SLOT_COUNT];
    for column in Column::ALL {
        let mut slot = name_hash(column.read_name());
        while slots[slot].is_some() {
            slot = (slot + 1) % COLUMN_SLOT_COUNT;
        }
        slots[slot] = Some(column);
    }
    slots
});

/// The slot a name (in any case) starts probing at: its length and its first, middle and last
/// bytes, lower-cased and mixed.
fn name_hash(name: &str) -> usize {
    let b = name.as_bytes();
    let Some(&last) = b.last() else { return 0 };
    let key = (b.len() as u64)
        | u64::from(b[0].to_ascii_lowercase()) << 8
        | u64::from(b[b.len() / 2].to_ascii_lowercase()) << 16
        | u64::from(last.to_ascii_lowercase()) << 24;
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize % COLUMN_SLOT_COUNT
}

/// The standard column an upstream name (in any case) stands for.
fn column_of(name: &str) -> Option<Column> {
    let slots = &*COLUMN_SLOTS;
    let mut slot = name_hash(name);
    while let Some(column) = slots[slot] {
        let known = column.read_name();
        if known == name || known.eq_ignore_ascii_case(name) {
            return Some(column);
        }
        slot = (slot + 1) % COLUMN_SLOT_COUNT;
    }
    None
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

/// A datetime column's value: `None` for the zero date.
pub(super) fn parse_datetime(value: &str, column: Column) -> Result<Option<NaiveDateTime>, Error> {
    if value.starts_with(ZERO_DATE) {
        return Ok(None);
    }
    fixed_datetime(value)
        .map(Some)
        .ok_or_else(|| bad_answer(format!("`{}` is not a datetime", column.read_name())))
}

/// A key or code column's value.
pub(super) fn parse_number<T: std::str::FromStr>(value: &str, column: Column) -> Result<T, Error> {
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
                return Err(empty_key(column));
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
        return Err(missing_keys());
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
        Ok(Some(value).filter(|v| !is_no_reference(v)))
    }

    fn code(&self, column: Column, value: String) -> Result<Option<u32>, Error> {
        parse_number(&value, column).map(Some)
    }

    fn datetime(&self, column: Column, value: String) -> Result<Option<NaiveDateTime>, Error> {
        parse_datetime(&value, column)
    }

    fn date(&self, column: Column, value: String) -> Result<Option<NaiveDate>, Error> {
        parse_date(&value, column)
    }

    fn flag(&self, column: Column, value: String) -> Result<bool, Error> {
        parse_row_flag(&value, column)
    }
}

/// Whether a reference column's value is the upstream's `0` for none.
pub(super) fn is_no_reference(value: &str) -> bool {
    value.trim() == "0"
}

/// A date column's value (a datetime's date part is taken): `None` for the zero date.
pub(super) fn parse_date(value: &str, column: Column) -> Result<Option<NaiveDate>, Error> {
    if value.starts_with(ZERO_DATE) {
        return Ok(None);
    }
    let date = value.get(..DATE_LEN).unwrap_or(value);
    // By position first; chrono's reader for the unpadded forms (`2019-1-7`).
    fixed_date(date)
        .or_else(|| NaiveDate::parse_from_str(date, "%Y-%m-%d").ok())
        .map(Some)
        .ok_or_else(|| bad_answer(format!("`{}` is not a date", column.read_name())))
}

/// A flag column's value.
pub(super) fn parse_row_flag(value: &str, column: Column) -> Result<bool, Error> {
    parse_flag(value).ok_or_else(|| bad_answer(format!("`{}` is not a flag", column.read_name())))
}

/// A row without a value in a key column.
pub(super) fn empty_key(column: Column) -> Error {
    bad_answer(format!("a row with an empty `{}`", column.read_name()))
}

/// A row without both keys.
pub(super) fn missing_keys() -> Error {
    bad_answer("a row without `id` or `datasetid`")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_name_is_found_in_any_case_and_nothing_else_is() {
        for column in Column::ALL {
            let name = column.read_name();
            for spelling in [
                name.to_owned(),
                name.to_ascii_lowercase(),
                name.to_ascii_uppercase(),
            ] {
                assert_eq!(column_of(&spelling), Some(column), "{spelling}");
            }
        }
        for custom in [
            "",
            "x",
            "company_name",
            "test_field",
            "FirstNames",
            "Address7",
            "ids",
        ] {
            assert_eq!(column_of(custom), None, "{custom}");
        }
    }
}
