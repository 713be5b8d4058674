//! [`Caller`] as an extractor: one `Authorization: Bearer` header, verified, then rate limited.

use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, http::header, web};

use crate::error::Error;

use super::*;

impl FromRequest for Caller {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let authenticator = request.app_data::<web::Data<Authenticator>>().cloned();
        let limiter = request.app_data::<web::Data<CallerLimiter>>().cloned();
        let token = bearer_token(request);
        Box::pin(async move {
            let authenticator = authenticator
                .ok_or_else(|| Error::Internal("no authenticator configured".into()))?;
            let caller = authenticator
                .verify(&token?)
                .await
                .map_err(Error::Unauthenticated)?;
            tracing::Span::current().record("sub", caller.sub.as_str());
            if let Some(limiter) = limiter {
                limiter.check(&caller.sub).await?;
            }
            Ok(caller)
        })
    }
}

/// The bearer token of the one `Authorization` header. Two or more headers are ambiguous
/// credentials and are refused, whichever of them is valid.
fn bearer_token(request: &HttpRequest) -> Result<String, Error> {
    let mut headers = request.headers().get_all(header::AUTHORIZATION);
    let header = headers
        .next()
        .ok_or_else(|| Error::Unauthenticated("no Authorization header".into()))?;
    if headers.next().is_some() {
        return Err(Error::Unauthenticated(
            "more than one Authorization header".into(),
        ));
    }
    let header = header
        .to_str()
        .map_err(|_| Error::Unauthenticated("Authorization header is not text".into()))?;
    match header.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            Ok(token.trim().to_owned())
        }
        _ => Err(Error::Unauthenticated(
            "Authorization is not a Bearer token".into(),
        )),
    }
}
