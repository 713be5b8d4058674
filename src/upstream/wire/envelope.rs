//! The answer envelope shared by `token.php` and `ecnow.php`, and its JSON reader.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::row::{Fields, ListItem, Row, RowKey};
use super::{WireFormat, bad_answer, parse_flag};
use crate::error::Error;

/// The answer envelope shared by `token.php` and `ecnow.php`, its `list` read as rows of `L`.
#[derive(Debug, Default)]
pub struct Envelope<L = Row> {
    /// `success`.
    pub success: bool,
    /// `total`: records affected or matched.
    pub total: Option<u64>,
    /// `bad`: records refused.
    pub bad: Option<u64>,
    /// `key`: the created record's id.
    pub key: Option<u64>,
    /// `error`: the upstream's error text.
    pub error: Option<String>,
    /// `info`: the upstream's information text.
    pub info: Option<String>,
    /// `list`: the rows of a read.
    pub list: Option<Vec<L>>,
    /// `token` (token.php).
    pub token: Option<String>,
    /// `expire`, unix seconds (token.php).
    pub expire: Option<i64>,
    /// `account_id`, when the answer names the account.
    pub account_id: Option<String>,
}

impl<L: ListItem> Envelope<L> {
    /// Parses an answer in `format`.
    pub fn parse(format: WireFormat, body: &[u8]) -> Result<Self, Error> {
        let mut fields = match format {
            WireFormat::Json => json_fields::<L>(body)?,
            WireFormat::Xml => super::xml::fields(body)?.map_rows(),
        };
        let success = match fields.scalars.take("success") {
            Some(Some(flag)) => parse_flag(&flag).ok_or_else(|| bad_answer("success flag"))?,
            _ => return Err(bad_answer("no success flag")),
        };
        let mut text = |name: &str| {
            fields
                .scalars
                .take(name)
                .flatten()
                .filter(|t| !t.is_empty())
        };
        let number = |value: Option<String>, name: &str| -> Result<Option<u64>, Error> {
            value
                .map(|v| {
                    v.trim()
                        .parse::<u64>()
                        .map_err(|_| bad_answer(format!("`{name}` is not a count")))
                })
                .transpose()
        };
        let (total, bad, key) = (text("total"), text("bad"), text("key"));
        let (error, info, token, expire) =
            (text("error"), text("info"), text("token"), text("expire"));
        let account_id = text("account_id");
        Ok(Self {
            success,
            total: number(total, "total")?,
            bad: number(bad, "bad")?,
            key: number(key, "key")?,
            error,
            info,
            list: fields.list,
            account_id,
            token,
            expire: expire
                .map(|v| {
                    v.trim()
                        .parse::<i64>()
                        .map_err(|_| bad_answer("`expire` is not a time"))
                })
                .transpose()?,
        })
    }
}

/// The body is checked as UTF-8 once, whole (a word at a time), and then read as text: read
/// as bytes, every string in it would be checked on its own, a tenth of the cost of a row.
/// The hand-written reader ([`super::scan`]) reads what it is sure of; serde_json the rest.
fn json_fields<L: ListItem>(body: &[u8]) -> Result<Fields<L>, Error> {
    let text =
        std::str::from_utf8(body).map_err(|e| bad_answer(format!("JSON: not UTF-8 ({e})")))?;
    match super::scan::answer(text) {
        Some(fields) => Ok(fields),
        None => serde_fields(text),
    }
}

/// For the fuzz targets and property tests: panics when the hand-written JSON reader
/// (`scan`) reads `text` otherwise than serde_json does, or reads what serde_json refuses.
pub fn assert_json_readers_agree(text: &str) {
    if let Some(scanned) = super::scan::answer::<Row>(text) {
        let reference = serde_fields::<Row>(text)
            .unwrap_or_else(|error| panic!("the scan read what serde_json refuses: {error}"));
        assert!(
            scanned.scalars == reference.scalars && scanned.list == reference.list,
            "the scan read other fields than serde_json"
        );
    }
}

/// A JSON answer's fields as serde_json reads them (the reference for [`super::scan`]).
pub(super) fn serde_fields<L: ListItem>(text: &str) -> Result<Fields<L>, Error> {
    serde_json::from_str::<JsonAnswer<L>>(text)
        .map(|answer| answer.0)
        .map_err(|e| bad_answer(format!("JSON: {e}")))
}

/// A JSON answer read straight into [`Fields`]: no intermediate `serde_json::Value` tree is
/// built (it is on every read's path).
struct JsonAnswer<L>(Fields<L>);

impl<'de, L: ListItem> Deserialize<'de> for JsonAnswer<L> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AnswerVisitor<L>(PhantomData<L>);
        impl<'de, L: ListItem> Visitor<'de> for AnswerVisitor<L> {
            type Value = JsonAnswer<L>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an answer object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonAnswer<L>, A::Error> {
                let mut fields = Fields::default();
                while let Some(name) = map.next_key::<String>()? {
                    if name.eq_ignore_ascii_case("list") {
                        fields.list = Some(map.next_value::<JsonList<L>>()?.0);
                    } else {
                        let Scalar(value) = map.next_value()?;
                        fields.scalars.insert(&name, value);
                    }
                }
                Ok(JsonAnswer(fields))
            }
        }
        deserializer.deserialize_map(AnswerVisitor(PhantomData))
    }
}

/// A JSON scalar as the upstream's text: numbers as written, `true`/`false` as `1`/`0`;
/// borrowed from the answer when it has no escapes.
pub(super) struct Scalar<'de>(pub(super) Option<Cow<'de, str>>);

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl<'de> Visitor<'de> for ScalarVisitor {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar (a nested value where a scalar belongs)")
            }
            fn visit_unit<E>(self) -> Result<Scalar<'de>, E> {
                Ok(Scalar(None))
            }
            fn visit_none<E>(self) -> Result<Scalar<'de>, E> {
                Ok(Scalar(None))
            }
            fn visit_bool<E>(self, flag: bool) -> Result<Scalar<'de>, E> {
                Ok(Scalar(Some(if flag { "1" } else { "0" }.into())))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Scalar<'de>, E> {
                Ok(Scalar(Some(n.to_string().into())))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Scalar<'de>, E> {
                Ok(Scalar(Some(n.to_string().into())))
            }
            fn visit_f64<E>(self, n: f64) -> Result<Scalar<'de>, E> {
                Ok(Scalar(
                    serde_json::Number::from_f64(n).map(|n| n.to_string().into()),
                ))
            }
            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Scalar<'de>, E> {
                Ok(Scalar(Some(Cow::Borrowed(text))))
            }
            fn visit_str<E>(self, text: &str) -> Result<Scalar<'de>, E> {
                Ok(Scalar(Some(Cow::Owned(text.to_owned()))))
            }
            fn visit_string<E>(self, text: String) -> Result<Scalar<'de>, E> {
                Ok(Scalar(Some(Cow::Owned(text))))
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

/// `list`: PHP serialises it as an array, or as an object when its keys are not 0..n; `null`
/// is no rows.
struct JsonList<L>(Vec<L>);

impl<'de, L: ListItem> Deserialize<'de> for JsonList<L> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor<L>(PhantomData<L>);
        impl<'de, L: ListItem> Visitor<'de> for ListVisitor<L> {
            type Value = JsonList<L>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`list` as an array or object of rows")
            }
            fn visit_unit<E>(self) -> Result<JsonList<L>, E> {
                Ok(JsonList(Vec::new()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonList<L>, A::Error> {
                let mut rows = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
                while let Some(JsonRow(row)) = seq.next_element()? {
                    rows.push(L::from_fields(row.into_iter()));
                }
                Ok(JsonList(rows))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonList<L>, A::Error> {
                let mut rows = Vec::new();
                while let Some((IgnoredAny, JsonRow(row))) = map.next_entry()? {
                    rows.push(L::from_fields(row.into_iter()));
                }
                Ok(JsonList(rows))
            }
        }
        deserializer.deserialize_any(ListVisitor(PhantomData))
    }
}

/// One row of `list`: its fields in the order sent.
struct JsonRow<'de>(Vec<(RowKey, Option<Cow<'de, str>>)>);

impl<'de> Deserialize<'de> for JsonRow<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RowVisitor;
        impl<'de> Visitor<'de> for RowVisitor {
            type Value = JsonRow<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a `list` item as an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonRow<'de>, A::Error> {
                let mut row = Vec::with_capacity(map.size_hint().unwrap_or(32).min(256));
                while let Some((key, Scalar(value))) = map.next_entry::<RowKey, Scalar>()? {
                    row.push((key, value));
                }
                Ok(JsonRow(row))
            }
        }
        deserializer.deserialize_map(RowVisitor)
    }
}
