//! A WatchChanges stream that survives disconnects.

use std::time::Duration;

use futures::{Stream, StreamExt};
use tokio::sync::mpsc;

use crate::{Error, RegistryClient, Result, pb};

/// What a watch yields.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchEvent {
    /// A committed change that matches the watch.
    Change(Box<pb::Change>),
    /// Everything up to `sequence` has been delivered; checkpoint it to resume later.
    Heartbeat { sequence: i64 },
    /// The stream was interrupted and is being resumed after `after_sequence`.
    Reconnecting { after_sequence: i64, error: String },
}

/// Reconnection behaviour of [`RegistryClient::watch_changes`].
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// First retry delay; doubles up to `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Give up after this many consecutive failed attempts (None: never).
    pub max_attempts: Option<u32>,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            max_attempts: None,
        }
    }
}

fn retryable(e: &Error) -> bool {
    matches!(
        e,
        Error::Unavailable { .. }
            | Error::ResourceExhausted { .. }
            | Error::Transport(_)
            | Error::DeadlineExceeded { .. }
    ) || matches!(e, Error::Other { code, .. } if *code == tonic::Code::Unknown || *code == tonic::Code::Cancelled)
}

/// Up to ±25% jitter without a random-number dependency.
fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.subsec_nanos())
        .unwrap_or(0);
    let factor = 0.75 + f64::from(nanos % 1000) / 2000.0;
    d.mul_f64(factor)
}

pub(crate) fn watch(
    client: RegistryClient,
    req: pb::WatchChangesRequest,
    opts: WatchOptions,
) -> impl Stream<Item = Result<WatchEvent>> + Send + 'static {
    let (tx, rx) = mpsc::channel::<Result<WatchEvent>>(64);
    tokio::spawn(async move {
        let mut after = req.after_sequence;
        let mut backoff = opts.initial_backoff;
        let mut failures = 0u32;
        loop {
            let attempt = pb::WatchChangesRequest {
                after_sequence: after,
                ..req.clone()
            };
            let err = match client.watch_changes_once(attempt).await {
                Ok(mut stream) => loop {
                    match stream.next().await {
                        Some(Ok(msg)) => {
                            failures = 0;
                            backoff = opts.initial_backoff;
                            let event = match msg.event {
                                Some(pb::watch_changes_response::Event::Change(c)) => {
                                    after = Some(c.sequence);
                                    WatchEvent::Change(Box::new(c))
                                }
                                Some(pb::watch_changes_response::Event::Heartbeat(h)) => {
                                    after = Some(h.sequence);
                                    WatchEvent::Heartbeat { sequence: h.sequence }
                                }
                                None => continue,
                            };
                            if tx.send(Ok(event)).await.is_err() {
                                return;
                            }
                        }
                        Some(Err(status)) => break Error::from(status),
                        None => {
                            break Error::Unavailable {
                                message: "watch stream ended".into(),
                            };
                        }
                    }
                },
                Err(e) => e,
            };
            failures += 1;
            if !retryable(&err) || opts.max_attempts.is_some_and(|m| failures > m) {
                let _ = tx.send(Err(err)).await;
                return;
            }
            if let Some(a) = after
                && tx
                    .send(Ok(WatchEvent::Reconnecting {
                        after_sequence: a,
                        error: err.to_string(),
                    }))
                    .await
                    .is_err()
            {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(jitter(backoff)) => {}
                _ = tx.closed() => return,
            }
            backoff = (backoff * 2).min(opts.max_backoff);
        }
    });
    tokio_stream_from(rx)
}

fn tokio_stream_from<T: Send + 'static>(mut rx: mpsc::Receiver<T>) -> impl Stream<Item = T> + Send + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
