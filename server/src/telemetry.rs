//! Logging: `tracing` with a pretty or JSON format, filtered by `RUST_LOG`. With the cargo
//! feature `otel`, spans (one `rpc` span per call, see [`crate::observe`]) are also exported
//! over OTLP/gRPC when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
//! is set (the standard `OTEL_*` variables configure the exporter and resource).

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Flushes and stops span export when dropped (keep it alive until the process ends).
#[must_use = "dropping the guard stops span export"]
#[derive(Debug, Default)]
pub struct Guard {
    #[cfg(feature = "otel")]
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        #[cfg(feature = "otel")]
        if let Some(p) = self.provider.take()
            && let Err(e) = p.shutdown()
        {
            eprintln!("OpenTelemetry: flushing spans failed: {e}");
        }
    }
}

/// Installs the global subscriber (once; later calls are ignored). Call it inside the tokio
/// runtime (the OTLP exporter needs one).
pub fn init(format: LogFormat) -> Guard {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,h2=warn,tower=warn"));
    let mut guard = Guard::default();
    let registry = tracing_subscriber::registry().with(filter).with(otel_layer(&mut guard));
    let _ = match format {
        LogFormat::Pretty => registry
            .with(fmt::layer().with_writer(std::io::stderr).with_target(false))
            .try_init(),
        LogFormat::Json => registry
            .with(fmt::layer().with_writer(std::io::stderr).json().flatten_event(true))
            .try_init(),
    };
    guard
}

#[cfg(not(feature = "otel"))]
fn otel_layer(_guard: &mut Guard) -> Option<tracing_subscriber::layer::Identity> {
    None
}

#[cfg(feature = "otel")]
fn otel_layer<S>(guard: &mut Guard) -> Option<impl tracing_subscriber::Layer<S>>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    use opentelemetry::trace::TracerProvider as _;
    let configured = ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()));
    if !configured {
        return None;
    }
    let exporter = match opentelemetry_otlp::SpanExporter::builder().with_tonic().build() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("OpenTelemetry: cannot build the OTLP exporter, spans are not exported: {e}");
            return None;
        }
    };
    let mut resource = opentelemetry_sdk::Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("registryd");
    }
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build();
    let tracer = provider.tracer("registryd");
    guard.provider = Some(provider);
    Some(tracing_opentelemetry::layer().with_tracer(tracer))
}
