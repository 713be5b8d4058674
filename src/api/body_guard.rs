//! Middleware: a request body left unread when the answer is written closes the connection.
//!
//! actix-http drains a chunked body whose payload was dropped unread, with no timer, for as long
//! as the caller keeps sending; a caller trickling one byte at a time would hold the connection
//! forever on any route that answers without reading the body (a refused credential, a GET, a
//! 404). This middleware holds the request's payload in the answer instead: when the answer is
//! written and the payload is neither read to its end nor dropped, actix-http adds
//! `Connection: close` and closes the connection after it. A body read to its end changes
//! nothing (the connection stays open for the next request).

use std::cell::RefCell;
use std::fmt;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{HttpMessage, HttpResponse, ResponseError};
use futures_util::Stream;

/// The request payload, shared by the handlers (which read it) and the answer (which holds it).
pub type SharedPayload = Rc<RefCell<Payload>>;

/// Gives the handlers a view of the request's payload and keeps the payload itself alive in the
/// answer, so that a body not read to its end closes the connection instead of being drained.
pub async fn hold_unread_body(
    mut request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<HoldingPayload<SharedPayload>>, actix_web::Error> {
    let held = match request.take_payload() {
        Payload::None => None,
        payload => {
            let shared = Rc::new(RefCell::new(payload));
            request.set_payload(Payload::Stream {
                payload: Box::pin(PayloadView(shared.clone())),
            });
            Some(shared)
        }
    };
    match next.call(request).await {
        Ok(response) => Ok(response
            .map_into_boxed_body()
            .map_body(|_, body| HoldingPayload {
                body,
                _payload: held,
            })),
        Err(error) => Err(HeldError::refuse(error, held)),
    }
}

/// A refusal whose answer holds the request's payload (if any) until the answer is written, so
/// that a payload not read to its end closes the connection instead of being drained.
pub(crate) struct HeldError<P> {
    error: actix_web::Error,
    payload: RefCell<Option<P>>,
}

impl<P: Unpin + 'static> HeldError<P> {
    /// `error`, its answer holding `payload` (if any).
    pub(crate) fn refuse(
        error: impl Into<actix_web::Error>,
        payload: Option<P>,
    ) -> actix_web::Error {
        Self {
            error: error.into(),
            payload: RefCell::new(payload),
        }
        .into()
    }
}

impl<P> fmt::Debug for HeldError<P> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.error, formatter)
    }
}

impl<P> fmt::Display for HeldError<P> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, formatter)
    }
}

impl<P: Unpin + 'static> ResponseError for HeldError<P> {
    fn status_code(&self) -> StatusCode {
        self.error.as_response_error().status_code()
    }

    fn error_response(&self) -> HttpResponse {
        let held = self.payload.borrow_mut().take();
        self.error.error_response().map_body(|_, body| {
            BoxBody::new(HoldingPayload {
                body,
                _payload: held,
            })
        })
    }
}

/// What the handlers read: the shared payload, chunk by chunk.
struct PayloadView(SharedPayload);

impl Stream for PayloadView {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_next(context)
    }
}

/// An answer's body that keeps the request's payload (if it had one) alive until it is dropped.
pub struct HoldingPayload<P> {
    body: BoxBody,
    _payload: Option<P>,
}

impl<P: Unpin> MessageBody for HoldingPayload<P> {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_next(context)
    }
}
