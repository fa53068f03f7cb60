//! `GET /api/v1/stream`: server-sent events for live pages. Each committed
//! change of an execution arrives as an `execution` event whose data is an
//! [`ExecutionUpdate`](sluice_engine::ExecutionUpdate); a subscriber that
//! fell behind gets one `resync` event (re-read what you show). The stream
//! ends when the server shuts down, so it never holds the shutdown up.

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

use crate::AppState;

pub async fn stream(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = state.engine.subscribe();
    let events = stream::unfold((rx, state), |(mut rx, state)| async move {
        let event = tokio::select! {
            _ = state.shutting_down() => return None,
            r = rx.recv() => match r {
                Ok(update) => Event::default()
                    .event("execution")
                    .json_data(&update)
                    .unwrap_or_else(|_| Event::default().event("resync").data("{}")),
                Err(RecvError::Lagged(n)) => Event::default()
                    .event("resync")
                    .data(format!("{{\"missed\":{n}}}")),
                Err(RecvError::Closed) => return None,
            },
        };
        Some((Ok(event), (rx, state)))
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
