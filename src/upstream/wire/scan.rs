//! The fast reader of JSON answers: the shape ContactNow sends (an object of scalars and a
//! `list` of flat rows) read by hand, a field at a time, values borrowed from the answer.
//!
//! It reads only what it is sure of and answers `None` for anything else (malformed JSON,
//! numbers that are not plain non-negative integers, nested values where scalars belong, bad
//! escapes), and the answer is then read by serde_json, whose result or error stands. So it
//! never accepts what serde_json refuses, and what it reads equals what serde_json reads: a
//! property test and the `upstream_json` fuzz target hold it to that.

use std::borrow::Cow;
use std::cell::RefCell;

use super::row::{Fields, ListItem, RowKey};

/// About the fields of a row (ContactNow's records have about thirty): the scratch space is
/// sized for them once, not regrown for the first row.
const ROW_FIELDS: usize = 40;

/// The most row names remembered (and the most fields the kept scratch space holds): a row
/// wider than that is read all the same, its further names scanned every time.
const MAX_REMEMBERED: usize = 256;

/// The longest name remembered, in bytes (ContactNow's are under twenty): what a thread keeps
/// stays under 16 KiB whatever an answer holds.
const MAX_REMEMBERED_NAME: usize = 64;

/// What a thread's scans keep from answer to answer: the names of the last row read (see
/// [`Scan::names`]) and the scratch space of a row's fields (emptied).
#[derive(Default)]
struct Kept {
    names: Vec<Option<(Box<str>, RowKey)>>,
    row: Vec<(RowKey, Option<Cow<'static, str>>)>,
}

thread_local! {
    /// This thread's [`Kept`]: every answer of one account names the same columns in the same
    /// order, so the last row's names serve the next answer's first row too.
    static KEPT: RefCell<Kept> = RefCell::new(Kept {
        names: Vec::with_capacity(ROW_FIELDS),
        row: Vec::with_capacity(ROW_FIELDS),
    });
}

/// The fields of a JSON answer, or `None` when this reader leaves it to serde_json.
pub(super) fn answer<L: ListItem>(text: &str) -> Option<Fields<L>> {
    let kept = KEPT.with_borrow_mut(std::mem::take);
    let mut scan = Scan {
        text,
        at: 0,
        row: reuse(kept.row),
        names: kept.names,
    };
    let fields = scan.answer();
    let mut row = reuse(scan.row);
    row.shrink_to(MAX_REMEMBERED);
    KEPT.with_borrow_mut(|kept| {
        *kept = Kept {
            names: scan.names,
            row,
        }
    });
    fields
}

/// An emptied vector's allocation, for fields that borrow from another answer: no element
/// crosses, and std's in-place `collect` keeps the allocation (were it not to, this would
/// only allocate anew).
fn reuse<'b>(mut row: Vec<(RowKey, Option<Cow<'_, str>>)>) -> Vec<(RowKey, Option<Cow<'b, str>>)> {
    row.clear();
    row.into_iter()
        .map(|_| unreachable!("the vector is empty"))
        .collect()
}

/// A position in the answer's text, and the scratch space of one row's fields.
struct Scan<'a> {
    text: &'a str,
    at: usize,
    row: Vec<(RowKey, Option<Cow<'a, str>>)>,
    /// The names of the last row's fields, by position, as sent (when they had no escapes)
    /// through the colon, and resolved: rows name the same columns in the same order, so a
    /// name that matches the last row's is neither scanned nor looked up again.
    names: Vec<Option<(Box<str>, RowKey)>>,
}

impl<'a> Scan<'a> {
    /// The whole answer: an object of scalars and `list`, and nothing after it.
    fn answer<L: ListItem>(&mut self) -> Option<Fields<L>> {
        let mut fields = Fields::default();
        self.skip_space();
        self.expect(b'{')?;
        self.members(Self::name, |scan, name| {
            if name.eq_ignore_ascii_case("list") {
                fields.list = Some(scan.list()?);
            } else {
                let value = scan.scalar()?;
                fields.scalars.insert(&name, value);
            }
            Some(())
        })?;
        self.skip_space();
        (self.at == self.text.len()).then_some(fields)
    }

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

    /// A member's name and colon (its `"` read), wherever it stands.
    fn name(&mut self, _: usize) -> Option<Cow<'a, str>> {
        let name = self.string()?;
        self.colon()?;
        Some(name)
    }

    /// The colon after a member's name, and the space around it.
    fn colon(&mut self) -> Option<()> {
        self.skip_space();
        self.expect(b':')?;
        self.skip_space();
        Some(())
    }

    /// The word `word` (after its first byte was seen).
    fn word(&mut self, word: &str) -> Option<()> {
        let end = self.at + word.len();
        (self.text.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// The members of an object whose `{` was read, through its `}`: each one's name and colon
    /// read by `name` (given the member's position; its `"` read), then the name handed to
    /// `member`. Returns how many there were.
    fn members<N>(
        &mut self,
        mut name: impl FnMut(&mut Self, usize) -> Option<N>,
        mut member: impl FnMut(&mut Self, N) -> Option<()>,
    ) -> Option<usize> {
        self.skip_space();
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(0);
        }
        for n in 1.. {
            self.skip_space();
            self.expect(b'"')?;
            let name = name(self, n - 1)?;
            self.skip_space();
            member(self, name)?;
            self.skip_space();
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(n);
                }
                _ => return None,
            }
        }
        None
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
                self.members(Self::name, |scan, _| {
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
        let item = self
            .row_fields(&mut row)
            .map(|()| L::from_fields(row.drain(..)));
        self.row = row;
        item
    }

    /// The fields of a row whose `{` was read, through its `}`.
    fn row_fields(&mut self, row: &mut Vec<(RowKey, Option<Cow<'a, str>>)>) -> Option<()> {
        let count = self.members(Self::row_key, |scan, key| {
            row.push((key, scan.scalar()?));
            Some(())
        })?;
        self.names.truncate(count);
        Some(())
    }

    /// The name and colon of field `n` of a row (its `"` read): the last row's field `n` when
    /// the text spells it exactly, else scanned, resolved and remembered.
    fn row_key(&mut self, n: usize) -> Option<RowKey> {
        if let Some(Some((head, key))) = self.names.get(n) {
            let end = self.at + head.len();
            if self.text.get(self.at..end) == Some(&**head) {
                self.at = end;
                return Some(key.clone());
            }
        }
        let start = self.at;
        let (key, plain) = match self.string()? {
            Cow::Borrowed(name) => (RowKey::of(name), true),
            Cow::Owned(name) => (RowKey::of_owned(name), false),
        };
        self.colon()?;
        // Remembered as spelled through the colon: `FirstName":`, the usual `"FirstName":`.
        let head = &self.text[start..self.at];
        let remembered =
            (plain && head.len() <= MAX_REMEMBERED_NAME).then(|| (Box::from(head), key.clone()));
        if n < self.names.len() {
            self.names[n] = remembered;
        } else if n < MAX_REMEMBERED {
            self.names.push(remembered);
        }
        Some(key)
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
        let start = self.at;
        let end = stop(self.text.as_bytes(), start)?;
        match self.text.as_bytes()[end] {
            b'"' => {
                self.at = end + 1;
                Some(Cow::Borrowed(&self.text[start..end]))
            }
            b'\\' => self.escaped_string(start).map(Cow::Owned),
            _ => None,
        }
    }

    /// A string with escapes, decoded (a bad escape or a lone surrogate is left to serde_json).
    fn escaped_string(&mut self, start: usize) -> Option<String> {
        let bytes = self.text.as_bytes();
        let mut out = String::new();
        let mut at = start;
        loop {
            let end = stop(bytes, at)?;
            out.push_str(&self.text[at..end]);
            match bytes[end] {
                b'"' => {
                    self.at = end + 1;
                    return Some(out);
                }
                b'\\' => {}
                _ => return None,
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

/// Where the first byte at or after `from` is that ends a plain run of string: `"`, `\\` or a
/// control character (below 0x20, which JSON strings may not hold), found eight bytes at a
/// time (the lowest flagged byte of a word is always a true one).
fn stop(bytes: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |word: u64| word.wrapping_sub(ONES) & !word;
    let mut at = from;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let flags = (zero_byte(word ^ (ONES * u64::from(b'"')))
            | zero_byte(word ^ (ONES * u64::from(b'\\')))
            | (word.wrapping_sub(ONES * 0x20) & !word))
            & HIGHS;
        if flags != 0 {
            return Some(at + (flags.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let rest = bytes.get(at..)?;
    rest.iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|n| at + n)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::upstream::wire::Row;
    use crate::upstream::wire::row::Scalars;

    /// An answer's envelope scalars and its rows.
    type Read = (Scalars, Option<Vec<Row>>);

    /// What serde_json reads (the reference), as fields.
    fn by_serde(text: &str) -> Option<Read> {
        let fields = super::super::envelope::serde_fields::<Row>(text).ok()?;
        Some((fields.scalars, fields.list))
    }

    /// What the scan reads.
    fn by_scan(text: &str) -> Option<Read> {
        let fields = answer::<Row>(text)?;
        Some((fields.scalars, fields.list))
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
            Just("\"total\"".to_owned()),
            Just("\"Error\"".to_owned()),
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
            super::super::assert_json_readers_agree(&text);
        }
    }

    #[test]
    fn the_answers_contactnow_sends_are_read_here() {
        for text in [
            r#"{"success":true,"total":5,"list":[{"id":"550431","FirstName":"Jo\u00e9 \/ \"J\"","URN":null,"n":12}]}"#,
            r#"{"success":1,"list":{"0":{"id":"1"},"1":{"id":"2"}}}"#,
            r#" {"success":false,"error":"Expired token","list":null} "#,
            r#"{"success":true,"list":[{"name":"\ud83d\ude00"}]}"#,
            r#"{"list":[{"id":"1","ab":"x"},{"id":"2","abc":"y"},{"ids":"3","ab":"z"},{"id":"4","a\u0062":"w","c":1},{"id":"5","ab":"v"}]}"#,
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
        for (text, stop_at) in [
            (&b"abcdefgh\x1fijk"[..], Some(8)),
            (b"abcdefghij\n", Some(10)),
            (b"ab\"cdefghij\n", Some(2)),
            (b"abcdefghijklm\\", Some(13)),
            ("abcdefghijklmnop é \u{7f}".as_bytes(), None),
            (b"", None),
        ] {
            assert_eq!(stop(text, 0), stop_at, "{text:?}");
        }
    }
}
