//! Sending one request: the circuit breaker's admission, the HTTP status, and an answer read
//! whole within [`MAX_ANSWER_BYTES`].

use bytes::Bytes;

use super::{ContactNowClient, MAX_ANSWER_BYTES};
use crate::error::Error;

/// A failed exchange, by what it says about the upstream's availability.
pub(super) enum Failure {
    /// The upstream is unreachable or broken: a connect error, a timeout, an HTTP 5xx, a
    /// redirect, an answer that cannot be read whole. Counts against the circuit breaker.
    Unavailable(Error),
    /// The upstream answered HTTP 4xx (e.g. 414 for a URL too long): it is up and refused this
    /// one request, which a caller shaped. Never counts against the breaker, so no caller can
    /// open it for everyone; the caller gets a 502. Carries the answer's status.
    Refused(reqwest::StatusCode, Error),
}

/// Maps a transport error, without its URL (it carries the token).
fn transport_error(error: reqwest::Error) -> Error {
    if error.is_timeout() {
        Error::UpstreamTimeout
    } else if error.is_connect() {
        Error::UpstreamUnavailable(format!("connect: {}", error.without_url()))
    } else {
        Error::UpstreamFailed(format!("transport: {}", error.without_url()))
    }
}

impl ContactNowClient {
    /// Sends a request and reads a 2xx answer of at most [`MAX_ANSWER_BYTES`]. Only
    /// availability failures count against the circuit breaker (see [`Failure`]).
    pub(super) async fn send(&self, request: reqwest::RequestBuilder) -> Result<Bytes, Error> {
        self.send_judged(request)
            .await
            .map_err(|(Failure::Unavailable(error) | Failure::Refused(_, error))| error)
    }

    /// [`Self::send`], its failure told apart by what it says about the upstream.
    pub(super) async fn send_judged(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<Bytes, Failure> {
        let permit = self.breaker.admit().map_err(Failure::Unavailable)?;
        let result = self.receive(request).await;
        permit.report(!matches!(result, Err(Failure::Unavailable(_))));
        self.metrics.set_circuit_state(self.breaker.state_code());
        result
    }

    async fn receive(&self, request: reqwest::RequestBuilder) -> Result<Bytes, Failure> {
        let unavailable = |error: reqwest::Error| Failure::Unavailable(transport_error(error));
        let too_large = || Failure::Unavailable(Error::UpstreamFailed("answer too large".into()));
        let mut response = request.send().await.map_err(unavailable)?;
        let status = response.status();
        if status.is_redirection() {
            return Err(Failure::Unavailable(Error::UpstreamFailed(format!(
                "redirect ({status}) not followed"
            ))));
        }
        if status.is_client_error() {
            return Err(Failure::Refused(
                status,
                Error::UpstreamFailed(format!("HTTP {status}: ContactNow refused the request")),
            ));
        }
        if !status.is_success() {
            return Err(Failure::Unavailable(Error::UpstreamFailed(format!(
                "HTTP {status}"
            ))));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
        {
            return Err(too_large());
        }
        // An answer in one chunk (the usual case) is kept as it came, not copied.
        let mut answer = match response.chunk().await.map_err(unavailable)? {
            None => return Ok(Bytes::new()),
            Some(first) => match response.chunk().await.map_err(unavailable)? {
                None if first.len() <= MAX_ANSWER_BYTES => return Ok(first),
                None => return Err(too_large()),
                Some(second) => [first, second].concat(),
            },
        };
        loop {
            if answer.len() > MAX_ANSWER_BYTES {
                return Err(too_large());
            }
            match response.chunk().await.map_err(unavailable)? {
                Some(more) => answer.extend_from_slice(&more),
                None => return Ok(Bytes::from(answer)),
            }
        }
    }
}
