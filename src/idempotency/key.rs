//! The `Idempotency-Key` request header: a Structured Field string of 1 to
//! [`MAX_KEY_CHARS`] printable ASCII characters.

use std::future::{Ready, ready};

use actix_web::http::header::HeaderName;
use actix_web::{FromRequest, HttpRequest, dev::Payload};

use crate::error::Error;

/// The request header.
pub const KEY_HEADER: HeaderName = HeaderName::from_static("idempotency-key");
/// The longest key accepted, in characters.
pub const MAX_KEY_CHARS: usize = 255;

/// The `Idempotency-Key` of a request, if it has one: a Structured Field string of 1 to
/// [`MAX_KEY_CHARS`] characters. A malformed header is a 400.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey(pub Option<String>);

impl IdempotencyKey {
    /// Parses the header value (`"…"`, with `\"` and `\\` escapes, printable ASCII).
    pub fn parse(value: &[u8]) -> Result<String, Error> {
        let bad = || {
            Error::bad_field(
                "Idempotency-Key",
                format!("must be a quoted string of 1 to {MAX_KEY_CHARS} characters"),
            )
        };
        let inner = value
            .strip_prefix(b"\"")
            .and_then(|v| v.strip_suffix(b"\""))
            .ok_or_else(bad)?;
        let mut key = String::new();
        let mut bytes = inner.iter();
        while let Some(&byte) = bytes.next() {
            match byte {
                b'\\' => match bytes.next() {
                    Some(&escaped @ (b'"' | b'\\')) => key.push(escaped as char),
                    _ => return Err(bad()),
                },
                b'"' => return Err(bad()),
                0x20..=0x7e => key.push(byte as char),
                _ => return Err(bad()),
            }
        }
        if key.is_empty() || key.len() > MAX_KEY_CHARS {
            return Err(bad());
        }
        Ok(key)
    }
}

impl FromRequest for IdempotencyKey {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let mut values = request.headers().get_all(KEY_HEADER);
        ready(match (values.next(), values.next()) {
            (None, _) => Ok(Self(None)),
            // An empty header is no key (some clients send optional headers empty).
            (Some(value), None) if value.is_empty() => Ok(Self(None)),
            (Some(value), None) => {
                IdempotencyKey::parse(value.as_bytes()).map(|key| Self(Some(key)))
            }
            (Some(_), Some(_)) => Err(Error::bad_field("Idempotency-Key", "given more than once")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_structured_field_strings() {
        assert_eq!(
            IdempotencyKey::parse(br#""8e03978e-40d5-43e8-bc93-6894a57f9324""#).unwrap(),
            "8e03978e-40d5-43e8-bc93-6894a57f9324"
        );
        assert_eq!(IdempotencyKey::parse(br#""a\"b\\c""#).unwrap(), r#"a"b\c"#);
        let long = format!("\"{}\"", "k".repeat(256));
        for bad in [
            &b"abc"[..],
            b"\"\"",
            b"\"a",
            b"\"a\"b\"",
            b"\"\\x\"",
            "\"é\"".as_bytes(),
            long.as_bytes(),
        ] {
            assert!(
                IdempotencyKey::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
