//! gRPC-Web for browsers: served by `tonic-web` beside native gRPC on the same port (HTTP/1.1
//! and HTTP/2), behind a CORS layer that admits only the configured origins.
//!
//! The gRPC-Web translation sits outside every other layer, so a gRPC-Web call is observed,
//! drained, authenticated and authorised exactly like a native one (the browser sends its
//! token in `authorization`). With no origins configured (the default) a browser page on
//! another origin cannot call the API: preflights get no `access-control-allow-origin`.

use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Request headers a browser may send on a cross-origin call.
const ALLOWED_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "x-grpc-web",
    "x-user-agent",
    "grpc-timeout",
    "x-request-id",
    "traceparent",
    "tracestate",
];

/// Response headers a browser script may read.
const EXPOSED_HEADERS: &[&str] = &["grpc-status", "grpc-message", "grpc-status-details-bin", "x-request-id"];

/// How long a browser may cache a preflight answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// Why an origin cannot be configured.
#[derive(Debug, thiserror::Error)]
#[error("invalid CORS origin {origin:?}: {why} (expected e.g. https://dashboard.example.go.kr)")]
pub struct InvalidOrigin {
    pub origin: String,
    why: &'static str,
}

/// Checks an origin as a browser sends it: `scheme://host[:port]`, no path, no wildcard.
pub fn parse_origin(origin: &str) -> Result<HeaderValue, InvalidOrigin> {
    let err = |why| InvalidOrigin {
        origin: origin.to_owned(),
        why,
    };
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(|| err("the scheme must be http or https"))?;
    if rest.is_empty() || rest.contains(['/', '*', ' ', '?', '#', '@']) {
        return Err(err("an origin is scheme://host[:port], without path, wildcard or user"));
    }
    HeaderValue::from_str(origin).map_err(|_| err("not a valid header value"))
}

/// The CORS layer admitting exactly `origins` (none when empty).
pub fn cors_layer(origins: &[HeaderValue]) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins.iter().cloned()))
        .allow_methods([Method::POST, Method::OPTIONS])
        .allow_headers(
            ALLOWED_HEADERS
                .iter()
                .map(|h| HeaderName::from_static(h))
                .collect::<Vec<_>>(),
        )
        .expose_headers(
            EXPOSED_HEADERS
                .iter()
                .map(|h| HeaderName::from_static(h))
                .collect::<Vec<_>>(),
        )
        .max_age(PREFLIGHT_MAX_AGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_host_and_port_only() {
        for ok in [
            "https://dashboard.example.go.kr",
            "http://localhost:5173",
            "http://127.0.0.1:8080",
        ] {
            assert!(parse_origin(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "*",
            "dashboard.example.go.kr",
            "ftp://x",
            "https://",
            "https://a.example/path",
            "https://*.example",
            "https://user@a.example",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }
}
