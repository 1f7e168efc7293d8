//! A typed error instead of a raw `tonic::Status`.

use tonic::Code;
use tonic_types::StatusExt;

/// One problem with one request field, as reported by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Path of the field, e.g. `policy_goal.targets[0].target_year`.
    pub field: String,
    /// What is wrong with it.
    pub description: String,
}

/// Errors returned by [`crate::RegistryClient`].
///
/// `reason` is the stable `google.rpc.ErrorInfo.reason` the server attached (for example
/// `ETAG_MISMATCH`, `HAS_LIVE_CHILDREN`), so callers can branch on it without parsing text.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The request is invalid; `violations` lists every offending field.
    #[error("invalid argument: {message}")]
    InvalidArgument {
        message: String,
        violations: Vec<FieldViolation>,
    },
    /// The resource does not exist.
    #[error("not found: {message}")]
    NotFound {
        message: String,
        resource_name: Option<String>,
    },
    /// The resource already exists (or a soft-deleted one holds the name).
    #[error("already exists: {message}")]
    AlreadyExists {
        message: String,
        resource_name: Option<String>,
    },
    /// A concurrency conflict, e.g. an etag mismatch: re-read and retry.
    #[error("aborted: {message}")]
    Aborted { message: String, reason: String },
    /// The registry is not in the state the operation needs.
    #[error("failed precondition: {message}")]
    FailedPrecondition { message: String, reason: String },
    /// No valid credentials.
    #[error("unauthenticated: {message}")]
    Unauthenticated { message: String },
    /// Credentials lack the needed role.
    #[error("permission denied: {message}")]
    PermissionDenied { message: String },
    /// A limit was exceeded.
    #[error("resource exhausted: {message}")]
    ResourceExhausted { message: String },
    /// A position (e.g. a change sequence) is outside the available range.
    /// `metadata` carries ErrorInfo metadata, e.g. `oldest_sequence` for a compacted feed.
    #[error("out of range: {message}")]
    OutOfRange {
        message: String,
        reason: String,
        metadata: std::collections::HashMap<String, String>,
    },
    /// The server or its database is unreachable; safe to retry reads.
    #[error("unavailable: {message}")]
    Unavailable { message: String },
    /// The call's deadline passed.
    #[error("deadline exceeded: {message}")]
    DeadlineExceeded { message: String },
    /// Could not connect at all.
    #[error("transport error: {0}")]
    Transport(String),
    /// Any other status.
    #[error("{code:?}: {message}")]
    Other { code: Code, message: String },
}

impl Error {
    /// The stable reason from `ErrorInfo`, when the server sent one.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Error::Aborted { reason, .. }
            | Error::FailedPrecondition { reason, .. }
            | Error::OutOfRange { reason, .. } => Some(reason),
            _ => None,
        }
    }

    /// True for errors a caller may retry as-is (UNAVAILABLE, ABORTED).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Unavailable { .. } | Error::Aborted { .. })
    }
}

impl From<tonic::Status> for Error {
    fn from(s: tonic::Status) -> Self {
        let details = s.get_error_details();
        let message = s.message().to_owned();
        let reason = details.error_info().map(|i| i.reason.clone()).unwrap_or_default();
        let resource_name = details.resource_info().map(|r| r.resource_name.clone());
        if refused_by_goaway(&s) {
            return Error::Unavailable {
                message: format!("the server refused the call while shutting down: {message}"),
            };
        }
        match s.code() {
            Code::InvalidArgument => Error::InvalidArgument {
                message,
                violations: details
                    .bad_request()
                    .map(|b| {
                        b.field_violations
                            .iter()
                            .map(|v| FieldViolation {
                                field: v.field.clone(),
                                description: v.description.clone(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            Code::NotFound => Error::NotFound { message, resource_name },
            Code::AlreadyExists => Error::AlreadyExists { message, resource_name },
            Code::Aborted => Error::Aborted { message, reason },
            Code::FailedPrecondition => Error::FailedPrecondition { message, reason },
            Code::Unauthenticated => Error::Unauthenticated { message },
            Code::PermissionDenied => Error::PermissionDenied { message },
            Code::ResourceExhausted => Error::ResourceExhausted { message },
            Code::OutOfRange => Error::OutOfRange {
                message,
                reason,
                metadata: details.error_info().map(|i| i.metadata.clone()).unwrap_or_default(),
            },
            Code::Unavailable => Error::Unavailable { message },
            // The server never answers CANCELLED: this is the connection going away (e.g. a
            // GOAWAY during a graceful shutdown) before the call was processed.
            Code::Cancelled => Error::Unavailable {
                message: format!("the connection closed before the call was processed: {message}"),
            },
            Code::DeadlineExceeded => Error::DeadlineExceeded { message },
            code => Error::Other { code, message },
        }
    }
}

/// True when the call's HTTP/2 stream was refused by the server's GOAWAY: h2 fails the streams
/// above the GOAWAY's last stream id with the frame's reason (NO_ERROR during a graceful
/// shutdown, which tonic reports as INTERNAL), and the server never processed them, so the call
/// is as safe to retry as any UNAVAILABLE. A stream cut half-way by a closing connection is a
/// broken pipe instead, and keeps its own code.
fn refused_by_goaway(s: &tonic::Status) -> bool {
    let mut source = std::error::Error::source(s);
    while let Some(e) = source {
        if let Some(h2) = e.downcast_ref::<h2::Error>() {
            return h2.is_go_away() && h2.is_remote();
        }
        source = e.source();
    }
    false
}

impl From<tonic::transport::Error> for Error {
    fn from(e: tonic::transport::Error) -> Self {
        Error::Transport(e.to_string())
    }
}
