//! Handlers run to completion. A client that goes away (or a deadline that passes) drops the
//! future of its call; dropped half-way through a database transaction, a handler could leave
//! its pooled connection inside that transaction (sqlx loses track of a `BEGIN` cancelled in
//! flight), and the next user of the connection would run in, and commit, the abandoned
//! transaction. So each call's handler future runs in a task of its own: the caller may stop
//! waiting, the handler still finishes (commits or rolls back) and returns its connection
//! clean.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use http::{Request, Response};
use tracing::Instrument;

/// Spawns every call's handler future (see the module documentation).
#[derive(Debug, Clone, Copy, Default)]
pub struct DetachLayer;

impl<S> tower::Layer<S> for DetachLayer {
    type Service = Detach<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Detach { inner }
    }
}

#[derive(Debug, Clone)]
pub struct Detach<S> {
    inner: S,
}

impl<S, B, R> tower::Service<Request<B>> for Detach<S>
where
    S: tower::Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<R>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        // In the call's span, so the handler's log lines keep its request id.
        let handler = tokio::spawn(self.inner.call(req).in_current_span());
        Box::pin(async move {
            match handler.await {
                Ok(result) => result,
                Err(e) => {
                    tracing::error!(error = %e, "an RPC handler panicked");
                    Ok(tonic::Status::internal("internal error").into_http())
                }
            }
        })
    }
}
