//! The live follow of `GET /api/v1/sessions/{id}/events` with `Accept: text/event-stream`, and of the web
//! UI's `GET /sessions/{id}/live`: one loop ([`follow_with`]), the message it sends for an event and for the
//! end chosen by a [`Render`] (JSON for the API, HTML fragments for the UI).

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use protocol::{Event, SessionId};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::follow::Hub;
use crate::http::AppState;
use crate::store::SessionRow;

const FOLLOW_PAGE: u32 = 500;

/// How long a follow waits at a gap below a finished session's last event for the missing events (a
/// supervisor has up to two batches in flight, so `session.finished` can be stored before the batch before
/// it) before sending what follows the gap and ending. A supervisor retries a failed batch within 5 s.
const GAP_GRACE: Duration = Duration::from_secs(10);

type Sender = mpsc::Sender<Result<SseEvent, Infallible>>;

/// How a follow writes its messages. `&mut self`: a renderer may remember what it sent (the UI pairs a live
/// tool result with its call).
pub(crate) trait Render: Send + 'static {
    /// The message of one event.
    fn event(&mut self, event: &Event) -> SseEvent;
    /// The last message, once the session is finished and every event was sent.
    fn end(&mut self, row: &SessionRow) -> SseEvent;
}

/// The API's messages: `id: <seq>`, `event: <type>`, `data: <Event as JSON>`; `event: end` with the session.
struct ApiMessages;

impl Render for ApiMessages {
    fn event(&mut self, event: &Event) -> SseEvent {
        sse_event(event)
    }

    fn end(&mut self, row: &SessionRow) -> SseEvent {
        let data = serde_json::to_string(&row.to_detail()).expect("sessions serialise");
        SseEvent::default().event("end").data(data)
    }
}

/// The API's SSE stream (see [`follow_with`]).
pub(crate) fn follow(state: AppState, id: SessionId, after: Option<u64>) -> Response {
    follow_with(state, id, after, ApiMessages)
}

/// The SSE stream: every event after `after` in seq order, then live ones, then `end`.
///
/// It sends only up to the highest seq stored with no gap below (`acked_seq`), so a batch committed out of
/// order can never make a follower skip a seq; once the session is finished and has no gap (or a gap has
/// stayed open for [`GAP_GRACE`]) it sends the rest and ends.
pub(crate) fn follow_with<R: Render>(
    state: AppState,
    id: SessionId,
    mut after: Option<u64>,
    mut render: R,
) -> Response {
    let (tx, rx) = mpsc::channel::<Result<SseEvent, Infallible>>(64);
    let keep_alive = state.sse_keep_alive;
    state.metrics.followers.fetch_add(1, Ordering::Relaxed);
    tokio::spawn(async move {
        let mut wakes = state.hub.subscribe();
        let mut gap_deadline: Option<tokio::time::Instant> = None;
        loop {
            let row = match state.store.session(&id).await {
                Ok(Some(row)) => row,
                Ok(None) => break,
                Err(error) => {
                    tracing::warn!(error = %error, session_id = %id, "follow: read session");
                    tokio::select! {
                        () = Hub::wait(&mut wakes, id.as_str()) => continue,
                        () = tx.closed() => break,
                    }
                }
            };
            let finished = row.status.is_finished() && {
                let gap = row.acked_seq != row.last_seq;
                let deadline = *gap_deadline.get_or_insert_with(|| tokio::time::Instant::now() + GAP_GRACE);
                !gap || tokio::time::Instant::now() >= deadline
            };
            let upto = if finished { row.last_seq } else { row.acked_seq };
            let pending = match (upto, after) {
                (Some(upto), Some(after)) => upto as u64 > after,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if pending {
                let upto = upto.map(|u| u as u64);
                match state.store.events(&id, after, upto, FOLLOW_PAGE).await {
                    Ok(events) if !events.is_empty() => {
                        for event in &events {
                            if tx.send(Ok(render.event(event))).await.is_err() {
                                state.metrics.followers.fetch_sub(1, Ordering::Relaxed);
                                return;
                            }
                            after = Some(event.seq);
                        }
                        continue;
                    }
                    // Only a finished session can have nothing between `after` and `last_seq`: a gap that
                    // will never be filled. Everything there is was sent.
                    Ok(_) if finished => {
                        send_end(&tx, render.end(&row)).await;
                        break;
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(error = %error, session_id = %id, "follow: read events");
                    }
                }
            } else if finished {
                send_end(&tx, render.end(&row)).await;
                break;
            }
            let gap_waited = async {
                match gap_deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = Hub::wait(&mut wakes, id.as_str()) => {}
                () = gap_waited => {}
                () = tx.closed() => break,
                () = state.shutdown.cancelled() => break,
            }
        }
        state.metrics.followers.fetch_sub(1, Ordering::Relaxed);
    });
    Sse::new(ReceiverStream::new(rx))
        .keep_alive(KeepAlive::default().interval(keep_alive))
        .into_response()
}

/// One SSE message; the data is the event as JSON on one line.
fn sse_event(event: &Event) -> SseEvent {
    let mut json = serde_json::to_string(event).expect("events serialise");
    if json.contains(['\n', '\r']) {
        // Raw data may hold whitespace between tokens; an SSE data line must not.
        let value: serde_json::Value = serde_json::from_str(&json).expect("our own JSON parses");
        json = value.to_string();
    }
    SseEvent::default()
        .id(event.seq.to_string())
        .event(event.kind.as_str())
        .data(json)
}

/// The end message; a follower that left already is no error.
async fn send_end(tx: &Sender, end: SseEvent) {
    let _ = tx.send(Ok(end)).await;
}
