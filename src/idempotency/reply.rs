//! The answer of a write, as it is sent and as it is stored for replay.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName};
use actix_web::{HttpRequest, HttpResponse, Responder, ResponseError, body::BoxBody};
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The answer header that marks a replayed answer.
pub const REPLAYED_HEADER: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The answer header naming the `Prefer` preference the answer honours (RFC 7240).
pub const PREFERENCE_APPLIED_HEADER: HeaderName = HeaderName::from_static("preference-applied");

/// A write's answer, as sent and as stored for replay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// `Location`, if any.
    pub location: Option<String>,
    /// `Preference-Applied`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preference_applied: Option<String>,
    /// `Content-Type`.
    pub content_type: String,
    /// The body.
    pub body: String,
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: StatusCode, body: &impl Serialize) -> Self {
        Self {
            status: status.as_u16(),
            location: None,
            preference_applied: None,
            content_type: "application/json".into(),
            body: serde_json::to_string(body).expect("answers serialise"),
        }
    }

    /// With a `Location` header.
    pub fn with_location(mut self, location: String) -> Self {
        self.location = Some(location);
        self
    }

    /// With a `Preference-Applied` header naming `preference`.
    pub fn with_preference_applied(mut self, preference: &str) -> Self {
        self.preference_applied = Some(preference.into());
        self
    }

    /// The problem answer of `error`, as stored for replay.
    pub(super) fn problem(error: &Error) -> Self {
        Self {
            status: error.status_code().as_u16(),
            location: None,
            preference_applied: None,
            content_type: "application/problem+json".into(),
            body: serde_json::to_string(&error.problem(&crate::request_id::current()))
                .expect("problems serialise"),
        }
    }

    /// The answer sent the first time.
    pub(super) fn into_response(self) -> Result<HttpResponse, Error> {
        self.build(None)
    }

    /// The answer replayed for a retry, marked with [`REPLAYED_HEADER`].
    pub(super) fn into_replay(self) -> Result<HttpResponse, Error> {
        self.build(Some((REPLAYED_HEADER, "true")))
    }

    /// The answer with `extra` header. A status that is no HTTP status (a corrupt stored entry)
    /// is a 500: a replay never claims a success it cannot show.
    fn build(self, extra: Option<(HeaderName, &str)>) -> Result<HttpResponse, Error> {
        let status = StatusCode::from_u16(self.status)
            .ok()
            .filter(is_answer_status)
            .ok_or_else(|| {
                Error::Internal(format!(
                    "stored idempotent answer has status {}",
                    self.status
                ))
            })?;
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CONTENT_TYPE, self.content_type.as_str()));
        if let Some(location) = self.location {
            response.insert_header((header::LOCATION, location));
        }
        if let Some(preference) = self.preference_applied {
            response.insert_header((PREFERENCE_APPLIED_HEADER, preference));
        }
        if let Some(extra) = extra {
            response.insert_header(extra);
        }
        Ok(response.body(self.body))
    }
}

/// Whether `status` is in one of the five classes an answer can have (1xx to 5xx).
fn is_answer_status(status: &StatusCode) -> bool {
    status.is_informational()
        || status.is_success()
        || status.is_redirection()
        || status.is_client_error()
        || status.is_server_error()
}

impl Responder for Reply {
    type Body = BoxBody;

    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        self.into_response()
            .unwrap_or_else(|error| error.error_response())
    }
}
