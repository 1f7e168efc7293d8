//! Change-feed fan-out: one tailer per process reads the change log (woken by LISTEN/NOTIFY,
//! with a periodic poll as a safety net, always re-reading from its own cursor so lost
//! notifications lose nothing) and broadcasts each change to every watcher in memory.
//! Watchers hold no database connection; the broadcast buffer is bounded, and a watcher
//! that falls further behind than it is told so (see `api::changes`).
//!
//! The tailer broadcasts a batch and advances its position under one lock, which
//! [`Feed::subscribe_at`] takes too: a new watcher learns the exact point from which the
//! broadcast carries everything, and reads only what lies before it from the log (no lock
//! wait, so opening a stream never holds a database connection while writers finish).
//!
//! The tailer also keeps the read cache coherent (`store::cache`): it invalidates what each
//! change alters before it advances the cache's applied position.

use std::{
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use crate::store::{ChangeRecord, Store};

/// Tuning of the feed.
#[derive(Debug, Clone)]
pub struct FeedOptions {
    /// Changes buffered for watchers before a slow one is cut off.
    pub buffer: usize,
    /// Poll interval when no notification arrives.
    pub poll_interval: Duration,
}

impl Default for FeedOptions {
    fn default() -> Self {
        FeedOptions {
            buffer: 8192,
            poll_interval: Duration::from_millis(1000),
        }
    }
}

/// Handle to the process-wide change feed.
#[derive(Debug, Clone)]
pub struct Feed {
    tx: broadcast::Sender<Arc<ChangeRecord>>,
    position: watch::Receiver<i64>,
    watchers: Arc<AtomicUsize>,
    gate: Arc<Mutex<()>>,
}

/// The feed has stopped (the server is shutting down).
#[derive(Debug, Clone, Copy)]
pub struct Closed;

/// Decrements the watcher count when a watch ends.
#[derive(Debug)]
pub struct WatcherGuard(Arc<AtomicUsize>);

impl Drop for WatcherGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Feed {
    /// Starts the tailer; it stops when `stop` is cancelled.
    pub fn start(store: Store, opts: FeedOptions, stop: CancellationToken) -> Feed {
        let (tx, _) = broadcast::channel(opts.buffer.max(16));
        // -1 until the tailer has read where the log stands.
        let (pos_tx, position) = watch::channel(-1);
        let gate = Arc::new(Mutex::new(()));
        tokio::spawn(tail(store, tx.clone(), pos_tx, gate.clone(), opts.poll_interval, stop));
        Feed {
            tx,
            position,
            watchers: Arc::new(AtomicUsize::new(0)),
            gate,
        }
    }

    /// Subscribes, with the position from which the broadcast carries every change: all
    /// changes at or below it were broadcast before (read them from the log), none above it.
    /// Waits (holding nothing) until the tailer knows where the log stands.
    pub async fn subscribe_at(&self) -> Result<(broadcast::Receiver<Arc<ChangeRecord>>, WatcherGuard, i64), Closed> {
        let mut position = self.position.clone();
        position.wait_for(|p| *p >= 0).await.map_err(|_| Closed)?;
        let _gate = self.gate.lock().unwrap_or_else(PoisonError::into_inner);
        let (rx, guard) = self.subscribe();
        let at = *self.position.borrow();
        Ok((rx, guard, at))
    }

    /// Subscribes to changes broadcast from now on.
    pub fn subscribe(&self) -> (broadcast::Receiver<Arc<ChangeRecord>>, WatcherGuard) {
        self.watchers.fetch_add(1, Ordering::Relaxed);
        (self.tx.subscribe(), WatcherGuard(self.watchers.clone()))
    }

    /// The last sequence the tailer has broadcast (0 before it started).
    pub fn position(&self) -> i64 {
        (*self.position.borrow()).max(0)
    }

    /// Number of open watches.
    pub fn watchers(&self) -> usize {
        self.watchers.load(Ordering::Relaxed)
    }
}

async fn tail(
    store: Store,
    tx: broadcast::Sender<Arc<ChangeRecord>>,
    pos_tx: watch::Sender<i64>,
    gate: Arc<Mutex<()>>,
    poll: Duration,
    stop: CancellationToken,
) {
    let mut last = loop {
        let read_at = Instant::now();
        match store.settled_sequence().await {
            Ok(s) => {
                if let Some(c) = store.cache() {
                    c.advance(s, Some(read_at));
                }
                break s;
            }
            Err(e) => {
                tracing::warn!(error = %e, "change feed: cannot read the log position; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.cancelled() => return,
                }
            }
        }
    };
    let _ = pos_tx.send(last);
    let mut listener = None;
    loop {
        if listener.is_none() {
            match store.change_listener().await {
                Ok(l) => listener = Some(l),
                Err(e) => tracing::warn!(error = %e, "change feed: LISTEN failed; polling"),
            }
        }
        // Read everything settled after our cursor (see `Store::settled_sequence`).
        let read_at = Instant::now();
        match store.settled_sequence().await {
            Ok(settled) if settled > last => {
                loop {
                    match store.changes_after(last, settled, 500).await {
                        Ok(rows) => {
                            let full = rows.len() == 500;
                            let _gate = gate.lock().unwrap_or_else(PoisonError::into_inner);
                            for r in rows {
                                last = r.sequence;
                                // The read cache drops what the change alters before the
                                // position that includes it is published.
                                if let Some(c) = store.cache() {
                                    c.invalidate(&r.resource_type, &r.resource_name);
                                }
                                let _ = tx.send(Arc::new(r));
                            }
                            if !full {
                                // Holes left by rolled-back writers are settled too.
                                last = settled;
                            }
                            if let Some(c) = store.cache() {
                                // Current as of `read_at` once the whole range is applied.
                                c.advance(last, (!full).then_some(read_at));
                            }
                            let _ = pos_tx.send(last);
                            if !full {
                                break;
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "change feed: reading the log failed");
                            break;
                        }
                    }
                }
            }
            Ok(_) => {
                if let Some(c) = store.cache() {
                    c.advance(last, Some(read_at));
                }
            }
            Err(e) => tracing::warn!(error = %e, "change feed: reading the log position failed"),
        }
        tokio::select! {
            n = async {
                match listener.as_mut() {
                    Some(l) => {
                        let r = l.try_recv().await.map(|_| ());
                        // One read covers every notification already received.
                        while l.next_buffered().is_some() {}
                        r
                    }
                    None => std::future::pending().await,
                }
            } => {
                if let Err(e) = n {
                    tracing::warn!(error = %e, "change feed: listener lost; reconnecting");
                    listener = None;
                }
            }
            _ = tokio::time::sleep(poll) => {}
            _ = stop.cancelled() => return,
        }
    }
}
