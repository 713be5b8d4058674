//! [`Record`] written as JSON by hand: the bytes serde_json writes for it, without serde's
//! per-value dispatch. Every read answer is made of records, so this is the gateway's hottest
//! writer; the column table generates `Record`'s [`JsonValue`] impl from the impls here, and a
//! property test holds it to serde_json's output byte for byte.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};

/// A value of a [`Record`] field, written as JSON into a buffer.
pub trait JsonValue {
    /// Appends the value's JSON to `out`.
    fn write_json(&self, out: &mut Vec<u8>);
}

impl JsonValue for u64 {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(itoa::Buffer::new().format(*self).as_bytes());
    }
}

impl JsonValue for bool {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(if *self { b"true" } else { b"false" });
    }
}

impl JsonValue for str {
    fn write_json(&self, out: &mut Vec<u8>) {
        let plain = !self
            .bytes()
            .any(|byte| byte < 0x20 || byte == b'"' || byte == b'\\');
        if plain {
            out.reserve(self.len() + 2);
            out.push(b'"');
            out.extend_from_slice(self.as_bytes());
            out.push(b'"');
        } else {
            serialized(self, out);
        }
    }
}

impl JsonValue for String {
    fn write_json(&self, out: &mut Vec<u8>) {
        self.as_str().write_json(out);
    }
}

impl JsonValue for u32 {
    fn write_json(&self, out: &mut Vec<u8>) {
        u64::from(*self).write_json(out);
    }
}

/// `YYYY-MM-DD`, chrono's serialisation of a date of a four-digit year.
impl JsonValue for NaiveDate {
    fn write_json(&self, out: &mut Vec<u8>) {
        if !(0..=9999).contains(&self.year()) {
            return serialized(self, out);
        }
        out.push(b'"');
        write_date(self, out);
        out.push(b'"');
    }
}

/// `YYYY-MM-DDTHH:MM:SS`, chrono's serialisation of a datetime of a four-digit year and whole
/// seconds (every other one is left to chrono).
impl JsonValue for NaiveDateTime {
    fn write_json(&self, out: &mut Vec<u8>) {
        if !(0..=9999).contains(&self.year()) || self.nanosecond() != 0 {
            return serialized(self, out);
        }
        out.push(b'"');
        write_date(&self.date(), out);
        out.push(b'T');
        for (n, part) in [self.hour(), self.minute(), self.second()]
            .into_iter()
            .enumerate()
        {
            if n > 0 {
                out.push(b':');
            }
            two_digits(part, out);
        }
        out.push(b'"');
    }
}

impl<T: JsonValue> JsonValue for Option<T> {
    fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Some(value) => value.write_json(out),
            None => out.extend_from_slice(b"null"),
        }
    }
}

/// `custom`: its columns in name order, as serde_json writes a `BTreeMap`.
impl JsonValue for BTreeMap<String, Option<String>> {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        for (n, (name, value)) in self.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            name.write_json(out);
            out.push(b':');
            value.write_json(out);
        }
        out.push(b'}');
    }
}

impl<T: JsonValue> JsonValue for [T] {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'[');
        for (n, item) in self.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            item.write_json(out);
        }
        out.push(b']');
    }
}

/// The rare value the fast paths leave to serde_json (text that needs escapes, dates outside
/// four-digit years).
fn serialized(value: &(impl serde::Serialize + ?Sized), out: &mut Vec<u8>) {
    serde_json::to_writer(out, value).expect("text and dates serialise");
}

fn write_date(date: &NaiveDate, out: &mut Vec<u8>) {
    let year = date.year() as u32;
    two_digits(year / 100, out);
    two_digits(year % 100, out);
    out.push(b'-');
    two_digits(date.month(), out);
    out.push(b'-');
    two_digits(date.day(), out);
}

fn two_digits(n: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(&[b'0' + (n / 10) as u8, b'0' + (n % 10) as u8]);
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use proptest::collection::btree_map;
    use proptest::prelude::*;

    use super::*;
    use crate::domain::Record;

    fn text() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(prop_oneof![
            "[ -~]{0,12}",
            ".{0,8}",
            "[\u{0}-\u{1f}\"\\\\\u{7f}é]{0,6}"
        ])
    }

    fn datetime() -> impl Strategy<Value = Option<NaiveDateTime>> {
        proptest::option::of(
            (
                -1i32..=10_001,
                1u32..=365,
                0u32..86_400,
                prop_oneof![Just(0u32), 1u32..999_999_999],
            )
                .prop_filter_map("a real day", |(year, day, seconds, nanos)| {
                    NaiveDate::from_yo_opt(year, day)?.and_hms_nano_opt(
                        seconds / 3600,
                        seconds / 60 % 60,
                        seconds % 60,
                        nanos,
                    )
                }),
        )
    }

    prop_compose! {
        fn record()(
            id in any::<u64>(),
            dataset_id in any::<u64>(),
            texts in proptest::collection::vec(text(), 4),
            outcome_code in proptest::option::of(any::<u32>()),
            flags in any::<(bool, bool)>(),
            datetimes in proptest::collection::vec(datetime(), 2),
            load_date in datetime(),
            custom in btree_map(".{0,6}", text(), 0..4),
        ) -> Record {
            Record {
                id,
                dataset_id,
                first_name: texts[0].clone(),
                notes: texts[1].clone(),
                agent_ref: texts[2].clone(),
                vendor_urn: texts[3].clone(),
                outcome_code,
                callback_same_time: flags.0,
                agent_specific: flags.1,
                process_date: datetimes[0],
                callback_at: datetimes[1],
                load_date: load_date.map(|at| at.date()),
                custom,
                ..Record::default()
            }
        }
    }

    proptest! {
        #[test]
        fn records_are_written_as_serde_json_writes_them(
            records in proptest::collection::vec(record(), 0..3),
        ) {
            for record in &records {
                let mut out = Vec::new();
                record.write_json(&mut out);
                prop_assert_eq!(
                    String::from_utf8(out).unwrap(),
                    serde_json::to_string(record).unwrap()
                );
            }
            let mut out = Vec::new();
            records.write_json(&mut out);
            prop_assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&records).unwrap());
        }
    }

    #[test]
    fn the_example_record_is_written_as_serde_json_writes_it() {
        let record: Record = Record {
            first_name: Some("Zoë \"Jo\" \u{1}\\".into()),
            ..Record::default()
        };
        let mut out = Vec::new();
        record.write_json(&mut out);
        assert_eq!(out, serde_json::to_vec(&record).unwrap());
        assert!(
            String::from_utf8(out)
                .unwrap()
                .contains(r#""first_name":"Zoë \"Jo\" \u0001\\""#)
        );
    }
}
