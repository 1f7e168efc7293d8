//! The error type shared by `domain/` and `store/`. `crate::error` maps it to `tonic::Status`
//! in exactly one place.

use std::fmt;

/// One problem with one field of a request. `field` is a path such as `policy_goal.title` or
/// `policy_goal.targets[0].target_value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

/// Every way a registry operation can fail, independent of the transport.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The request is malformed; every violation is listed.
    #[error("invalid argument: {}", summarize(.0))]
    InvalidArgument(Vec<FieldViolation>),
    #[error("{resource_type} {name} not found")]
    NotFound { resource_type: &'static str, name: String },
    #[error("{resource_type} {name} already exists")]
    AlreadyExists { resource_type: &'static str, name: String },
    /// A concurrency conflict (etag mismatch, serialization failure): retry after re-reading.
    #[error("{message}")]
    Aborted { reason: &'static str, message: String },
    /// The system is not in the state the operation needs.
    #[error("{message}")]
    FailedPrecondition {
        reason: &'static str,
        message: String,
        resource: Option<String>,
    },
    /// A position outside the available range; `metadata` goes into ErrorInfo.
    #[error("{message}")]
    OutOfRange {
        reason: &'static str,
        message: String,
        metadata: Vec<(&'static str, String)>,
    },
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    DeadlineExceeded(String),
    /// Something went wrong inside; the message is logged, never sent to clients.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The error of one part of a batch (`part` = `requests[3]`): field paths become
    /// `requests[3].field`, precondition and conflict messages start with `requests[3]: `.
    pub fn within(self, part: &str) -> Error {
        match self {
            Error::InvalidArgument(v) => Error::InvalidArgument(
                v.into_iter()
                    .map(|f| FieldViolation {
                        field: format!("{part}.{}", f.field),
                        description: f.description,
                    })
                    .collect(),
            ),
            Error::FailedPrecondition {
                reason,
                message,
                resource,
            } => Error::FailedPrecondition {
                reason,
                message: format!("{part}: {message}"),
                resource,
            },
            Error::Aborted { reason, message } => Error::Aborted {
                reason,
                message: format!("{part}: {message}"),
            },
            other => other,
        }
    }
}

fn summarize(v: &[FieldViolation]) -> String {
    v.iter()
        .map(|f| format!("{}: {}", f.field, f.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// A single-field INVALID_ARGUMENT.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Error::InvalidArgument(vec![FieldViolation {
            field: field.into(),
            description: description.into(),
        }])
    }

    /// The stable UPPER_SNAKE reason carried in `google.rpc.ErrorInfo`.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::InvalidArgument(_) => "INVALID_ARGUMENT",
            Error::NotFound { .. } => "RESOURCE_NOT_FOUND",
            Error::AlreadyExists { .. } => "RESOURCE_ALREADY_EXISTS",
            Error::Aborted { reason, .. }
            | Error::FailedPrecondition { reason, .. }
            | Error::OutOfRange { reason, .. } => reason,
            Error::Unavailable(_) => "SERVICE_UNAVAILABLE",
            Error::DeadlineExceeded(_) => "DEADLINE_EXCEEDED",
            Error::Internal(_) => "INTERNAL",
        }
    }

    pub fn etag_mismatch(name: &str) -> Self {
        Error::Aborted {
            reason: "ETAG_MISMATCH",
            message: format!("etag does not match the current version of {name}; re-read and retry"),
        }
    }

    pub fn failed_precondition(reason: &'static str, message: impl Into<String>, resource: Option<String>) -> Self {
        Error::FailedPrecondition {
            reason,
            message: message.into(),
            resource,
        }
    }
}

/// Collects field violations so that a request is rejected with *all* its problems at once.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation {
            field: field.into(),
            description: description.into(),
        });
    }

    /// Records the violations of a nested result, keeping the valid value if any.
    pub fn take<T>(&mut self, result: Result<T, Error>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(Error::InvalidArgument(v)) => {
                self.0.extend(v);
                None
            }
            Err(other) => {
                self.add("", other.to_string());
                None
            }
        }
    }

    /// How many violations are recorded so far (to tell whether a sub-check added any).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing was recorded, otherwise INVALID_ARGUMENT with every violation.
    pub fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, Error> {
        if self.0.is_empty() {
            Ok(value())
        } else {
            Err(Error::InvalidArgument(self.0))
        }
    }

    pub fn into_vec(self) -> Vec<FieldViolation> {
        self.0
    }
}

impl fmt::Display for FieldViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.description)
    }
}
