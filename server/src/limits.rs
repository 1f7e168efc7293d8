//! Bounds on what callers can hold: change streams open per token and in total
//! ([`StreamSlots`]), requests in flight ([`OverloadLayer`]: a global concurrency limit that
//! sheds load with RESOURCE_EXHAUSTED instead of queueing), and the deadline of the call
//! being served ([`call_deadline`]), which every database transaction turns into its
//! `statement_timeout`.

use std::{
    collections::HashMap,
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll},
    time::Duration,
};

use http::{Request, Response};
use tonic::Status;
use tower::{BoxError, Layer, Service, limit::GlobalConcurrencyLimitLayer, load_shed::LoadShed};

use crate::domain::{Error, Reason};

/// How many change streams (WatchChanges) may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// Per token.
    pub per_token: usize,
    /// On this server, across all tokens.
    pub total: usize,
}

impl Default for StreamLimits {
    fn default() -> Self {
        StreamLimits {
            per_token: 32,
            total: 10_000,
        }
    }
}

#[derive(Debug, Default)]
struct Held {
    total: usize,
    by_token: HashMap<String, usize>,
}

/// The open change streams, counted per token and in total.
#[derive(Debug, Clone)]
pub struct StreamSlots {
    limits: StreamLimits,
    held: Arc<Mutex<Held>>,
}

/// One open stream's place; given back when dropped (when the stream ends).
#[derive(Debug)]
pub struct StreamSlot {
    held: Arc<Mutex<Held>>,
    token: String,
}

impl StreamSlots {
    pub fn new(limits: StreamLimits) -> Self {
        StreamSlots {
            limits,
            held: Arc::default(),
        }
    }

    /// Takes a place for a stream of `token`, or RESOURCE_EXHAUSTED `TOO_MANY_STREAMS` when the
    /// token or the server holds as many as it may.
    pub fn acquire(&self, token: &str) -> Result<StreamSlot, Error> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if held.total >= self.limits.total {
            return Err(Error::ResourceExhausted {
                reason: Reason::TooManyStreams,
                message: format!(
                    "the server has {} change streams open, its limit; retry later or on another replica",
                    held.total
                ),
            });
        }
        let mine = held.by_token.get(token).copied().unwrap_or(0);
        if mine >= self.limits.per_token {
            return Err(Error::ResourceExhausted {
                reason: Reason::TooManyStreams,
                message: format!(
                    "token {token} has {mine} change streams open, the limit per token; close one before opening another"
                ),
            });
        }
        held.total += 1;
        *held.by_token.entry(token.to_owned()).or_insert(0) += 1;
        Ok(StreamSlot {
            held: self.held.clone(),
            token: token.to_owned(),
        })
    }

    /// Streams open now (for tests and metrics).
    pub fn open(&self) -> usize {
        self.held.lock().unwrap_or_else(PoisonError::into_inner).total
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.total = held.total.saturating_sub(1);
        if let Some(n) = held.by_token.get_mut(&self.token) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                held.by_token.remove(&self.token);
            }
        }
    }
}

tokio::task_local! {
    static CALL_DEADLINE: tokio::time::Instant;
}

/// Runs `fut` (a call being served) with its deadline known to [`call_deadline`].
pub async fn with_deadline<F: Future>(deadline: tokio::time::Instant, fut: F) -> F::Output {
    CALL_DEADLINE.scope(deadline, fut).await
}

/// Time left until the deadline of the call being served; `None` outside a call.
pub fn call_deadline() -> Option<Duration> {
    CALL_DEADLINE
        .try_with(|d| d.saturating_duration_since(tokio::time::Instant::now()))
        .ok()
}

/// The deadline a client asked for in `grpc-timeout` (`{1-8 digits}{H|M|S|m|u|n}`).
pub fn grpc_timeout(headers: &http::HeaderMap) -> Option<Duration> {
    let v = headers.get("grpc-timeout")?.to_str().ok()?;
    if v.len() < 2 || v.len() > 9 {
        return None;
    }
    let (digits, unit) = v.split_at(v.len() - 1);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// A global limit of requests in flight (tower's concurrency limit, shared by every
/// connection) that refuses the request over it at once (tower's load shedding) with
/// RESOURCE_EXHAUSTED `OVERLOADED`, rather than letting it wait in a queue without end.
/// A streaming call counts until its response starts; open streams are bounded by
/// [`StreamSlots`].
#[derive(Debug, Clone)]
pub struct OverloadLayer {
    limit: GlobalConcurrencyLimitLayer,
    max: usize,
}

impl OverloadLayer {
    pub fn new(max_in_flight: usize) -> Self {
        OverloadLayer {
            limit: GlobalConcurrencyLimitLayer::new(max_in_flight.max(1)),
            max: max_in_flight.max(1),
        }
    }
}

impl<S> Layer<S> for OverloadLayer {
    type Service = Overload<LoadShed<tower::limit::ConcurrencyLimit<S>>>;
    fn layer(&self, inner: S) -> Self::Service {
        Overload {
            inner: LoadShed::new(self.limit.layer(inner)),
            max: self.max,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Overload<S> {
    inner: S,
    max: usize,
}

impl<S, B, R> Service<Request<B>> for Overload<S>
where
    S: Service<Request<B>, Response = Response<R>, Error = BoxError>,
    S::Future: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = Response<R>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<R>, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let max = self.max;
        let fut = self.inner.call(req);
        Box::pin(async move {
            match fut.await {
                Err(e) if e.is::<tower::load_shed::error::Overloaded>() => {
                    tracing::debug!(max, "request shed: too many in flight");
                    Ok(Status::from(Error::ResourceExhausted {
                        reason: Reason::Overloaded,
                        message: format!("the server has {max} requests in flight, its limit; retry with backoff"),
                    })
                    .into_http())
                }
                other => other,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_slots_count_per_token_and_in_total() {
        let slots = StreamSlots::new(StreamLimits { per_token: 2, total: 3 });
        let a1 = slots.acquire("a").unwrap();
        let _a2 = slots.acquire("a").unwrap();
        assert_eq!(slots.acquire("a").unwrap_err().reason(), Reason::TooManyStreams);
        let _b1 = slots.acquire("b").unwrap();
        assert_eq!(slots.acquire("c").unwrap_err().reason(), Reason::TooManyStreams);
        drop(a1);
        assert_eq!(slots.open(), 2);
        let _c1 = slots.acquire("c").unwrap();
    }

    #[test]
    fn grpc_timeouts_parse() {
        let mut h = http::HeaderMap::new();
        assert_eq!(grpc_timeout(&h), None);
        h.insert("grpc-timeout", http::HeaderValue::from_static("250m"));
        assert_eq!(grpc_timeout(&h), Some(Duration::from_millis(250)));
        h.insert("grpc-timeout", http::HeaderValue::from_static("2S"));
        assert_eq!(grpc_timeout(&h), Some(Duration::from_secs(2)));
        h.insert("grpc-timeout", http::HeaderValue::from_static("2x"));
        assert_eq!(grpc_timeout(&h), None);
    }
}
