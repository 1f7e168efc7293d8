//! The load generators.
//!
//! * [`closed_loop`]: `concurrency` workers, each sends its next request as soon as the
//!   previous one is answered. This measures the **maximum throughput**. Its latencies are
//!   service times only: while the server stalls, the workers stop sending, so the requests
//!   that would have queued behind the stall are never measured (coordinated omission). They
//!   are reported as `closed_loop_latency` and never used for the latency targets.
//! * [`open_loop`]: requests are scheduled at a fixed rate (a fraction of the closed-loop
//!   throughput) on an intended-start timeline, spread over `concurrency` workers (worker
//!   `w` owns slots `w, w + c, w + 2c, …`, like wrk2's per-connection schedule). When a
//!   worker is behind schedule because its previous request was slow, the latency of the
//!   next one is measured **from its intended start**, so a stall is charged to every request
//!   that should have been sent during it (no coordinated-omission blind spot). When the
//!   worker is idle and its timer fires late (tokio timers have ~1 ms granularity), latency
//!   is measured from the actual send, so the load generator's own timer slack is not
//!   charged to the server.

use std::{
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use hdrhistogram::Histogram;
use tokio::time::Instant;

use crate::hist::{new_histogram, record};

/// One request of a scenario, issued by worker `usize`. Errors are counted, not fatal.
pub type Op = Arc<dyn Fn(usize) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// How long a phase runs.
#[derive(Debug, Clone, Copy)]
pub enum Budget {
    Time(Duration),
    Requests(u64),
}

/// What a phase measured.
#[derive(Debug)]
pub struct Phase {
    pub hist: Histogram<u64>,
    pub ok: u64,
    pub errors: u64,
    pub error_sample: Option<String>,
    pub elapsed: Duration,
}

impl Phase {
    /// Completed requests (successful or not) per second.
    pub fn rate(&self) -> f64 {
        per_second(self.ok + self.errors, self.elapsed)
    }

    /// Successful requests per second.
    pub fn throughput(&self) -> f64 {
        per_second(self.ok, self.elapsed)
    }
}

pub fn per_second(n: u64, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s > 0.0 { n as f64 / s } else { 0.0 }
}

struct WorkerResult {
    hist: Histogram<u64>,
    ok: u64,
    errors: u64,
    error_sample: Option<String>,
}

impl WorkerResult {
    fn new() -> Self {
        WorkerResult {
            hist: new_histogram(),
            ok: 0,
            errors: 0,
            error_sample: None,
        }
    }

    fn outcome(&mut self, r: Result<(), String>, latency: Duration) {
        match r {
            Ok(()) => {
                self.ok += 1;
                record(&mut self.hist, latency);
            }
            Err(e) => {
                self.errors += 1;
                if self.error_sample.is_none() {
                    self.error_sample = Some(e);
                }
            }
        }
    }
}

async fn join(workers: Vec<tokio::task::JoinHandle<WorkerResult>>, start: Instant) -> Phase {
    let mut phase = Phase {
        hist: new_histogram(),
        ok: 0,
        errors: 0,
        error_sample: None,
        elapsed: Duration::ZERO,
    };
    for w in workers {
        match w.await {
            Ok(r) => {
                let _ = phase.hist.add(&r.hist);
                phase.ok += r.ok;
                phase.errors += r.errors;
                if phase.error_sample.is_none() {
                    phase.error_sample = r.error_sample;
                }
            }
            Err(e) => {
                phase.errors += 1;
                phase.error_sample.get_or_insert_with(|| format!("worker failed: {e}"));
            }
        }
    }
    phase.elapsed = start.elapsed();
    phase
}

/// Closed loop: `concurrency` workers back to back until the budget is spent.
pub async fn closed_loop(op: &Op, concurrency: usize, budget: Budget) -> Phase {
    let start = Instant::now();
    let issued = Arc::new(AtomicU64::new(0));
    let workers = (0..concurrency.max(1))
        .map(|w| {
            let op = op.clone();
            let issued = issued.clone();
            tokio::spawn(async move {
                let mut r = WorkerResult::new();
                loop {
                    let go = match budget {
                        Budget::Time(d) => start.elapsed() < d,
                        Budget::Requests(n) => issued.fetch_add(1, Ordering::Relaxed) < n,
                    };
                    if !go {
                        break;
                    }
                    let t = Instant::now();
                    let res = op(w).await;
                    r.outcome(res, t.elapsed());
                }
                r
            })
        })
        .collect();
    join(workers, start).await
}

/// Open loop at `rate` requests per second, on an intended-start schedule (see the module
/// documentation for how latency is measured).
pub async fn open_loop(op: &Op, concurrency: usize, rate: f64, budget: Budget) -> Phase {
    let c = concurrency.max(1);
    let rate = rate.max(1.0);
    let start = Instant::now() + Duration::from_millis(5);
    let workers = (0..c)
        .map(|w| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut r = WorkerResult::new();
                for k in 0u64.. {
                    let slot = w as u64 + k * c as u64;
                    let offset = Duration::from_secs_f64(slot as f64 / rate);
                    let more = match budget {
                        Budget::Time(d) => offset < d,
                        Budget::Requests(n) => slot < n,
                    };
                    if !more {
                        break;
                    }
                    let intended = start + offset;
                    let from = if Instant::now() < intended {
                        tokio::time::sleep_until(intended).await;
                        Instant::now()
                    } else {
                        intended
                    };
                    let res = op(w).await;
                    r.outcome(res, from.elapsed());
                }
                r
            })
        })
        .collect();
    let mut phase = join(workers, start).await;
    // `start` lies slightly in the future when the workers are spawned.
    phase.elapsed = start.elapsed();
    phase
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sleeper(ms: u64) -> Op {
        Arc::new(move |_| {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok(())
            })
        })
    }

    #[tokio::test]
    async fn closed_loop_counts_requests() {
        let phase = closed_loop(&sleeper(1), 4, Budget::Requests(40)).await;
        assert_eq!(phase.ok, 40);
        assert_eq!(phase.errors, 0);
        assert_eq!(phase.hist.len(), 40);
    }

    #[tokio::test]
    async fn open_loop_charges_backlog_to_latency() {
        // One worker, 100 req/s, each request takes 30 ms: the worker falls behind, and
        // latency measured from the intended start grows well beyond the service time.
        let phase = open_loop(&sleeper(30), 1, 100.0, Budget::Requests(10)).await;
        assert_eq!(phase.ok, 10);
        let max_ms = phase.hist.max() as f64 / 1000.0;
        assert!(max_ms > 150.0, "max {max_ms} ms should include the backlog");
    }

    #[tokio::test]
    async fn errors_are_counted() {
        let op: Op = Arc::new(|_| Box::pin(async { Err("boom".to_owned()) }));
        let phase = closed_loop(&op, 2, Budget::Requests(5)).await;
        assert_eq!(phase.errors, 5);
        assert_eq!(phase.error_sample.as_deref(), Some("boom"));
    }
}
