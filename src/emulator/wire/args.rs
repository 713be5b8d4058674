//! A call's arguments, gathered as PHP fills `$_REQUEST`: the query string, then the POST
//! fields of an urlencoded or `multipart/form-data` body.

use std::borrow::Cow;

/// The decoded arguments of a call: the query string's, then any POST fields.
pub(in crate::emulator) struct Args<'q> {
    pairs: Vec<(Cow<'q, str>, Cow<'q, str>)>,
}

impl<'q> Args<'q> {
    /// Splits and percent-decodes a query string (`+` is a space).
    pub(in crate::emulator) fn parse(query: &'q str) -> Self {
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
    pub(in crate::emulator) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_ref())
    }

    /// The value of `name`, treating an empty value as absent (PHP's `empty()`).
    pub(in crate::emulator) fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    /// The `search[<field>]=<value>` arguments as `(field, value)`, in order of appearance.
    pub(in crate::emulator) fn searches(&self) -> impl Iterator<Item = (&str, &str)> {
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
pub(in crate::emulator) struct Request<'a> {
    /// Query arguments, then POST fields.
    pub(in crate::emulator) args: Args<'a>,
    /// The body, when it is not multipart fields (what `raw=1` writes read).
    pub(in crate::emulator) payload: &'a [u8],
    /// Set when a multipart body could not be read; its fields may be missing.
    pub(in crate::emulator) refusal: Option<&'static str>,
}

/// Reads a call's arguments from its query string and body.
///
/// - `multipart/form-data`: every part without a file name is a field; the payload is empty.
/// - A body whose first non-blank byte opens a JSON array (`[`) or an XML document (`<`) is the
///   payload whatever its `Content-Type` (the vendor's PHP wrapper labels its JSON writes
///   `application/x-www-form-urlencoded`); it adds no fields.
/// - Any other `application/x-www-form-urlencoded` body adds its fields (and stays the payload,
///   which a write then refuses as malformed).
pub(in crate::emulator) async fn read_request<'a>(
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
