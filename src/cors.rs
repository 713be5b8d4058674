//! Browsers (CORS): which web origins may call the gateway, and the headers they get.
//!
//! [`layer`] is `actix-cors` configured from `GATEWAY_CORS_ORIGINS`; [`shape_answers`] sits just
//! outside it and makes its answers the contract's: a granted preflight is `204` with the
//! route's own methods, a refused one is a `403` problem, and an answer to anyone but a listed
//! origin carries no `Access-Control-*` header at all. Both are off when no origin is listed
//! (then nothing of CORS is added, and a preflight is answered like any other `OPTIONS`).
//!
//! Invariants: origins are compared exactly (scheme, host, port as a browser serialises them);
//! `*` is never accepted, since tokens travel in `Authorization` and any site could use them.

use actix_cors::Cors;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::{Condition, Next};
use actix_web::{ResponseError, web};
use url::Url;

use crate::api::RouteTable;
use crate::error::ConfigError;
use crate::error::Error;

/// The setting that lists the origins.
pub const ORIGINS_SETTING: &str = "GATEWAY_CORS_ORIGINS";

/// How long a browser may cache a granted preflight, in seconds.
pub const PREFLIGHT_MAX_AGE_SECONDS: usize = 600;

/// Request headers a page may send (besides the CORS-safelisted ones).
pub const ALLOWED_REQUEST_HEADERS: [&str; 6] = [
    "authorization",
    "content-type",
    "idempotency-key",
    "prefer",
    "traceparent",
    "x-request-id",
];

/// Response headers a page may read (besides the CORS-safelisted ones).
pub const EXPOSED_RESPONSE_HEADERS: [&str; 5] = [
    "location",
    "x-request-id",
    "retry-after",
    "idempotent-replayed",
    "preference-applied",
];

/// Every method some route takes; a preflight answer narrows it to the route's own.
const ROUTE_METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

/// The origins whose pages may call the gateway (`GATEWAY_CORS_ORIGINS`); empty turns CORS off.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CorsSettings {
    /// Exact origins, each as a browser sends it in `Origin` (`https://crm.example.com`).
    pub origins: Vec<String>,
}

impl CorsSettings {
    /// Parses a comma list of origins; blank items are skipped, `*` and anything that is not
    /// exactly an origin (a path, a trailing slash, upper case, a default port) are refused
    /// with a line naming the setting.
    pub fn parse(value: Option<&str>) -> Result<Self, ConfigError> {
        let origins = value
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(parse_origin)
            .collect::<Result<_, _>>()?;
        Ok(Self { origins })
    }

    /// Whether any origin is listed.
    pub fn enabled(&self) -> bool {
        !self.origins.is_empty()
    }
}

fn parse_origin(item: &str) -> Result<String, ConfigError> {
    if item.contains('*') {
        return Err(ConfigError(format!(
            "{ORIGINS_SETTING}: `*` is refused (tokens travel in Authorization); list exact \
             origins such as https://crm.example.com"
        )));
    }
    let serialised = Url::parse(item)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https"))
        .map(|url| url.origin().ascii_serialization());
    match serialised {
        Some(origin) if origin == item => Ok(origin),
        Some(origin) if origin != "null" && format!("{origin}/") != item => Err(ConfigError(
            format!("{ORIGINS_SETTING}: `{item}` is not an exact origin; did you mean `{origin}`?"),
        )),
        Some(origin) if origin != "null" => Err(ConfigError(format!(
            "{ORIGINS_SETTING}: `{item}` is not an exact origin; write it as `{origin}` \
             (no trailing slash)"
        ))),
        _ => Err(ConfigError(format!(
            "{ORIGINS_SETTING}: `{item}` is not an origin like https://crm.example.com \
             (scheme://host[:port])"
        ))),
    }
}

/// `actix-cors` for the listed origins (a pass-through when none are listed). Build it inside
/// the server factory: it is per worker.
pub fn layer(settings: &CorsSettings) -> Condition<Cors> {
    let mut cors = Cors::default()
        .allowed_methods(ROUTE_METHODS)
        .allowed_headers(ALLOWED_REQUEST_HEADERS.map(HeaderName::from_static))
        .expose_headers(EXPOSED_RESPONSE_HEADERS.map(HeaderName::from_static))
        .max_age(PREFLIGHT_MAX_AGE_SECONDS)
        .block_on_origin_mismatch(false);
    for origin in &settings.origins {
        cors = cors.allowed_origin(origin);
    }
    Condition::new(settings.enabled(), cors)
}

/// Whether `request` is a CORS preflight: `OPTIONS` with `Origin` and
/// `Access-Control-Request-Method` (what `actix-cors` answers itself).
fn is_preflight(request: &ServiceRequest) -> bool {
    let headers = request.headers();
    request.method() == Method::OPTIONS
        && headers.contains_key(header::ORIGIN)
        && headers
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|value| Method::from_bytes(value.as_bytes()).ok())
            .is_some()
}

/// Wraps [`layer`] (only when origins are listed): a granted preflight becomes `204` listing
/// the route's methods, a refused one a `403` problem, and an answer without
/// `Access-Control-Allow-Origin` loses every other `Access-Control-*` header.
pub async fn shape_answers(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let preflight = is_preflight(&request);
    let route_methods = preflight
        .then(|| request.app_data::<web::Data<RouteTable>>())
        .flatten()
        .and_then(|table| table.allowed(request.path()))
        .map(|methods| methods.join(", "));
    let mut response = next.call(request).await?.map_into_boxed_body();
    let granted = response
        .headers()
        .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN);
    if preflight && !granted {
        let refusal = Error::Forbidden(
            "CORS preflight refused: this origin is not allowed to call the gateway, or the \
             method or headers asked for are not"
                .into(),
        );
        let (request, _) = response.into_parts();
        return Ok(ServiceResponse::new(request, refusal.error_response()));
    }
    if preflight {
        *response.response_mut().status_mut() = StatusCode::NO_CONTENT;
        if let Some(value) = route_methods.and_then(|m| HeaderValue::from_str(&m).ok()) {
            response
                .headers_mut()
                .insert(header::ACCESS_CONTROL_ALLOW_METHODS, value);
        }
    } else if !granted {
        let headers = response.headers_mut();
        let cors_headers: Vec<HeaderName> = headers
            .keys()
            .filter(|name| name.as_str().starts_with("access-control-"))
            .cloned()
            .collect();
        for name in cors_headers {
            headers.remove(name);
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_origins_are_kept_and_blank_items_skipped() {
        let settings =
            CorsSettings::parse(Some(" https://crm.example.com, http://127.0.0.1:5173 ,")).unwrap();
        assert_eq!(
            settings.origins,
            ["https://crm.example.com", "http://127.0.0.1:5173"]
        );
        assert!(!CorsSettings::parse(None).unwrap().enabled());
        assert!(!CorsSettings::parse(Some("")).unwrap().enabled());
    }

    #[test]
    fn wildcards_and_malformed_origins_name_the_setting() {
        for bad in [
            "*",
            "https://*.example.com",
            "https://crm.example.com/",
            "https://crm.example.com/app",
            "https://CRM.example.com",
            "https://crm.example.com:443",
            "crm.example.com",
            "ftp://crm.example.com",
            "https://crm.example.com?x=1",
            "null",
        ] {
            let error = CorsSettings::parse(Some(bad)).unwrap_err();
            assert!(
                error.0.starts_with("GATEWAY_CORS_ORIGINS: "),
                "{bad}: {error}"
            );
        }
        let error = CorsSettings::parse(Some("https://crm.example.com/")).unwrap_err();
        assert!(error.0.contains("`https://crm.example.com`"), "{error}");
    }
}
