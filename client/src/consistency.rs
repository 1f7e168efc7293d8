//! Read-your-writes across replicas: the client remembers the highest change-log sequence
//! the registry has answered it with (`registry-sequence`, sent with every successful
//! write) and sends it with every call as `registry-min-sequence`. A replica answers a read
//! carrying it from state that includes every change up to it (from its cache once it has
//! applied it, else from the database), so a read never shows less than the client's own
//! writes, whichever replica it reaches.

use std::{
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
    task::{Context, Poll},
};

use futures::{FutureExt, future::BoxFuture};
use tonic::{
    body::Body,
    codegen::Service,
    transport::{Channel, Error},
};

/// Response metadata: the sequence a write committed at.
pub const SEQUENCE: &str = "registry-sequence";
/// Request metadata: read state that includes every change up to this sequence.
pub const MIN_SEQUENCE: &str = "registry-min-sequence";

/// The channel of a client, sending and recording sequences. Clones share what was seen.
#[derive(Debug, Clone)]
pub struct Tracked {
    channel: Channel,
    seen: Arc<AtomicI64>,
}

impl Tracked {
    pub(crate) fn new(channel: Channel, seen: Arc<AtomicI64>) -> Self {
        Tracked { channel, seen }
    }
}

impl Service<http::Request<Body>> for Tracked {
    type Response = http::Response<Body>;
    type Error = Error;
    type Future = BoxFuture<'static, Result<http::Response<Body>, Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.channel.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<Body>) -> Self::Future {
        let seen = self.seen.load(Ordering::Relaxed);
        if seen > 0 {
            req.headers_mut().insert(MIN_SEQUENCE, http::HeaderValue::from(seen));
        }
        let shared = self.seen.clone();
        self.channel
            .call(req)
            .map(move |resp| {
                if let Ok(r) = &resp
                    && let Some(n) = r
                        .headers()
                        .get(SEQUENCE)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<i64>().ok())
                {
                    shared.fetch_max(n, Ordering::Relaxed);
                }
                resp
            })
            .boxed()
    }
}
