//! Bounded draining on shutdown. tonic's graceful shutdown waits for every in-flight request,
//! so one long-lived stream (a health or change watch) would keep the server alive forever.
//! This layer gives responses a drain window after shutdown starts; when it closes, any
//! response still streaming ends with a clean `UNAVAILABLE` trailer, so clients reconnect
//! elsewhere and resume.

use std::{
    pin::Pin,
    task::{Context, Poll, ready},
};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use http_body::{Body, Frame, SizeHint};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// Wraps every response body so it can be cut off when `token` is cancelled.
#[derive(Debug, Clone)]
pub struct DrainLayer {
    pub token: CancellationToken,
}

impl<S> tower::Layer<S> for DrainLayer {
    type Service = DrainService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        DrainService {
            inner,
            token: self.token.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct DrainService<S> {
    inner: S,
    token: CancellationToken,
}

impl<S, Req, B> tower::Service<Req> for DrainService<S>
where
    S: tower::Service<Req, Response = http::Response<B>>,
    S::Future: Send + 'static,
    B: Body<Data = Bytes>,
{
    type Response = http::Response<DrainBody<B>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn std::future::Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let fut = self.inner.call(req);
        let token = self.token.clone();
        Box::pin(async move {
            let resp = fut.await?;
            Ok(resp.map(|inner| DrainBody {
                inner,
                stop: token.cancelled_owned(),
                done: false,
            }))
        })
    }
}

pin_project_lite::pin_project! {
    /// A response body that ends with `grpc-status: 14` once draining is over.
    pub struct DrainBody<B> {
        #[pin]
        inner: B,
        #[pin]
        stop: WaitForCancellationFutureOwned,
        done: bool,
    }
}

impl<B: Body<Data = Bytes>> Body for DrainBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        if let Poll::Ready(frame) = this.inner.poll_frame(cx) {
            if frame.is_none() {
                *this.done = true;
            }
            return Poll::Ready(frame);
        }
        ready!(this.stop.poll(cx));
        *this.done = true;
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("14"));
        trailers.insert(
            "grpc-message",
            HeaderValue::from_static("server%20shutting%20down;%20reconnect%20and%20resume"),
        );
        Poll::Ready(Some(Ok(Frame::trailers(trailers))))
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
