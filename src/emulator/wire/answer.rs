//! Answers: the envelope every call answers with and the rows of a read, in either [`Format`],
//! JSON escaped as PHP's `json_encode` does (`\/` and `\uXXXX` for every non-ASCII character).

use std::fmt::{self, Write as _};

/// The XML declaration that opens every XML answer.
const XML_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n";

/// The answer format chosen by the `format` argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::emulator) enum Format {
    /// `application/json`, the default.
    Json,
    /// `text/xml; charset=utf-8`.
    Xml,
}

impl Format {
    /// Reads a `format` argument: absent or empty means JSON, an unknown value is `None`.
    pub(in crate::emulator) fn from_arg(value: Option<&str>) -> Option<Self> {
        match value {
            None | Some("") => Some(Self::Json),
            Some(v) if v.eq_ignore_ascii_case("json") => Some(Self::Json),
            Some(v) if v.eq_ignore_ascii_case("xml") => Some(Self::Xml),
            Some(_) => None,
        }
    }

    /// The `Content-Type` of answers in this format.
    pub(in crate::emulator) fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Xml => "text/xml; charset=utf-8",
        }
    }

    /// A body that starts like an answer in this format and breaks off.
    pub(in crate::emulator) fn garbage(self) -> &'static str {
        match self {
            Self::Json => "{\"success\":tr",
            Self::Xml => {
                "<html>\n<b>Fatal error</b>: Allowed memory size exhausted in <b>ecnow.php</b>"
            }
        }
    }
}

/// The fields of an answer envelope; the absent ones are left out of the answer.
#[derive(Clone, Copy, Debug, Default)]
pub(in crate::emulator) struct Envelope<'a> {
    /// `true` / `1`, or `false` / `0`.
    pub(in crate::emulator) success: bool,
    /// The access token (token.php `get`).
    pub(in crate::emulator) token: Option<&'a str>,
    /// The account that ran the call (writes).
    pub(in crate::emulator) account_id: Option<&'a str>,
    /// Records affected, or matched by a read.
    pub(in crate::emulator) total: Option<usize>,
    /// Records refused.
    pub(in crate::emulator) bad: Option<usize>,
    /// The created record's id (creates only).
    pub(in crate::emulator) key: Option<u64>,
    /// What failed.
    pub(in crate::emulator) error: Option<&'a str>,
    /// What happened to the record on the dialer.
    pub(in crate::emulator) info: Option<&'a str>,
    /// A token's expiry in unix seconds, or `-1`.
    pub(in crate::emulator) expire: Option<i64>,
}

impl<'a> Envelope<'a> {
    /// `success: false` with this error.
    pub(in crate::emulator) fn failure(error: &'a str) -> Self {
        Self {
            error: Some(error),
            ..Self::default()
        }
    }

    /// Writes the whole answer.
    pub(in crate::emulator) fn write(&self, format: Format) -> String {
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
pub(in crate::emulator) enum Cell<'a> {
    /// A string.
    Text(&'a str),
    /// A number, shown as a string.
    Number(u64),
    /// JSON `null` (an unset URN).
    Null,
}

/// One row of a read answer.
pub(in crate::emulator) trait ReadRow {
    /// Calls `visit` with each column's name and value, in the order the row lists them.
    fn visit_columns<'r>(&'r self, visit: &mut dyn FnMut(&'r str, Cell<'r>));
}

/// A read row of named text columns (the rows of the configuration reads).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(in crate::emulator) struct TextRow(pub(in crate::emulator) Vec<(&'static str, String)>);

impl ReadRow for TextRow {
    fn visit_columns<'r>(&'r self, visit: &mut dyn FnMut(&'r str, Cell<'r>)) {
        for (name, value) in &self.0 {
            visit(name, Cell::Text(value));
        }
    }
}

/// Writes a read answer: `success`, `total` (every match) and `list` (the rows kept); in XML
/// each row is an `<item>` element (`ecnow_record` for records, as the vendor's article shows).
pub(in crate::emulator) fn write_read_answer(
    format: Format,
    item: &str,
    total: usize,
    rows: &[impl ReadRow],
) -> String {
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
                    let _ = write!(out, "<{item}>");
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
                    let _ = write!(out, "</{item}>");
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
