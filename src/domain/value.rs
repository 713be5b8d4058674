//! The values inside writes and reads: phones, custom column names, text the wire can carry,
//! and the dialler fields' values ([`WriteValue`]: outcome codes, callback times, agent
//! references, flags), with the bounds and patterns the OpenAPI document states for them.

use std::fmt;

use chrono::NaiveDateTime;

use super::Column;

/// The longest text value of a [`super::ColumnKind::Text`] column or a custom column, in characters.
pub const MAX_TEXT: usize = 255;
/// The longest [`super::ColumnKind::Notes`] value and `notes_append`, in characters.
pub const MAX_NOTES: usize = 4000;

/// The fewest characters of a phone number.
pub const MIN_PHONE_CHARS: usize = 6;
/// The most characters of a phone number.
pub const MAX_PHONE_CHARS: usize = 20;
/// The characters [`Phone::parse`] takes, as a pattern (the length is [`MIN_PHONE_CHARS`] to
/// [`MAX_PHONE_CHARS`]).
pub const PHONE_PATTERN: &str = "^[ +()\\-]*[0-9][0-9 +()\\-]*$";
/// The longest custom column name.
pub const MAX_CUSTOM_NAME_CHARS: usize = 64;
/// What [`CustomFieldName::parse`] takes, as a pattern (reserved names aside).
pub const CUSTOM_NAME_PATTERN: &str = "^[A-Za-z][A-Za-z0-9_]{0,63}$";

/// The smallest outcome code a write takes.
pub const MIN_OUTCOME_CODE: u32 = 1;
/// The largest outcome code a write takes (nine digits, as reads filter them).
pub const MAX_OUTCOME_CODE: u32 = 999_999_999;
/// What a written `callback_at` looks like: `YYYY-MM-DDTHH:MM:SS`, the account's local time.
pub const CALLBACK_PATTERN: &str =
    "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$";
/// The most digits of an `agent_ref`.
pub const MAX_AGENT_REF_DIGITS: usize = 20;
/// What a written `agent_ref` looks like: digits, not all zeros (the upstream's `0` is "nobody",
/// written as `null`); [`MAX_AGENT_REF_DIGITS`] at most.
pub const AGENT_REF_PATTERN: &str = "^0*[1-9][0-9]*$";

/// A value written to a standard column, typed by the column's kind; only the upstream client
/// spells it the upstream's way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteValue {
    /// Text, a phone or an agent reference, as given.
    Text(String),
    /// An outcome code, [`MIN_OUTCOME_CODE`] to [`MAX_OUTCOME_CODE`].
    Code(u32),
    /// A datetime in the account's local time.
    DateTime(NaiveDateTime),
    /// A flag.
    Flag(bool),
}

/// Parses an outcome code: a JSON integer from [`MIN_OUTCOME_CODE`] to [`MAX_OUTCOME_CODE`].
pub fn outcome_code(value: &serde_json::Value) -> Result<u32, String> {
    // JSON has one number type: `51218.0` is the integer 51218, as JSON Schema's `integer` says.
    value
        .as_u64()
        .or_else(|| {
            value
                .as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(MAX_OUTCOME_CODE))
                .map(|f| f as u64)
        })
        .and_then(|code| u32::try_from(code).ok())
        .filter(|code| (MIN_OUTCOME_CODE..=MAX_OUTCOME_CODE).contains(code))
        .ok_or_else(|| format!("must be an integer from {MIN_OUTCOME_CODE} to {MAX_OUTCOME_CODE}"))
}

/// Parses a callback time: `YYYY-MM-DDTHH:MM:SS` ([`CALLBACK_PATTERN`]), a real date and time.
pub fn callback_time(value: &str) -> Result<NaiveDateTime, String> {
    let shaped = value.len() == 19
        && value.bytes().enumerate().all(|(index, byte)| match index {
            4 | 7 => byte == b'-',
            10 => byte == b'T',
            13 | 16 => byte == b':',
            _ => byte.is_ascii_digit(),
        });
    shaped
        .then(|| NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S").ok())
        .flatten()
        .ok_or_else(|| {
            "must be a date and time as YYYY-MM-DDTHH:MM:SS (the account's local time)".into()
        })
}

/// Parses an agent reference: 1 to [`MAX_AGENT_REF_DIGITS`] digits, not all zeros.
pub fn agent_ref(value: &str) -> Result<String, String> {
    let digits = !value.is_empty() && value.bytes().all(|byte| byte.is_ascii_digit());
    if digits && value.len() <= MAX_AGENT_REF_DIGITS && value.bytes().any(|b| b != b'0') {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "must be the agent's id: 1 to {MAX_AGENT_REF_DIGITS} digits, not all zeros (null for no agent)"
        ))
    }
}

/// Names that a custom column may not take besides the columns' own (see
/// [`is_reserved_name`]), in any letter case: the gateway's body fields and the protocol's
/// arguments and answer fields.
const RESERVED_NAMES: &[&str] = &[
    // gateway body fields that are not columns
    "dataset",
    "table",
    "custom",
    "notes_append",
    // protocol arguments and envelope names
    "token",
    "method",
    "action",
    "format",
    "raw",
    "key",
    "success",
    "total",
    "bad",
    "error",
    "info",
    "list",
    "account_id",
];

/// Whether a custom column may not take `name`: a column's gateway or upstream name, or a
/// [`RESERVED_NAMES`] one, in any letter case. A custom column of such a name would shadow or
/// override a standard one upstream.
fn is_reserved_name(name: &str) -> bool {
    Column::ALL.into_iter().any(|column| column.is_named(name))
        || RESERVED_NAMES
            .iter()
            .any(|reserved| reserved.eq_ignore_ascii_case(name))
}

/// A phone number: 6 to 20 of digits, spaces, `+`, `-`, `(`, `)`, with at least one digit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    /// Parses a phone number.
    pub fn parse(value: &str) -> Result<Self, String> {
        let allowed = value
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')'));
        if !(MIN_PHONE_CHARS..=MAX_PHONE_CHARS).contains(&value.chars().count()) {
            Err("a phone must be 6 to 20 characters long".into())
        } else if !allowed || !value.chars().any(|c| c.is_ascii_digit()) {
            Err("a phone may hold only digits, spaces, +, -, ( and )".into())
        } else {
            Ok(Self(value.to_owned()))
        }
    }

    /// The number as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number as given, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// The name of a custom column: `^[A-Za-z][A-Za-z0-9_]{0,63}$`, not a reserved name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CustomFieldName(String);

impl CustomFieldName {
    /// Parses a custom column name.
    pub fn parse(name: &str) -> Result<Self, String> {
        let mut chars = name.chars();
        let shaped = name.len() <= MAX_CUSTOM_NAME_CHARS
            && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !shaped {
            return Err("a custom field name must match ^[A-Za-z][A-Za-z0-9_]{0,63}$".into());
        }
        if is_reserved_name(name) {
            return Err(format!(
                "`{name}` is a standard field and cannot be a custom one"
            ));
        }
        Ok(Self(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CustomFieldName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
/// Text [`is_wire_text`] takes, as a pattern: no control characters but tab and line breaks, no
/// noncharacters. It names those of the first plane; [`is_wire_text`] refuses those of every
/// plane (U+1FFFE, …), which a pattern without the `u` flag cannot name in a character class.
pub const WIRE_TEXT_PATTERN: &str = "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F\\uFDD0-\\uFDEF\\uFFFE\\uFFFF]*$";

/// Why a text is refused by [`is_wire_text`].
pub const NOT_WIRE_TEXT: &str =
    "must not contain control characters (but tab and line breaks) or Unicode noncharacters";

/// Whether `text` can travel in both wire formats, so that what is accepted does not depend on
/// `CONTACTNOW_FORMAT`: no control character but tab, CR and LF (XML 1.0 cannot carry the C0
/// ones; DEL and C1 are refused alike), and no Unicode noncharacter (U+FDD0 to U+FDEF and the
/// last two code points of every plane; XML 1.0 cannot carry U+FFFE and U+FFFF). Lone
/// surrogates cannot occur in a Rust string.
pub fn is_wire_text(text: &str) -> bool {
    // Printable ASCII (the usual case) is checked bytewise; anything else char by char.
    let printable = text
        .bytes()
        .all(|b| (b' '..0x7f).contains(&b) || matches!(b, b'\t' | b'\n' | b'\r'));
    printable
        || text.chars().all(|c| {
            let code = u32::from(c);
            let noncharacter = (0xFDD0..=0xFDEF).contains(&code) || code & 0xFFFE == 0xFFFE;
            !noncharacter && (!c.is_control() || matches!(c, '\t' | '\n' | '\r'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_code_is_a_json_integer_in_either_spelling() {
        use serde_json::json;
        assert_eq!(outcome_code(&json!(51218)), Ok(51218));
        assert_eq!(outcome_code(&json!(51218.0)), Ok(51218));
        for refused in [
            json!(0),
            json!(0.5),
            json!(1e9),
            json!(-1),
            json!("200"),
            json!(null),
        ] {
            assert!(outcome_code(&refused).is_err(), "{refused} is refused");
        }
    }

    #[test]
    fn the_callback_pattern_bounds_every_position() {
        let pattern = regex::Regex::new(CALLBACK_PATTERN).unwrap();
        assert!(pattern.is_match("2026-12-01T23:59:59"));
        for refused in [
            "6330-83-47T40:68:42",
            "2026-12-00T10:00:00",
            "2026-12-01T24:00:00",
        ] {
            assert!(!pattern.is_match(refused), "{refused}");
        }
    }

    #[test]
    fn every_name_of_a_column_is_reserved_in_any_case() {
        for column in Column::ALL {
            for name in [column.name(), column.read_name(), column.write_name()] {
                assert!(CustomFieldName::parse(name).is_err(), "{name}");
                assert!(
                    CustomFieldName::parse(&name.to_uppercase()).is_err(),
                    "{name}"
                );
            }
        }
        for name in [
            "call_back_sametime",
            "Agent_Specific",
            "notes_append",
            "account_id",
        ] {
            assert!(CustomFieldName::parse(name).is_err(), "{name}");
        }
        for name in ["company_name", "callback_time", "agent", "notes2"] {
            assert!(CustomFieldName::parse(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn text_the_wire_cannot_carry_is_refused() {
        for bad in [
            "\u{0}",
            "a\u{1}",
            "\u{1b}[0m",
            "\u{7f}",
            "\u{85}",
            "\u{FFFE}",
            "\u{FFFF}",
            "\u{FDD0}",
            "\u{FDEF}",
            "\u{1FFFE}",
            "\u{10FFFF}",
        ] {
            assert!(!is_wire_text(bad), "{bad:?}");
        }
        for good in [
            "Joe",
            "a\tb\r\nc",
            "Zoë 東京 🙂",
            "\u{FDCF}",
            "\u{FFFD}",
            "\u{1FFFD}",
        ] {
            assert!(is_wire_text(good), "{good:?}");
        }
    }
}
