//! A deadline for reading a request's body: hyper times the head (`--header-read-timeout`) but not the body,
//! so a client that sends a head and then one byte a minute would hold its connection, and its permit of the
//! connection cap, forever. The body is wrapped so that reading it fails once `--body-read-timeout` passed
//! since the head arrived; the handler then answers (a 400 from the extractor) and the connection closes.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use tokio::time::Sleep;

/// Middleware: the request's body must arrive whole within `timeout`.
pub(crate) async fn bound_body(State(timeout): State<Duration>, request: Request, next: Next) -> Response {
    let request = request.map(|body| {
        Body::new(Deadline {
            body,
            expired: Box::pin(tokio::time::sleep(timeout)),
        })
    });
    next.run(request).await
}

/// A body that fails with "timed out" when it has not ended by the time `expired` fires.
struct Deadline {
    body: Body,
    expired: Pin<Box<Sleep>>,
}

impl HttpBody for Deadline {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.body).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        match self.expired.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(TimedOut)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within --body-read-timeout")]
struct TimedOut;
