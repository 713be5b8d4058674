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
//!
//! - `args`: [`Args`], `Request` and [`read_request`].
//! - `payload`: [`Row`], `PayloadError`, [`parse_json_rows`], [`parse_xml_rows`].
//! - `answer`: [`Format`], [`Envelope`], [`Cell`], [`ReadRow`], [`write_read_answer`].

mod answer;
mod args;
mod payload;

pub(super) use answer::{Cell, Envelope, Format, ReadRow, TextRow, write_read_answer};
pub(super) use args::{Args, read_request};
#[cfg(test)]
pub(super) use payload::PayloadError;
pub(super) use payload::{Row, parse_json_rows, parse_xml_rows};
