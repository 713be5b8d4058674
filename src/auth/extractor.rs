//! [`Caller`] as an extractor: one `Authorization: Bearer` header, verified, then rate limited.

use std::future::{Ready, ready};
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, http::header, web};
use futures_util::future::Either;

use crate::error::Error;

use super::*;

impl FromRequest for Caller {
    type Error = Error;
    type Future =
        Either<Ready<Result<Self, Error>>, Pin<Box<dyn Future<Output = Result<Self, Error>>>>>;

    /// A token verified lately, under a limit kept in memory (or none), is answered at once;
    /// the rest (a signature to check, keys to fetch, a limit in Redis) in a boxed future. The
    /// caller is named in the request's span before its limit is checked, so a `429` names it.
    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(authenticator) = request.app_data::<web::Data<Authenticator>>() else {
            return Either::Left(ready(Err(Error::Internal(
                "no authenticator configured".into(),
            ))));
        };
        let limiter = request.app_data::<web::Data<CallerLimiter>>();
        let token = match bearer_token(request) {
            Ok(token) => token,
            Err(refusal) => return Either::Left(ready(Err(refusal))),
        };
        if let Some(caller) = authenticator.cached_caller(token).map(named) {
            return match limiter {
                None => Either::Left(ready(Ok(caller))),
                Some(limiter) => match limiter.check_here(&caller.sub) {
                    Some(verdict) => Either::Left(ready(verdict.map(|()| caller))),
                    None => {
                        let limiter = limiter.clone();
                        Either::Right(Box::pin(async move {
                            limiter.check(&caller.sub).await?;
                            Ok(caller)
                        }))
                    }
                },
            };
        }
        let authenticator = authenticator.clone();
        let limiter = limiter.cloned();
        let token = token.to_owned();
        Either::Right(Box::pin(async move {
            let caller = named(
                authenticator
                    .verify(&token)
                    .await
                    .map_err(Error::Unauthenticated)?,
            );
            if let Some(limiter) = limiter {
                limiter.check(&caller.sub).await?;
            }
            Ok(caller)
        }))
    }
}

/// `caller`, named in the request's span.
fn named(caller: Caller) -> Caller {
    tracing::Span::current().record("sub", caller.sub.as_str());
    caller
}

/// The bearer token of the one `Authorization` header. Two or more headers are ambiguous
/// credentials and are refused, whichever of them is valid.
fn bearer_token(request: &HttpRequest) -> Result<&str, Error> {
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
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Ok(token.trim()),
        _ => Err(Error::Unauthenticated(
            "Authorization is not a Bearer token".into(),
        )),
    }
}
