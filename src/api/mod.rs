//! The REST surface: handlers, their OpenAPI description, and the request plumbing they share.
//!
//! Layout:
//! - [`records`]: the record resources of the contract.
//! - [`datasets`], [`campaigns`], [`outcome_codes`]: the metadata reads (datasets, campaign
//!   tables and fields, outcome codes).
//! - [`body_guard`]: a body left unread closes the connection (every route).
//! - [`imports`]: bulk imports (upload, follow, errors, cancel).
//! - [`health`]: `/healthz` and `/readyz`.
//! - [`index`]: `GET /`, the JSON index.
//! - [`openapi`]: the document, generated from the handlers, and Swagger UI; `constraints`
//!   adds what the derives cannot say, from the domain's own bounds and patterns.
//! - [`responses`]: the problem responses the operations list by name.
//! - here: [`JsonBody`] (the body extractor), [`RouteTable`] (404 or 405), [`routes`].

pub mod body_guard;
pub mod campaigns;
mod constraints;
pub mod datasets;
pub mod health;
pub mod imports;
pub mod index;
pub mod openapi;
pub mod outcome_codes;
pub mod records;
pub mod responses;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde_json::Value;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::Error;
use body_guard::HeldError;

/// Registers every documented route.
///
/// actix tries routes in this order, each templated path by a regex search before its method
/// guard, so the most frequent requests come first: a read by id is matched on the first try
/// (it was the third), at the price of one more try for a page or a create.
pub fn routes(config: &mut ServiceConfig) {
    config
        .service(records::get_dataset_record)
        .service(records::create::create_records)
        .service(records::list_dataset_records)
        .service(records::update_dataset_record)
        .service(records::update_record)
        .service(records::get_campaign_record)
        .service(records::list_campaign_records)
        .service(datasets::list_datasets)
        .service(datasets::get_dataset)
        .service(datasets::create_dataset)
        .service(datasets::update_dataset)
        .service(campaigns::list_campaigns)
        .service(campaigns::list_campaign_fields)
        .service(outcome_codes::list_outcome_codes)
        .service(index::index)
        .service(imports::create_import)
        .service(imports::get_import)
        .service(imports::get_import_errors)
        .service(imports::cancel_import)
        .service(health::healthz)
        .service(health::readyz)
        .service(health::metrics);
}

/// The default request body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// The default deadline for a request body to arrive whole, in milliseconds.
pub const DEFAULT_BODY_TIMEOUT_MS: u64 = 10_000;

/// Request limits shared by the handlers.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The largest request body, in bytes.
    pub body_bytes: usize,
    /// How long the whole body may take to arrive once the handler reads it.
    pub body_timeout: Duration,
}

/// A JSON request body: `application/json` (or `+json`), within [`Limits::body_bytes`], arrived
/// whole within [`Limits::body_timeout`] (else 408 and the connection closes), parsed as JSON but
/// not yet as a domain type.
pub struct JsonBody(pub Value);

impl FromRequest for JsonBody {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limits = request.app_data::<web::Data<Limits>>().map_or(
            Limits {
                body_bytes: DEFAULT_BODY_LIMIT,
                body_timeout: Duration::from_millis(DEFAULT_BODY_TIMEOUT_MS),
            },
            |limits| *limits.get_ref(),
        );
        let limit = limits.body_bytes;
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .map(|mime| mime.trim().to_ascii_lowercase())
            .is_some_and(|mime| {
                mime == "application/json"
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            });
        let declared_too_large = declares_more_than(request, limit);
        let mut payload = payload.take();
        Box::pin(async move {
            let read = async {
                if !is_json {
                    return Err(Error::UnsupportedMediaType);
                }
                if declared_too_large {
                    return Err(Error::PayloadTooLarge { limit });
                }
                let mut body = web::BytesMut::new();
                while let Some(chunk) = payload.next().await {
                    let chunk = chunk.map_err(|e| Error::bad_field("body", e.to_string()))?;
                    if body.len() + chunk.len() > limit {
                        return Err(Error::PayloadTooLarge { limit });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(body)
            };
            // A refused body's answer holds its payload: actix-http then closes the connection
            // instead of draining the rest of a chunked body.
            let outcome = tokio::time::timeout(limits.body_timeout, read).await;
            let body = match outcome {
                Ok(Ok(body)) => body,
                Ok(Err(error)) => return Err(HeldError::refuse(error, Some(payload))),
                Err(_) => {
                    let error = Error::BodyTimeout {
                        limit: limits.body_timeout,
                    };
                    return Err(HeldError::refuse(error, Some(payload)));
                }
            };
            serde_json::from_slice(&body).map(JsonBody).map_err(|e| {
                Error::BadRequest {
                    detail: format!("the body is not valid JSON: {e}"),
                    errors: Vec::new(),
                }
                .into()
            })
        })
    }
}

/// Whether the request's `Content-Length` declares more than `limit` bytes (a missing or
/// unreadable one declares nothing: the body is then counted as it is read).
fn declares_more_than(request: &HttpRequest, limit: usize) -> bool {
    request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<usize>().ok())
        .is_some_and(|length| length > limit)
}

/// The documented paths and their methods, to tell an unknown route (404) from a known route
/// with the wrong method (405 with `Allow`).
#[derive(Clone)]
pub struct RouteTable(Vec<(Vec<Segment>, Vec<String>)>);

/// One `/`-separated segment of a documented path template.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    /// Matches itself only.
    Literal(String),
    /// `{name}`: matches any non-empty segment.
    Parameter,
}

impl RouteTable {
    /// The table of the routes in `doc`.
    pub fn new(doc: &Value) -> Self {
        let empty = serde_json::Map::new();
        let routes = doc["paths"]
            .as_object()
            .unwrap_or(&empty)
            .iter()
            .map(|(template, item)| {
                let segments = template
                    .split('/')
                    .map(|segment| {
                        if segment.starts_with('{') && segment.ends_with('}') {
                            Segment::Parameter
                        } else {
                            Segment::Literal(segment.to_owned())
                        }
                    })
                    .collect();
                let methods = [
                    Method::GET,
                    Method::POST,
                    Method::PUT,
                    Method::PATCH,
                    Method::DELETE,
                ]
                .into_iter()
                .filter(|method| item.get(method.as_str().to_ascii_lowercase()).is_some())
                .map(|method| method.to_string())
                .collect();
                (segments, methods)
            })
            .collect();
        Self(routes)
    }

    /// The methods allowed on `path`, if it is a documented route.
    pub fn allowed(&self, path: &str) -> Option<&[String]> {
        self.0
            .iter()
            .find(|(template, _)| {
                let mut parts = path.split('/');
                template
                    .iter()
                    .all(|segment| match (segment, parts.next()) {
                        (Segment::Literal(literal), Some(part)) => literal == part,
                        (Segment::Parameter, Some(part)) => !part.is_empty(),
                        (_, None) => false,
                    })
                    && parts.next().is_none()
            })
            .map(|(_, methods)| methods.as_slice())
    }
}

/// The answer to every request no route took: 405 for a known route, else 404.
pub async fn fallback(request: HttpRequest) -> Result<HttpResponse, Error> {
    let known = request
        .app_data::<web::Data<RouteTable>>()
        .and_then(|table| table.allowed(request.path()).map(<[String]>::to_vec));
    Err(match known {
        Some(methods) => Error::MethodNotAllowed(methods),
        None => Error::NotFound(format!(
            "no route {} {}",
            crate::metrics::method_label(request.method()),
            request.path()
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_templates_match_whole_segments_only() {
        let doc = serde_json::json!({"paths": {
            "/datasets/{dataset}/records/{id}": {"get": {}, "patch": {}},
            "/datasets": {"get": {}, "post": {}},
        }});
        let table = RouteTable::new(&doc);
        let methods = |path| table.allowed(path).map(<[String]>::to_vec);
        assert_eq!(
            methods("/datasets/100/records/5"),
            Some(vec!["GET".to_owned(), "PATCH".to_owned()])
        );
        assert_eq!(
            methods("/datasets"),
            Some(vec!["GET".to_owned(), "POST".to_owned()])
        );
        for unknown in [
            "/datasets/100/records/5/x",
            "/datasets/100/records/",
            "/datasets//records/5",
            "/datasets/",
            "/dataset",
            "datasets",
            "/",
        ] {
            assert_eq!(methods(unknown), None, "{unknown}");
        }
    }
}
