//! W3C Trace Context (`traceparent`) of incoming calls, so a ministry system's trace runs
//! through the registry.
//!
//! A valid `traceparent` (<https://www.w3.org/TR/trace-context/#traceparent-header>) makes the
//! call's `rpc` span continue that trace: its trace id is on the span and on the per-RPC log
//! line (`trace_id`), and with the `otel` feature the exported span is a child of the caller's
//! span. Without one (or with an invalid one, which is ignored as the specification says), the
//! call starts a new trace: with an OpenTelemetry exporter its trace id is the exported
//! span's, else a random one, so every log line of a call has a trace id to search for.

use std::fmt;

use http::HeaderMap;
use rand::RngCore;

/// The header name.
pub const TRACEPARENT_HEADER: &str = "traceparent";

/// A parsed `traceparent`: version 00 fields (later versions are read as 00, as specified).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: [u8; 16],
    pub parent_id: [u8; 8],
    pub flags: u8,
}

impl TraceParent {
    /// Parses a header value; `None` for anything the specification says to ignore.
    pub fn parse(value: &str) -> Option<TraceParent> {
        let bytes = value.as_bytes();
        // version "-" trace-id "-" parent-id "-" flags, then (versions > 00 only) "-" more.
        if bytes.len() < 55 {
            return None;
        }
        let version = hex::<1>(&bytes[0..2])?[0];
        if version == 0xff || (version == 0 && bytes.len() != 55) || (bytes.len() > 55 && bytes[55] != b'-') {
            return None;
        }
        if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
            return None;
        }
        let trace_id = hex::<16>(&bytes[3..35])?;
        let parent_id = hex::<8>(&bytes[36..52])?;
        let flags = hex::<1>(&bytes[53..55])?[0];
        if trace_id == [0; 16] || parent_id == [0; 8] {
            return None;
        }
        Some(TraceParent {
            trace_id,
            parent_id,
            flags,
        })
    }

    /// The incoming call's `traceparent`, if present and valid (exactly one header).
    pub fn from_headers(headers: &HeaderMap) -> Option<TraceParent> {
        let mut values = headers.get_all(TRACEPARENT_HEADER).iter();
        let (Some(v), None) = (values.next(), values.next()) else {
            return None;
        };
        TraceParent::parse(v.to_str().ok()?)
    }

    /// A new trace (random ids, sampled).
    pub fn generate() -> TraceParent {
        let mut rng = rand::rng();
        let mut tp = TraceParent {
            trace_id: [0; 16],
            parent_id: [0; 8],
            flags: 1,
        };
        while tp.trace_id == [0; 16] {
            rng.fill_bytes(&mut tp.trace_id);
        }
        while tp.parent_id == [0; 8] {
            rng.fill_bytes(&mut tp.parent_id);
        }
        tp
    }

    /// The trace id as 32 lowercase hex digits.
    pub fn trace_id_hex(&self) -> String {
        to_hex(&self.trace_id)
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            to_hex(&self.trace_id),
            to_hex(&self.parent_id),
            self.flags
        )
    }
}

/// Lowercase hex only, as the specification requires.
fn hex<const N: usize>(b: &[u8]) -> Option<[u8; N]> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    if b.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = (digit(b[2 * i])? << 4) | digit(b[2 * i + 1])?;
    }
    Some(out)
}

fn to_hex(bytes: &[u8]) -> String {
    use fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Makes `span` continue `incoming` (the caller's trace) and returns the trace id to log.
/// Without an incoming trace: the id OpenTelemetry gave the span when it exports, else a new
/// random one.
pub fn attach(span: &tracing::Span, incoming: Option<TraceParent>) -> String {
    match incoming {
        Some(tp) => {
            #[cfg(feature = "otel")]
            otel::set_parent(span, &tp);
            #[cfg(not(feature = "otel"))]
            let _ = span;
            tp.trace_id_hex()
        }
        None => {
            #[cfg(feature = "otel")]
            if let Some(id) = otel::trace_id(span) {
                return id;
            }
            TraceParent::generate().trace_id_hex()
        }
    }
}

#[cfg(feature = "otel")]
mod otel {
    use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    use super::{TraceParent, to_hex};

    pub(super) fn set_parent(span: &tracing::Span, tp: &TraceParent) {
        let remote = SpanContext::new(
            TraceId::from_bytes(tp.trace_id),
            SpanId::from_bytes(tp.parent_id),
            TraceFlags::new(tp.flags),
            true,
            TraceState::default(),
        );
        // Fails only when no OpenTelemetry layer is installed (nothing is exported then).
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote));
    }

    pub(super) fn trace_id(span: &tracing::Span) -> Option<String> {
        let cx = span.context();
        let sc = cx.span().span_context().clone();
        sc.is_valid().then(|| to_hex(&sc.trace_id().to_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn parses_the_specification_example() {
        let tp = TraceParent::parse(EXAMPLE).expect("valid");
        assert_eq!(tp.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(tp.flags, 1);
        assert_eq!(tp.to_string(), EXAMPLE);
    }

    #[test]
    fn ignores_what_the_specification_says_to_ignore() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473é-00f067aa0ba902b7-01",
            "0é-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad:?}");
        }
        // A later version with more fields is read as version 00.
        let future = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-whatever";
        assert!(TraceParent::parse(future).is_some());
    }

    #[test]
    fn generated_ids_are_valid_and_fresh() {
        let (a, b) = (TraceParent::generate(), TraceParent::generate());
        assert_eq!(TraceParent::parse(&a.to_string()), Some(a));
        assert_ne!(a.trace_id, b.trace_id);
    }

    #[test]
    fn two_traceparent_headers_are_ignored() {
        let mut h = HeaderMap::new();
        h.append(TRACEPARENT_HEADER, EXAMPLE.parse().expect("header"));
        assert!(TraceParent::from_headers(&h).is_some());
        h.append(TRACEPARENT_HEADER, EXAMPLE.parse().expect("header"));
        assert_eq!(TraceParent::from_headers(&h), None);
    }
}
