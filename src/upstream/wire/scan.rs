//! The fast reader of JSON answers: the shape ContactNow sends (an object of scalars and a
//! `list` of flat rows) read by hand, a field at a time, values borrowed from the answer.
//!
//! It reads only what it is sure of and answers `None` for anything else (malformed JSON,
//! numbers that are not plain non-negative integers, nested values where scalars belong, bad
//! escapes), and the answer is then read by serde_json, whose result or error stands. So it
//! never accepts what serde_json refuses, and what it reads equals what serde_json reads: a
//! property test and the `upstream_json` fuzz target hold it to that.

use std::borrow::Cow;

use super::row::{Fields, ListItem, RowKey};

/// The fields of a JSON answer, or `None` when this reader leaves it to serde_json.
pub(super) fn answer<L: ListItem>(text: &str) -> Option<Fields<L>> {
    let mut scan = Scan {
        text,
        at: 0,
        row: Vec::new(),
    };
    let mut fields = Fields::default();
    scan.skip_space();
    scan.expect(b'{')?;
    scan.members(|scan, name| {
        if name.eq_ignore_ascii_case("list") {
            fields.list = Some(scan.list()?);
        } else {
            let value = scan.scalar()?;
            fields
                .scalars
                .insert(name.to_ascii_lowercase(), value.map(Cow::into_owned));
        }
        Some(())
    })?;
    scan.skip_space();
    (scan.at == text.len()).then_some(fields)
}

/// A position in the answer's text, and the scratch space of one row's fields.
struct Scan<'a> {
    text: &'a str,
    at: usize,
    row: Vec<(RowKey, Option<Cow<'a, str>>)>,
}

impl<'a> Scan<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// The word `word` (after its first byte was seen).
    fn word(&mut self, word: &str) -> Option<()> {
        let end = self.at + word.len();
        (self.text.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// The members of an object whose `{` was read, each handed to `member` after its name and
    /// colon, through the closing `}`.
    fn members(
        &mut self,
        mut member: impl FnMut(&mut Self, Cow<'a, str>) -> Option<()>,
    ) -> Option<()> {
        self.skip_space();
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(());
        }
        loop {
            self.skip_space();
            self.expect(b'"')?;
            let name = self.string()?;
            self.skip_space();
            self.expect(b':')?;
            self.skip_space();
            member(self, name)?;
            self.skip_space();
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// `list`: `null`, an array of rows, or an object of rows (its keys ignored).
    fn list<L: ListItem>(&mut self) -> Option<Vec<L>> {
        let mut rows = Vec::new();
        match self.peek()? {
            b'n' => self.word("null")?,
            b'[' => {
                self.at += 1;
                self.skip_space();
                if self.peek()? == b']' {
                    self.at += 1;
                    return Some(rows);
                }
                loop {
                    self.skip_space();
                    rows.push(self.row()?);
                    self.skip_space();
                    match self.peek()? {
                        b',' => self.at += 1,
                        b']' => {
                            self.at += 1;
                            break;
                        }
                        _ => return None,
                    }
                }
            }
            b'{' => {
                self.at += 1;
                self.members(|scan, _| {
                    rows.push(scan.row()?);
                    Some(())
                })?;
            }
            _ => return None,
        }
        Some(rows)
    }

    /// One row: an object of scalars, made an `L` from its fields in the order sent.
    fn row<L: ListItem>(&mut self) -> Option<L> {
        self.expect(b'{')?;
        let mut row = std::mem::take(&mut self.row);
        row.clear();
        let read = self.members(|scan, name| {
            let key = match name {
                Cow::Borrowed(name) => RowKey::of(name),
                Cow::Owned(name) => RowKey::of_owned(name),
            };
            row.push((key, scan.scalar()?));
            Some(())
        });
        let item = read.map(|()| L::from_fields(row.drain(..)));
        self.row = row;
        item
    }

    /// A scalar as the upstream's text: a string, a non-negative integer as written, `true` /
    /// `false` as `1` / `0`, `null` as none.
    fn scalar(&mut self) -> Option<Option<Cow<'a, str>>> {
        match self.peek()? {
            b'"' => {
                self.at += 1;
                self.string().map(Some)
            }
            b't' => self.word("true").map(|()| Some(Cow::Borrowed("1"))),
            b'f' => self.word("false").map(|()| Some(Cow::Borrowed("0"))),
            b'n' => self.word("null").map(|()| None),
            b'0'..=b'9' => self.integer().map(Some),
            _ => None,
        }
    }

    /// A non-negative integer that fits a `u64`, without fraction or exponent (anything else is
    /// left to serde_json, which writes numbers its own way).
    fn integer(&mut self) -> Option<Cow<'a, str>> {
        let start = self.at;
        let digits = self.text.as_bytes()[start..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let end = start + digits;
        let number = &self.text[start..end];
        if matches!(self.text.as_bytes().get(end), Some(b'.' | b'e' | b'E'))
            || (digits > 1 && number.starts_with('0'))
        {
            return None;
        }
        number.parse::<u64>().ok()?;
        self.at = end;
        Some(Cow::Borrowed(number))
    }

    /// The rest of a string whose `"` was read: borrowed when it has no escapes.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let bytes = self.text.as_bytes();
        let start = self.at;
        let end = start + memchr::memchr2(b'"', b'\\', &bytes[start..])?;
        if bytes[end] == b'"' {
            let text = &self.text[start..end];
            if has_control(text.as_bytes()) {
                return None;
            }
            self.at = end + 1;
            return Some(Cow::Borrowed(text));
        }
        self.escaped_string(start).map(Cow::Owned)
    }

    /// A string with escapes, decoded (a bad escape or a lone surrogate is left to serde_json).
    fn escaped_string(&mut self, start: usize) -> Option<String> {
        let bytes = self.text.as_bytes();
        let mut out = String::new();
        let mut at = start;
        loop {
            let end = at + memchr::memchr2(b'"', b'\\', &bytes[at..])?;
            let run = &self.text[at..end];
            if has_control(run.as_bytes()) {
                return None;
            }
            out.push_str(run);
            if bytes[end] == b'"' {
                self.at = end + 1;
                return Some(out);
            }
            let escape = *bytes.get(end + 1)?;
            at = end + 2;
            out.push(match escape {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => {
                    let (c, next) = unicode_escape(self.text, at)?;
                    at = next;
                    c
                }
                _ => return None,
            });
        }
    }
}

/// The character of a `\u` escape whose hex digits start at `at` (a surrogate pair taken
/// whole), and where the text goes on.
fn unicode_escape(text: &str, at: usize) -> Option<(char, usize)> {
    let hex = |at: usize| -> Option<u32> {
        let digits = text.get(at..at + 4)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(digits, 16).ok()
    };
    let first = hex(at)?;
    match first {
        0xD800..=0xDBFF => {
            if text.get(at + 4..at + 6)? != "\\u" {
                return None;
            }
            let second = hex(at + 6)?;
            if !(0xDC00..=0xDFFF).contains(&second) {
                return None;
            }
            let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
            Some((char::from_u32(code)?, at + 10))
        }
        0xDC00..=0xDFFF => None,
        _ => Some((char::from_u32(first)?, at + 4)),
    }
}

/// Whether `bytes` holds a control character (below 0x20), which JSON strings may not, eight
/// bytes at a time.
fn has_control(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut chunks = bytes.chunks_exact(8);
    let below = |word: u64| word.wrapping_sub(ONES * 0x20) & !word & HIGHS != 0;
    if chunks.by_ref().any(|chunk| {
        below(u64::from_le_bytes(
            chunk.try_into().expect("chunks of eight"),
        ))
    }) {
        return true;
    }
    chunks.remainder().iter().any(|&b| b < 0x20)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::upstream::wire::Row;

    /// An answer's scalars in name order and its rows.
    type Read = (Vec<(String, Option<String>)>, Option<Vec<Row>>);

    /// What serde_json reads (the reference), as fields.
    fn by_serde(text: &str) -> Option<Read> {
        let fields = super::super::envelope::serde_fields::<Row>(text).ok()?;
        Some((fields.scalars.into_iter().collect(), fields.list))
    }

    /// What the scan reads.
    fn by_scan(text: &str) -> Option<Read> {
        let fields = answer::<Row>(text)?;
        Some((fields.scalars.into_iter().collect(), fields.list))
    }

    /// JSON text near what ContactNow sends, with the odd byte changed or cut.
    fn answer_text() -> impl Strategy<Value = String> {
        let scalar = prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("false".to_owned()),
            "(0|[1-9][0-9]{0,20})",
            "-?[0-9]{1,3}(\\.[0-9]{1,2})?([eE][+-]?[0-9])?",
            any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
            "\"([a-z ]|\\\\[\"\\\\/bfnrtux]|\\\\u[0-9a-fA-F]{4}|\\\\u[dD][89abAB][0-9a-f]{2}\\\\u[dD][c-fC-F][0-9a-f]{2})*\"",
        ];
        let name = prop_oneof![
            Just("\"id\"".to_owned()),
            Just("\"FirstName\"".to_owned()),
            Just("\"LIST\"".to_owned()),
            "\"[a-z_]{0,6}\"",
            "\"[a-z]\\\\u00e9\"",
        ];
        let row =
            proptest::collection::vec((name.clone(), scalar.clone()), 0..5).prop_map(|fields| {
                let fields: Vec<String> =
                    fields.iter().map(|(n, v)| format!("{n} : {v}")).collect();
                format!("{{{}}}", fields.join(","))
            });
        let list = prop_oneof![
            1 => Just("null".to_owned()),
            4 => proptest::collection::vec(row.clone(), 0..3).prop_map(|rows| format!("[{}]", rows.join(", "))),
            2 => proptest::collection::vec(row, 0..3).prop_map(|rows| {
                let rows: Vec<String> = rows.iter().enumerate().map(|(n, r)| format!("\"{n}\":{r}")).collect();
                format!("{{{}}}", rows.join(","))
            }),
            1 => Just("[[1]]".to_owned()),
            1 => Just("\"x\"".to_owned()),
        ];
        let member = prop_oneof![
            4 => (name, scalar).prop_map(|(n, v)| format!("{n}:{v}")),
            4 => list.prop_map(|l| format!("\"list\":{l}")),
            1 => Just("\"total\":{\"n\":1}".to_owned()),
        ];
        (
            proptest::collection::vec(member, 0..5),
            proptest::option::weighted(0.15, any::<(prop::sample::Index, u8)>()),
            proptest::option::weighted(0.15, any::<prop::sample::Index>()),
        )
            .prop_map(|(members, change, cut)| {
                let mut text = format!(" {{ {} }} ", members.join(" , ")).into_bytes();
                if let Some((at, byte)) = change {
                    let at = at.index(text.len());
                    text[at] = byte;
                }
                if let Some(at) = cut {
                    text.truncate(at.index(text.len() + 1));
                }
                String::from_utf8_lossy(&text).into_owned()
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn what_the_scan_reads_serde_json_reads_alike(text in answer_text()) {
            if let Some(scanned) = by_scan(&text) {
                prop_assert_eq!(Some(scanned), by_serde(&text), "{}", text);
            }
        }
    }

    #[test]
    fn the_answers_contactnow_sends_are_read_here() {
        for text in [
            r#"{"success":true,"total":5,"list":[{"id":"550431","FirstName":"Jo\u00e9 \/ \"J\"","URN":null,"n":12}]}"#,
            r#"{"success":1,"list":{"0":{"id":"1"},"1":{"id":"2"}}}"#,
            r#" {"success":false,"error":"Expired token","list":null} "#,
            r#"{"success":true,"list":[{"name":"\ud83d\ude00"}]}"#,
            "{}",
        ] {
            assert!(by_scan(text).is_some(), "{text}");
            assert_eq!(by_scan(text), by_serde(text), "{text}");
        }
        for text in [
            r#"{"success":true,"total":1.5}"#,
            r#"{"success":true,"list":[{"a":"\ud83d"}]}"#,
            "{\"a\":\"\u{1}\"}",
            r#"{"a":1}x"#,
            r#"{"a":01}"#,
            r#"{"a":-1}"#,
            r#"{"a":1,}"#,
        ] {
            assert!(by_scan(text).is_none(), "{text}");
        }
        assert!(has_control(b"abcdefgh\x1fijk") && has_control(b"abcdefghij\n"));
        assert!(!has_control("abcdefghijklmnop é \u{7f}".as_bytes()));
    }
}
