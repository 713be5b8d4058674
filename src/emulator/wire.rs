//! What travels on the emulator's wire: query arguments, request payloads and answers.
//!
//! - [`read_request`] gathers a call's arguments as PHP fills `$_REQUEST`: the query string,
//!   then the POST fields of an urlencoded or `multipart/form-data` body (a name sent both ways
//!   takes the body's value). A body that is a JSON array or an XML document is the raw
//!   payload whatever its `Content-Type` says, and never read as fields.
//! - [`Args`] holds those arguments (the last of repeated names wins; `search[<field>]` names
//!   kept whole for [`Args::searches`]).
//! - [`parse_json_rows`] and [`parse_xml_rows`] turn a `raw=1` body into [`Row`]s, refusing
//!   anything malformed, a lone object and any XML document type declaration.
//! - [`Envelope`] and [`write_read_answer`] write answers in either [`Format`], JSON escaped as
//!   PHP's `json_encode` does (`\/` and `\uXXXX` for every non-ASCII character); a read row is
//!   anything that lists its columns as [`Cell`]s ([`ReadRow`]).
//!
//! This module knows nothing of the store: the store reads [`Args`] and [`Row`]s and answers
//! [`ReadRow`]s.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use quick_xml::Reader;
use quick_xml::events::Event;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

const XML_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n";

/// The answer format chosen by the `format` argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Format {
    /// `application/json`, the default.
    Json,
    /// `text/xml; charset=utf-8`.
    Xml,
}

impl Format {
    /// Reads a `format` argument: absent or empty means JSON, an unknown value is `None`.
    pub(super) fn from_arg(value: Option<&str>) -> Option<Self> {
        match value {
            None | Some("") => Some(Self::Json),
            Some(v) if v.eq_ignore_ascii_case("json") => Some(Self::Json),
            Some(v) if v.eq_ignore_ascii_case("xml") => Some(Self::Xml),
            Some(_) => None,
        }
    }

    /// The `Content-Type` of answers in this format.
    pub(super) fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Xml => "text/xml; charset=utf-8",
        }
    }

    /// A body that starts like an answer in this format and breaks off.
    pub(super) fn garbage(self) -> &'static str {
        match self {
            Self::Json => "{\"success\":tr",
            Self::Xml => {
                "<html>\n<b>Fatal error</b>: Allowed memory size exhausted in <b>ecnow.php</b>"
            }
        }
    }
}

/// The decoded arguments of a call: the query string's, then any POST fields.
pub(super) struct Args<'q> {
    pairs: Vec<(Cow<'q, str>, Cow<'q, str>)>,
}

impl<'q> Args<'q> {
    /// Splits and percent-decodes a query string (`+` is a space).
    pub(super) fn parse(query: &'q str) -> Self {
        Self {
            pairs: form_pairs(query).collect(),
        }
    }

    /// Adds the fields of an `application/x-www-form-urlencoded` body after those already
    /// held, so they win over query arguments of the same name.
    fn add_form(&mut self, body: &'q [u8]) {
        match std::str::from_utf8(body) {
            Ok(text) => self.pairs.extend(form_pairs(text)),
            Err(_) => {
                let text = String::from_utf8_lossy(body);
                self.pairs.extend(
                    form_pairs(&text)
                        .map(|(n, v)| (Cow::Owned(n.into_owned()), Cow::Owned(v.into_owned()))),
                );
            }
        }
    }

    /// Adds one POST field after those already held.
    fn push(&mut self, name: String, value: String) {
        self.pairs.push((Cow::Owned(name), Cow::Owned(value)));
    }

    /// The value of the last argument called `name`.
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_ref())
    }

    /// The value of `name`, treating an empty value as absent (PHP's `empty()`).
    pub(super) fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    /// The `search[<field>]=<value>` arguments as `(field, value)`, in order of appearance.
    pub(super) fn searches(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().filter_map(|(name, value)| {
            let field = name.strip_prefix("search[")?.strip_suffix(']')?;
            Some((field, value.as_ref()))
        })
    }
}

/// The `name=value` pairs of a query string or urlencoded body, decoded.
fn form_pairs(text: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    text.split('&').filter(|part| !part.is_empty()).map(|part| {
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        (percent_decode(name), percent_decode(value))
    })
}

/// The media type of urlencoded POST fields.
const URLENCODED: &str = "application/x-www-form-urlencoded";
/// The media type of multipart POST fields.
const MULTIPART: &str = "multipart/form-data";
/// The refusal of a `multipart/form-data` body that cannot be read.
const MALFORMED_MULTIPART: &str = "Bad argument: multipart body";

/// A call as the emulator reads it: its arguments and its raw payload.
pub(super) struct Request<'a> {
    /// Query arguments, then POST fields.
    pub(super) args: Args<'a>,
    /// The body, when it is not multipart fields (what `raw=1` writes read).
    pub(super) payload: &'a [u8],
    /// Set when a multipart body could not be read; its fields may be missing.
    pub(super) refusal: Option<&'static str>,
}

/// Reads a call's arguments from its query string and body.
///
/// - `multipart/form-data`: every part without a file name is a field; the payload is empty.
/// - A body whose first non-blank byte opens a JSON array (`[`) or an XML document (`<`) is the
///   payload whatever its `Content-Type` (the vendor's PHP wrapper labels its JSON writes
///   `application/x-www-form-urlencoded`); it adds no fields.
/// - Any other `application/x-www-form-urlencoded` body adds its fields (and stays the payload,
///   which a write then refuses as malformed).
pub(super) async fn read_request<'a>(
    query: &'a str,
    content_type: Option<&str>,
    body: &'a bytes::Bytes,
) -> Request<'a> {
    let mut request = Request {
        args: Args::parse(query),
        payload: body,
        refusal: None,
    };
    let media_type = content_type
        .and_then(|c| c.split(';').next())
        .map(str::trim)
        .unwrap_or_default();
    if media_type.eq_ignore_ascii_case(MULTIPART) {
        request.payload = &[];
        if add_multipart_fields(&mut request.args, content_type.unwrap_or_default(), body)
            .await
            .is_err()
        {
            request.refusal = Some(MALFORMED_MULTIPART);
        }
        return request;
    }
    let opens_payload = matches!(
        body.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'[' | b'<')
    );
    if !opens_payload && media_type.eq_ignore_ascii_case(URLENCODED) {
        request.args.add_form(body);
    }
    request
}

/// Adds the fields of a `multipart/form-data` body; parts carrying a file name are uploads,
/// not fields, and are skipped.
async fn add_multipart_fields(
    args: &mut Args<'_>,
    content_type: &str,
    body: &bytes::Bytes,
) -> Result<(), multer::Error> {
    let boundary = multer::parse_boundary(content_type)?;
    let whole = body.clone();
    let stream =
        futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(whole) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    while let Some(field) = multipart.next_field().await? {
        let Some(name) = field.name().map(str::to_owned) else {
            continue;
        };
        if field.file_name().is_some() {
            continue;
        }
        let value = field.text().await?;
        args.push(name, value);
    }
    Ok(())
}

fn percent_decode(text: &str) -> Cow<'_, str> {
    if !text.bytes().any(|b| b == b'%' || b == b'+') {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (bytes.get(i + 1), bytes.get(i + 2)) {
                (Some(&hi), Some(&lo)) if hi.is_ascii_hexdigit() && lo.is_ascii_hexdigit() => {
                    out.push(hex_value(hi) << 4 | hex_value(lo));
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => digit - b'A' + 10,
    }
}

/// One record of a write payload: field names and values as sent, in order.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Row(pub(super) Vec<(String, String)>);

impl Row {
    /// The value of the last field whose name equals `name` in any letter case.
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl<'de> Deserialize<'de> for Row {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RowVisitor;

        impl<'de> Visitor<'de> for RowVisitor {
            type Value = Row;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of strings and numbers")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Row, A::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(8).min(64));
                while let Some((name, Scalar(value))) = map.next_entry::<String, Scalar>()? {
                    fields.push((name, value));
                }
                Ok(Row(fields))
            }
        }

        deserializer.deserialize_map(RowVisitor)
    }
}

/// A payload value as PHP would cast it to a string: numbers as written, `true` as `1`,
/// `false` and `null` as empty; arrays and objects are refused.
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;

        impl Visitor<'_> for ScalarVisitor {
            type Value = Scalar;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a number")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_owned()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
                Ok(Scalar(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(if v { "1" } else { "" }.to_owned()))
            }

            fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar(String::new()))
            }

            fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar(String::new()))
            }
        }

        deserializer.deserialize_any(ScalarVisitor)
    }
}

/// Why a write payload was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PayloadError {
    /// A JSON object where an array of objects belongs.
    NotAnArray,
    /// Not well-formed, not the expected shape, or carrying a document type declaration.
    Malformed,
}

impl PayloadError {
    /// The upstream's error text for this refusal.
    pub(super) fn message(self) -> &'static str {
        match self {
            Self::NotAnArray => "Bad argument: payload must be an array",
            Self::Malformed => "Bad argument: payload",
        }
    }
}

/// Reads a JSON payload: an array of objects whose values are strings or numbers.
pub(super) fn parse_json_rows(body: &[u8]) -> Result<Vec<Row>, PayloadError> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => return Err(PayloadError::NotAnArray),
        Some(b'[') => {}
        _ => return Err(PayloadError::Malformed),
    }
    serde_json::from_slice(body).map_err(|_| PayloadError::Malformed)
}

/// Reads an XML payload: `<easycall>` holding one `<ecnow_records>` element per record,
/// each holding one element per field. Entities are never expanded: a document type
/// declaration, or any reference other than the five predefined ones and character
/// references, refuses the payload.
pub(super) fn parse_xml_rows(body: &[u8]) -> Result<Vec<Row>, PayloadError> {
    parse_xml(body).ok_or(PayloadError::Malformed)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum XmlState {
    BeforeRoot,
    InRoot,
    InRecord,
    InField,
    AfterRoot,
}

fn parse_xml(body: &[u8]) -> Option<Vec<Row>> {
    let text = std::str::from_utf8(body).ok()?;
    let mut reader = Reader::from_str(text);
    let mut state = XmlState::BeforeRoot;
    let mut rows = Vec::new();
    let mut row = Row::default();
    let mut field = String::new();
    let mut value = String::new();
    loop {
        match (reader.read_event().ok()?, state) {
            (Event::Decl(_) | Event::Comment(_), _) => {}
            (Event::DocType(_) | Event::PI(_), _) => return None,
            (Event::Start(e), XmlState::BeforeRoot) if e.name().as_ref() == b"easycall" => {
                state = XmlState::InRoot;
            }
            (Event::Empty(e), XmlState::BeforeRoot) if e.name().as_ref() == b"easycall" => {
                state = XmlState::AfterRoot;
            }
            (Event::Start(e), XmlState::InRoot) if e.name().as_ref() == b"ecnow_records" => {
                state = XmlState::InRecord;
            }
            (Event::Empty(e), XmlState::InRoot) if e.name().as_ref() == b"ecnow_records" => {
                rows.push(Row::default());
            }
            (Event::Start(e), XmlState::InRecord) => {
                field = std::str::from_utf8(e.name().as_ref()).ok()?.to_owned();
                value.clear();
                state = XmlState::InField;
            }
            (Event::Empty(e), XmlState::InRecord) => {
                let name = std::str::from_utf8(e.name().as_ref()).ok()?.to_owned();
                row.0.push((name, String::new()));
            }
            (Event::End(_), XmlState::InField) => {
                row.0
                    .push((std::mem::take(&mut field), std::mem::take(&mut value)));
                state = XmlState::InRecord;
            }
            (Event::End(_), XmlState::InRecord) => {
                rows.push(std::mem::take(&mut row));
                state = XmlState::InRoot;
            }
            (Event::End(_), XmlState::InRoot) => state = XmlState::AfterRoot,
            (Event::Text(t), XmlState::InField) => value.push_str(&t.xml10_content().ok()?),
            (Event::CData(t), XmlState::InField) => value.push_str(&t.xml10_content().ok()?),
            (Event::GeneralRef(r), XmlState::InField) => {
                let c = match r.resolve_char_ref().ok()? {
                    Some(c) => c,
                    None => match r.as_ref() {
                        b"lt" => '<',
                        b"gt" => '>',
                        b"amp" => '&',
                        b"quot" => '"',
                        b"apos" => '\'',
                        _ => return None,
                    },
                };
                value.push(c);
            }
            (Event::Text(t), _) if t.iter().all(u8::is_ascii_whitespace) => {}
            (Event::Eof, XmlState::AfterRoot) => return Some(rows),
            _ => return None,
        }
    }
}

/// The fields of an answer envelope; the absent ones are left out of the answer.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Envelope<'a> {
    /// `true` / `1`, or `false` / `0`.
    pub(super) success: bool,
    /// The access token (token.php `get`).
    pub(super) token: Option<&'a str>,
    /// The account that ran the call (writes).
    pub(super) account_id: Option<&'a str>,
    /// Records affected, or matched by a read.
    pub(super) total: Option<usize>,
    /// Records refused.
    pub(super) bad: Option<usize>,
    /// The created record's id (creates only).
    pub(super) key: Option<u64>,
    /// What failed.
    pub(super) error: Option<&'a str>,
    /// What happened to the record on the dialer.
    pub(super) info: Option<&'a str>,
    /// A token's expiry in unix seconds, or `-1`.
    pub(super) expire: Option<i64>,
}

impl<'a> Envelope<'a> {
    /// `success: false` with this error.
    pub(super) fn failure(error: &'a str) -> Self {
        Self {
            error: Some(error),
            ..Self::default()
        }
    }

    /// Writes the whole answer.
    pub(super) fn write(&self, format: Format) -> String {
        let mut out = String::with_capacity(160);
        self.open(format, &mut out);
        close(format, &mut out);
        out
    }

    fn open(&self, format: Format, out: &mut String) {
        match format {
            Format::Json => {
                out.push_str(if self.success {
                    "{\"success\":true"
                } else {
                    "{\"success\":false"
                });
            }
            Format::Xml => {
                out.push_str(XML_DECLARATION);
                out.push_str(if self.success {
                    "<result><success>1</success>"
                } else {
                    "<result><success>0</success>"
                });
            }
        }
        if let Some(token) = self.token {
            text_member(format, out, "token", token);
        }
        if let Some(account) = self.account_id {
            text_member(format, out, "account_id", account);
        }
        if let Some(total) = self.total {
            number_member(format, out, "total", total);
        }
        if let Some(bad) = self.bad {
            number_member(format, out, "bad", bad);
        }
        if let Some(key) = self.key {
            number_member(format, out, "key", key);
        }
        if let Some(error) = self.error {
            text_member(format, out, "error", error);
        }
        if let Some(info) = self.info {
            text_member(format, out, "info", info);
        }
        if let Some(expire) = self.expire {
            number_member(format, out, "expire", expire);
        }
    }
}

fn close(format: Format, out: &mut String) {
    out.push_str(match format {
        Format::Json => "}",
        Format::Xml => "</result>\n",
    });
}

/// A value as a read row shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Cell<'a> {
    /// A string.
    Text(&'a str),
    /// A number, shown as a string.
    Number(u64),
    /// JSON `null` (an unset URN).
    Null,
}

/// One row of a read answer.
pub(super) trait ReadRow {
    /// Calls `visit` with each column's name and value, in the order the row lists them.
    fn visit_columns<'r>(&'r self, visit: &mut dyn FnMut(&'r str, Cell<'r>));
}

/// Writes a read answer: `success`, `total` (every match) and `list` (the rows kept).
pub(super) fn write_read_answer(format: Format, total: usize, rows: &[impl ReadRow]) -> String {
    let mut out = String::with_capacity(64 + rows.len() * 900);
    let envelope = Envelope {
        success: true,
        total: Some(total),
        ..Envelope::default()
    };
    envelope.open(format, &mut out);
    match format {
        Format::Json => {
            out.push_str(",\"list\":[");
            for (i, record) in rows.iter().enumerate() {
                out.push_str(if i == 0 { "{" } else { ",{" });
                let mut first = true;
                record.visit_columns(&mut |name, cell| {
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    json_string(&mut out, name);
                    out.push(':');
                    match cell {
                        Cell::Text(text) => json_string(&mut out, text),
                        Cell::Number(n) => {
                            let _ = write!(out, "\"{n}\"");
                        }
                        Cell::Null => out.push_str("null"),
                    }
                });
                out.push('}');
            }
            out.push(']');
        }
        Format::Xml => {
            if rows.is_empty() {
                out.push_str("<list />");
            } else {
                out.push_str("<list>");
                for record in rows {
                    out.push_str("<ecnow_record>");
                    record.visit_columns(&mut |name, cell| match cell {
                        Cell::Text("") => {
                            let _ = write!(out, "<{name} />");
                        }
                        Cell::Text(text) => {
                            let _ = write!(out, "<{name}>");
                            xml_text(&mut out, text);
                            let _ = write!(out, "</{name}>");
                        }
                        Cell::Number(n) => {
                            let _ = write!(out, "<{name}>{n}</{name}>");
                        }
                        Cell::Null => {
                            let _ = write!(out, "<{name}></{name}>");
                        }
                    });
                    out.push_str("</ecnow_record>");
                }
                out.push_str("</list>");
            }
        }
    }
    close(format, &mut out);
    out
}

fn text_member(format: Format, out: &mut String, name: &str, value: &str) {
    match format {
        Format::Json => {
            let _ = write!(out, ",\"{name}\":");
            json_string(out, value);
        }
        Format::Xml => {
            let _ = write!(out, "<{name}>");
            xml_text(out, value);
            let _ = write!(out, "</{name}>");
        }
    }
}

fn number_member(format: Format, out: &mut String, name: &str, value: impl fmt::Display) {
    let _ = match format {
        Format::Json => write!(out, ",\"{name}\":{value}"),
        Format::Xml => write!(out, "<{name}>{value}</{name}>"),
    };
}

/// Writes a JSON string as PHP's `json_encode` does by default.
fn json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// Writes XML character data; characters XML 1.0 cannot carry become U+FFFD.
fn xml_text(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}
