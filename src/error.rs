//! The one error type of the gateway and its RFC 9457 problem+json rendering.
//!
//! Every failure, from a malformed query to an upstream that answered nonsense, is an
//! [`Error`]. Each variant has a status, a stable machine `code` and a `detail` that is safe to
//! show: 5xx details speak in general words, and internal context (never a secret, never an
//! upstream URL) goes to the log only.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

/// `Retry-After` of `upstream_auth_failed`, in seconds: `token.php` is asked again at most once
/// per this interval while it refuses the credentials.
pub const RETRY_AFTER_AUTH_FAILED_SECS: u64 = 10;
/// `Retry-After` of an answer about something unavailable (ContactNow, the shared store, a
/// draining gateway), in seconds.
pub const RETRY_AFTER_UNAVAILABLE_SECS: u64 = 5;
/// `Retry-After` of an answer about something busy for a moment (every upstream slot, a key in
/// flight), in seconds.
pub const RETRY_AFTER_BUSY_SECS: u64 = 1;

/// A setting that cannot be used; the message names it and never holds a secret's value.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// One invalid input field, as listed in a problem body's `errors`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// Where the problem is: a body field (`mobile_phone`, `[3].custom.x`), a query parameter or
    /// a path parameter.
    #[schema(example = "mobile_phone")]
    pub field: String,
    /// What is wrong with it.
    #[schema(example = "at least one phone (mobile_phone, home_phone or work_phone) is required")]
    pub message: String,
}

impl FieldError {
    /// A field error for `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Every way a gateway request can fail.
#[derive(Clone, Debug, thiserror::Error)]
pub enum Error {
    /// Malformed input: a body that is not JSON, an unknown query parameter, a bad path id.
    #[error("bad request: {detail}")]
    BadRequest {
        /// What is malformed.
        detail: String,
        /// The fields concerned, when known.
        errors: Vec<FieldError>,
    },
    /// Well-formed input whose fields are invalid.
    #[error("validation failed ({} field errors)", .0.len())]
    Validation(Vec<FieldError>),
    /// No valid bearer token. The reason is logged at debug level, never shown.
    #[error("not authenticated: {0}")]
    Unauthenticated(String),
    /// A valid token that lacks the scope, dataset or table.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Unknown route, record or dataset.
    #[error("not found: {0}")]
    NotFound(String),
    /// The resource's state forbids the change (e.g. an expired dataset); nothing was sent.
    #[error("conflict: {0}")]
    StateConflict(String),
    /// Known route, wrong method; carries the allowed methods.
    #[error("method not allowed")]
    MethodNotAllowed(Vec<String>),
    /// The caller exceeded its rate limit.
    #[error("too many requests")]
    TooManyRequests {
        /// Seconds until a request will be accepted.
        retry_after: u64,
    },
    /// Request body over the configured limit.
    #[error("request body too large (limit {limit} bytes)")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The request body did not arrive whole within the deadline; the connection is closed.
    #[error("request body too slow (deadline {} ms)", .limit.as_millis())]
    BodyTimeout {
        /// The deadline.
        limit: std::time::Duration,
    },
    /// Header fields larger than the limit, in bytes (names and values summed).
    #[error("request header fields too large (limit {limit} bytes)")]
    HeadersTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A body that is not `application/json`.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// An import upload that is neither `text/csv` nor `application/x-ndjson`.
    #[error("unsupported import media type")]
    UnsupportedImportType,
    /// A write with this `Idempotency-Key` is still running.
    #[error("idempotency conflict: idempotency_in_flight")]
    KeyInFlight,
    /// The first write with this `Idempotency-Key` reached ContactNow, but its outcome is unknown.
    #[error("idempotency conflict: idempotency_outcome_unknown")]
    OutcomeUnknown,
    /// An `Idempotency-Key` reused with another request.
    #[error("idempotency key reused with another request")]
    KeyReused,
    /// The shared store (Redis: idempotency keys, cluster-wide limits) cannot be reached;
    /// nothing was sent upstream.
    #[error("store unavailable: {0}")]
    StoreUnavailable(String),
    /// The caller holds its whole share of idempotency keys (`GATEWAY_IDEMPOTENCY_PER_CALLER`);
    /// a new key is refused until one of its keys expires. Nothing was sent upstream.
    #[error("idempotency quota of the caller exceeded")]
    IdempotencyQuotaExceeded {
        /// Seconds until a key may have expired.
        retry_after: u64,
    },
    /// The idempotency store holds `GATEWAY_IDEMPOTENCY_CAPACITY` live keys; a new key is
    /// refused until one expires (live keys are never dropped). Nothing was sent upstream.
    #[error("idempotency store full")]
    IdempotencyStoreFull {
        /// Seconds until the oldest key expires.
        retry_after: u64,
    },
    /// The upstream refused the caller's data (its own words describe the data).
    #[error("upstream rejected the data: {0}")]
    UpstreamRejected(String),
    /// The upstream did not answer within the deadline.
    #[error("upstream timed out")]
    UpstreamTimeout,
    /// The upstream could not be reached.
    #[error("upstream unavailable: {0}")]
    UpstreamUnavailable(String),
    /// ContactNow refused the gateway's API credentials: an operator must act, nothing the caller
    /// sends can change it. The refusal is remembered and `token.php` asked again at most once
    /// per [`RETRY_AFTER_AUTH_FAILED_SECS`]. The string (the upstream's words) is for
    /// the log.
    #[error("upstream refused the API credentials: {0}")]
    UpstreamAuthFailed(String),
    /// Every upstream slot (`CONTACTNOW_MAX_CONCURRENCY`) stayed busy for the queue timeout;
    /// nothing was sent.
    #[error("every upstream slot is busy")]
    UpstreamBusy,
    /// The gateway is draining after a stop signal: it finishes the requests it holds and is
    /// not ready for new ones (`/readyz`).
    #[error("draining")]
    Draining,
    /// The upstream answered with an HTTP error, a redirect, or something that is not a valid
    /// answer. The string is for the log.
    #[error("upstream failed: {0}")]
    UpstreamFailed(String),
    /// ContactNow refused the dataset list of a campaign table (the string), so its rows cannot
    /// be checked against it; a caller limited to tables is shown nothing.
    #[error("the datasets of campaign table {0} cannot be listed")]
    TableUnchecked(String),
    /// A fault inside the gateway. The string is for the log.
    #[error("internal error: {0}")]
    Internal(String),
}

/// An RFC 9457 problem details body, as every error is answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type.
    #[schema(example = "urn:ecnow-gateway:problem:validation_failed")]
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the problem type.
    #[schema(example = "Invalid fields")]
    pub title: String,
    /// The HTTP status code.
    #[schema(example = 422)]
    pub status: u16,
    /// What went wrong with this request.
    #[schema(example = "1 field is invalid")]
    pub detail: String,
    /// A stable machine-readable code.
    #[schema(example = "validation_failed")]
    pub code: String,
    /// The request id (also in `X-Request-Id`).
    #[schema(example = "6f1c2a9e-5b0d-4f63-a3d4-8c2e1b7f9a10")]
    pub request_id: String,
    /// Invalid fields, when the problem is about fields.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl Error {
    /// A [`Error::BadRequest`] about one field.
    pub fn bad_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let error = FieldError::new(field, message);
        Self::BadRequest {
            detail: format!("invalid {}: {}", error.field, error.message),
            errors: vec![error],
        }
    }

    /// The stable machine code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { .. } => "bad_request",
            Self::Validation(_) => "validation_failed",
            Self::Unauthenticated(_) => "unauthenticated",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::StateConflict(_) => "state_conflict",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::BodyTimeout { .. } => "request_timeout",
            Self::HeadersTooLarge { .. } => "headers_too_large",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::UnsupportedMediaType | Self::UnsupportedImportType => "unsupported_media_type",
            Self::KeyInFlight => "idempotency_in_flight",
            Self::OutcomeUnknown => "idempotency_outcome_unknown",
            Self::KeyReused => "idempotency_key_reused",
            Self::StoreUnavailable(_) => "store_unavailable",
            Self::IdempotencyQuotaExceeded { .. } => "idempotency_quota_exceeded",
            Self::IdempotencyStoreFull { .. } => "idempotency_store_full",
            Self::UpstreamRejected(_) => "upstream_rejected",
            Self::UpstreamTimeout => "upstream_timeout",
            Self::UpstreamUnavailable(_) => "upstream_unavailable",
            Self::UpstreamAuthFailed(_) => "upstream_auth_failed",
            Self::UpstreamBusy => "upstream_busy",
            Self::Draining => "draining",
            Self::UpstreamFailed(_) => "upstream_failed",
            Self::TableUnchecked(_) => "table_unchecked",
            Self::Internal(_) => "internal_error",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::BadRequest { .. } => "Malformed request",
            Self::Validation(_) => "Invalid fields",
            Self::Unauthenticated(_) => "Not authenticated",
            Self::Forbidden(_) => "Not allowed",
            Self::NotFound(_) => "Not found",
            Self::StateConflict(_) => "Conflicting state",
            Self::MethodNotAllowed(_) => "Method not allowed",
            Self::PayloadTooLarge { .. } => "Request body too large",
            Self::BodyTimeout { .. } => "Request body too slow",
            Self::HeadersTooLarge { .. } => "Request headers too large",
            Self::TooManyRequests { .. } => "Too many requests",
            Self::UnsupportedMediaType | Self::UnsupportedImportType => "Unsupported media type",
            Self::KeyInFlight | Self::OutcomeUnknown => "Conflicting request",
            Self::KeyReused => "Idempotency key reused",
            Self::StoreUnavailable(_) => "Shared store unavailable",
            Self::IdempotencyQuotaExceeded { .. } => "Too many idempotency keys",
            Self::IdempotencyStoreFull { .. } => "Idempotency store full",
            Self::UpstreamRejected(_) => "Rejected by ContactNow",
            Self::UpstreamTimeout => "ContactNow too slow",
            Self::UpstreamUnavailable(_) => "ContactNow unavailable",
            Self::UpstreamAuthFailed(_) => "ContactNow refused the gateway's credentials",
            Self::UpstreamBusy => "ContactNow busy",
            Self::Draining => "Draining",
            Self::UpstreamFailed(_) => "ContactNow failed",
            Self::TableUnchecked(_) => "Campaign table cannot be checked",
            Self::Internal(_) => "Internal error",
        }
    }

    /// The detail shown to the caller: never internal context, never a secret.
    fn public_detail(&self) -> String {
        match self {
            Self::BadRequest { detail, .. } => detail.clone(),
            Self::Validation(errors) => match errors.len() {
                1 => format!("{}: {}", errors[0].field, errors[0].message),
                n => format!("{n} fields are invalid"),
            },
            Self::Unauthenticated(reason) if reason.is_empty() => {
                "a valid bearer token is required".into()
            }
            // The reason is a fixed phrase naming the failed check, never a piece of the token.
            Self::Unauthenticated(reason) => {
                format!("a valid bearer token is required ({reason})")
            }
            Self::Forbidden(detail) | Self::NotFound(detail) | Self::StateConflict(detail) => {
                detail.clone()
            }
            Self::MethodNotAllowed(allowed) => {
                format!("this route allows {}", allowed.join(", "))
            }
            Self::PayloadTooLarge { limit } => {
                format!("the request body is larger than {limit} bytes")
            }
            Self::BodyTimeout { limit } => format!(
                "the request body did not arrive within {} ms",
                limit.as_millis()
            ),
            Self::HeadersTooLarge { limit } => {
                format!("the request's header fields are larger than {limit} bytes")
            }
            Self::UnsupportedMediaType => "the request body must be application/json".into(),
            Self::UnsupportedImportType => {
                "an import must be text/csv or application/x-ndjson".into()
            }
            Self::TooManyRequests { retry_after } => {
                format!("rate limit reached; retry in {retry_after} s")
            }
            Self::KeyInFlight => {
                "a request with this Idempotency-Key is still running; retry later".into()
            }
            Self::OutcomeUnknown => {
                "the first request with this Idempotency-Key reached ContactNow but its outcome is \
                 unknown; read the records back (by phone or URN) before writing again with a new key"
                    .into()
            }
            Self::KeyReused => {
                "this Idempotency-Key was used with a different request (method, path or body)"
                    .into()
            }
            Self::StoreUnavailable(_) => {
                "the gateway's shared store cannot be reached; nothing was sent to ContactNow"
                    .into()
            }
            Self::IdempotencyQuotaExceeded { retry_after } => format!(
                "this caller holds as many live Idempotency-Keys as it may; nothing was sent, \
                 retry a new key in {retry_after} s (retries of existing keys still work)"
            ),
            Self::IdempotencyStoreFull { retry_after } => format!(
                "the idempotency store is full; nothing was sent, retry a new key in \
                 {retry_after} s (retries of existing keys still work)"
            ),
            Self::UpstreamRejected(message) => message.clone(),
            Self::UpstreamTimeout => "ContactNow did not answer in time".into(),
            Self::UpstreamUnavailable(_) => "ContactNow cannot be reached at the moment".into(),
            Self::UpstreamAuthFailed(_) => {
                "ContactNow refused the gateway's API credentials; an operator must correct them \
                 (nothing in the request can change this)"
                    .into()
            }
            Self::Draining => {
                "the gateway is shutting down: it finishes the requests it holds and takes no new \
                 ones"
                    .into()
            }
            Self::UpstreamBusy => {
                "the gateway's calls to ContactNow are all in use; nothing was sent, retry shortly"
                    .into()
            }
            Self::UpstreamFailed(_) => {
                "ContactNow answered with an error or an invalid answer".into()
            }
            Self::TableUnchecked(table) => format!(
                "ContactNow refused the list of the datasets of campaign table {table}, so its \
                 records cannot be checked against it and a token limited to tables is shown \
                 none; an operator must let the API user read ecnow_datasets"
            ),
            Self::Internal(_) => "the gateway failed to handle the request".into(),
        }
    }

    fn field_errors(&self) -> Vec<FieldError> {
        match self {
            Self::BadRequest { errors, .. } | Self::Validation(errors) => errors.clone(),
            _ => Vec::new(),
        }
    }

    /// The problem body for this error under `request_id`.
    pub fn problem(&self, request_id: &str) -> Problem {
        Problem {
            kind: format!("urn:ecnow-gateway:problem:{}", self.code()),
            title: self.title().into(),
            status: self.status_code().as_u16(),
            detail: self.public_detail(),
            code: self.code().into(),
            request_id: request_id.into(),
            errors: self.field_errors(),
        }
    }
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Validation(_) | Self::UpstreamRejected(_) | Self::KeyReused => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::KeyInFlight | Self::OutcomeUnknown => StatusCode::CONFLICT,
            Self::StoreUnavailable(_) | Self::IdempotencyStoreFull { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::IdempotencyQuotaExceeded { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::StateConflict(_) => StatusCode::CONFLICT,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::UnsupportedMediaType | Self::UnsupportedImportType => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            Self::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Self::UpstreamUnavailable(_)
            | Self::UpstreamAuthFailed(_)
            | Self::UpstreamBusy
            | Self::Draining
            | Self::TableUnchecked(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::UpstreamFailed(_) => StatusCode::BAD_GATEWAY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        match self {
            Self::Unauthenticated(reason) => tracing::debug!(reason, "request not authenticated"),
            _ if status.is_server_error() => tracing::error!(error = %self, "request failed"),
            _ => tracing::debug!(error = %self, "request refused"),
        }
        let request_id = crate::request_id::current();
        let mut response = HttpResponse::build(status);
        response.content_type("application/problem+json");
        match self {
            Self::Unauthenticated(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            Self::MethodNotAllowed(allowed) => {
                if let Ok(value) = HeaderValue::from_str(&allowed.join(", ")) {
                    response.insert_header((header::ALLOW, value));
                }
            }
            Self::UpstreamUnavailable(_)
            | Self::StoreUnavailable(_)
            | Self::Draining
            | Self::TableUnchecked(_) => {
                response.insert_header((header::RETRY_AFTER, RETRY_AFTER_UNAVAILABLE_SECS));
            }
            Self::UpstreamAuthFailed(_) => {
                let retry_after = RETRY_AFTER_AUTH_FAILED_SECS;
                response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
            }
            Self::TooManyRequests { retry_after }
            | Self::IdempotencyQuotaExceeded { retry_after }
            | Self::IdempotencyStoreFull { retry_after } => {
                response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
            }
            Self::UpstreamBusy | Self::KeyInFlight => {
                response.insert_header((header::RETRY_AFTER, RETRY_AFTER_BUSY_SECS));
            }
            Self::BodyTimeout { .. } => {
                // The rest of a slow body would be read as the next request: end the connection.
                response.force_close();
            }
            _ => {}
        }
        response.json(self.problem(&request_id))
    }
}
