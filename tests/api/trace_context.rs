//! W3C trace context end to end: the client sends the caller's `traceparent`, the server's
//! per-call log line carries its trace id beside the request id.

use std::sync::{Arc, Mutex};

use registry_e2e::TestApp;

/// Formatted log output of this test's thread (the server runs on it: current-thread runtime).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn rpc_lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter(|l| l.contains(registry_server::observe::RPC_LOG_TARGET))
            .map(str::to_owned)
            .collect()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_callers_trace_id_is_logged_with_the_request_id() {
    // Other tests' servers log on other threads without a subscriber. tracing caches each
    // callsite's interest process-wide, and a callsite first registered by such a thread while
    // this test installs its scoped subscriber can be cached as "never" (a known race of scoped
    // dispatchers). A global subscriber that keeps INFO (and writes nowhere) makes every
    // callsite's interest include INFO; this thread's scoped one below then gets the lines.
    let _ = tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_writer(std::io::sink)
            .with_max_level(tracing::Level::INFO)
            .finish(),
    );
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = TestApp::spawn().await;
    let traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let traced = app.client.with_traceparent(Some(traceparent)).unwrap();
    let err = traced.get_policy_goal("policyGoals/traced-missing").await.unwrap_err();
    assert!(matches!(err, registry_e2e::Error::NotFound { .. }), "{err:?}");
    // Without a caller's trace, the client starts one per call.
    app.client.get_policy_goal("policyGoals/untraced").await.unwrap_err();

    let lines = logs.rpc_lines();
    let traced_line = lines
        .iter()
        .find(|l| l.contains("trace_id=0af7651916cd43dd8448eb211c80319c"))
        .unwrap_or_else(|| panic!("no line with the caller's trace id: {lines:#?}"));
    assert!(traced_line.contains("GetPolicyGoal") && traced_line.contains("code=NOT_FOUND"));
    assert!(traced_line.contains("request_id="), "{traced_line}");
    let other = lines
        .iter()
        .filter(|l| l.contains("GetPolicyGoal") && !l.contains("0af7651916cd43dd8448eb211c80319c"))
        .count();
    assert_eq!(other, 1, "{lines:#?}");
    assert!(app.client.with_traceparent(Some("not-a-traceparent")).is_err());
}
