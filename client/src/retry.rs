//! Retries with exponential backoff and full jitter.
//!
//! A call is retried only when that is safe: on UNAVAILABLE (the server or the connection is
//! away; also the transport's CANCELLED when a connection closes under an unprocessed call; nothing was applied, or the write carries a request id that makes the retry return
//! the original answer), for reads and for creates (the client fills in a request id when the
//! caller left it empty). Other writes are never retried.

use std::{future::Future, time::Duration};

use rand::Rng;

/// How often and how patiently retryable calls are retried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all (1 = no retry).
    pub max_attempts: u32,
    /// Upper bound of the first backoff; each later one doubles, up to `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// 4 attempts, backoff ≤ 50 ms, 100 ms, 200 ms (jittered).
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The jittered wait before retry number `retry` (1-based): uniform in `0..=cap`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let cap = self
            .initial_backoff
            .saturating_mul(1u32 << retry.saturating_sub(1).min(16))
            .min(self.max_backoff);
        let nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rand::rng().random_range(0..=nanos))
    }

    /// Runs `call` until it succeeds, fails with a code that is not retryable, or the attempts
    /// are used up. `retryable` says whether this call may be repeated at all.
    pub(crate) async fn run<T, F, Fut>(&self, retryable: bool, mut call: F) -> Result<T, tonic::Status>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, tonic::Status>>,
    {
        let mut attempt = 1;
        loop {
            match call().await {
                Err(s)
                    if retryable
                        && matches!(s.code(), tonic::Code::Unavailable | tonic::Code::Cancelled)
                        && attempt < self.max_attempts =>
                {
                    tokio::time::sleep(self.backoff(attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn fast() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
        }
    }

    #[tokio::test]
    async fn retries_unavailable_until_success() {
        let calls = AtomicU32::new(0);
        let r = fast()
            .run(true, || async {
                if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                    Err(tonic::Status::unavailable("down"))
                } else {
                    Ok(7)
                }
            })
            .await;
        assert_eq!(r.map_err(|s| s.code()), Ok(7));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn gives_up_after_max_attempts_and_never_retries_other_codes_or_unsafe_calls() {
        for (retryable, status, expected_calls) in [
            (true, tonic::Status::unavailable("down"), 4),
            (true, tonic::Status::aborted("etag"), 1),
            (true, tonic::Status::invalid_argument("bad"), 1),
            (false, tonic::Status::unavailable("down"), 1),
        ] {
            let calls = AtomicU32::new(0);
            let code = status.code();
            let r: Result<(), _> = fast()
                .run(retryable, || {
                    calls.fetch_add(1, Ordering::SeqCst);
                    let s = status.clone();
                    async move { Err(s) }
                })
                .await;
            assert_eq!(r.map_err(|s| s.code()), Err(code));
            assert_eq!(
                calls.load(Ordering::SeqCst),
                expected_calls,
                "{code:?} retryable={retryable}"
            );
        }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(300),
        };
        for _ in 0..100 {
            assert!(p.backoff(1) <= Duration::from_millis(100));
            assert!(p.backoff(2) <= Duration::from_millis(200));
            assert!(p.backoff(9) <= Duration::from_millis(300));
        }
    }
}
