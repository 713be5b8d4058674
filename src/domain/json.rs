//! The values of a [`super::Record`] written as JSON by hand: the bytes serde_json writes for
//! them, without serde's per-value dispatch. The read path's transcoder
//! (`upstream::wire::transcode`) writes every record it answers with these, and property tests
//! hold each to serde_json's output byte for byte.

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
        if needs_escape(self) {
            serialized(self, out);
        } else {
            write_plain(self, out);
        }
    }
}

/// Whether JSON must escape something in `text` (`"`, `\\`, a control character).
fn needs_escape(text: &str) -> bool {
    text.bytes()
        .any(|byte| byte < 0x20 || byte == b'"' || byte == b'\\')
}

/// Writes `text`, which holds nothing JSON escapes (text as a JSON document spelled it between
/// quotes without escapes, say), as a JSON string without looking at it again.
pub fn write_plain(text: &str, out: &mut Vec<u8>) {
    debug_assert!(!needs_escape(text), "text that needs escapes: {text:?}");
    out.reserve(text.len() + 2);
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
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

/// The rare value the fast paths leave to serde_json: text that needs escapes, dates outside
/// four-digit years, datetimes with a fraction of a second.
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
    use proptest::prelude::*;

    use super::*;

    /// What the value's writer writes, and what serde_json writes for it.
    fn both<T: JsonValue + serde::Serialize + ?Sized>(value: &T) -> (String, String) {
        let mut out = Vec::new();
        value.write_json(&mut out);
        (
            String::from_utf8(out).unwrap(),
            serde_json::to_string(value).unwrap(),
        )
    }

    fn datetime() -> impl Strategy<Value = NaiveDateTime> {
        (
            -1i32..=10_001,
            1u32..=365,
            0u32..86_400,
            prop_oneof![Just(0u32), 1u32..1_999_999_999],
        )
            .prop_filter_map("a real day", |(year, day, seconds, nanos)| {
                NaiveDate::from_yo_opt(year, day)?.and_hms_nano_opt(
                    seconds / 3600,
                    seconds / 60 % 60,
                    seconds % 60,
                    nanos,
                )
            })
    }

    proptest! {
        #[test]
        fn values_are_written_as_serde_json_writes_them(
            text in prop_oneof!["[ -~]{0,12}", ".{0,8}", "[\u{0}-\u{1f}\"\\\\\u{7f}é]{0,6}"],
            number in any::<u64>(),
            code in proptest::option::of(any::<u32>()),
            flag in any::<bool>(),
            at in proptest::option::of(datetime()),
            texts in proptest::collection::vec(proptest::option::of(".{0,4}"), 0..3),
        ) {
            let (ours, serde) = both(text.as_str());
            prop_assert_eq!(ours, serde);
            let (ours, serde) = both(&number);
            prop_assert_eq!(ours, serde);
            let (ours, serde) = both(&code);
            prop_assert_eq!(ours, serde);
            let (ours, serde) = both(&flag);
            prop_assert_eq!(ours, serde);
            let (ours, serde) = both(&at);
            prop_assert_eq!(ours, serde);
            let (ours, serde) = both(&at.map(|at| at.date()));
            prop_assert_eq!(ours, serde);
            let (ours, serde) = both(texts.as_slice());
            prop_assert_eq!(ours, serde);
        }
    }

    #[test]
    fn escapes_and_odd_dates_are_left_to_serde_json() {
        let (ours, serde) = both("Zoë \"Jo\" \u{1}\\");
        assert_eq!(ours, serde);
        assert_eq!(ours, r#""Zoë \"Jo\" \u0001\\""#);
        let leap = NaiveDate::from_ymd_opt(2019, 6, 30)
            .unwrap()
            .and_hms_milli_opt(23, 59, 59, 1_500)
            .unwrap();
        let (ours, serde) = both(&leap);
        assert_eq!(ours, serde);
        let far = NaiveDate::from_ymd_opt(12_345, 1, 7).unwrap();
        assert_eq!(both(&far).0, both(&far).1);
    }
}
