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

/// The stable UPPER_SNAKE `reason` carried in `google.rpc.ErrorInfo` with every refusal: one
/// enum, so the same meaning always gets the same reason (AIP-193).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    InvalidArgument,
    ResourceNotFound,
    ResourceAlreadyExists,
    EtagMismatch,
    ConcurrentModification,
    ResourceDeleted,
    ReferenceViolation,
    ParentNotFound,
    ParentDeleted,
    ParentCycle,
    HasLiveChildren,
    LinkedByPartners,
    LinkedByGoals,
    LinkedByRisks,
    MemberOfGroups,
    MemberNotACountry,
    PartnerNotFound,
    PartnerDeleted,
    GoalNotFound,
    GoalDeleted,
    AgreementNotFound,
    AgreementDeleted,
    ProductSetNotFound,
    ProductSetDeleted,
    /// A partner that live agreements name as a party.
    PartyToAgreements,
    InvalidStateTransition,
    MetricNotATarget,
    SequenceCompacted,
    ReadTimeBeforeHistory,
    /// No credentials, or not a bearer token.
    CredentialsMissing,
    /// A token that is unknown, revoked or expired.
    TokenInvalid,
    /// The token's role is below the method's.
    RoleTooLow,
    /// The method is not in the role table.
    MethodNotAllowed,
    RateLimited,
    /// Too many failed authentications from one peer address: wait before retrying.
    TooManyFailedAttempts,
    /// A token (or the server as a whole) holds as many change streams as it may.
    TooManyStreams,
    /// The server is at its limit of requests in flight: retry with backoff.
    Overloaded,
    /// A watcher that fell too far behind the change feed.
    WatcherLagging,
    /// The server is stopping (or the feed stopped): resume elsewhere.
    ShuttingDown,
    ServiceUnavailable,
    DeadlineExceeded,
    Internal,
}

impl Reason {
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::InvalidArgument => "INVALID_ARGUMENT",
            Reason::ResourceNotFound => "RESOURCE_NOT_FOUND",
            Reason::ResourceAlreadyExists => "RESOURCE_ALREADY_EXISTS",
            Reason::EtagMismatch => "ETAG_MISMATCH",
            Reason::ConcurrentModification => "CONCURRENT_MODIFICATION",
            Reason::ResourceDeleted => "RESOURCE_DELETED",
            Reason::ReferenceViolation => "REFERENCE_VIOLATION",
            Reason::ParentNotFound => "PARENT_NOT_FOUND",
            Reason::ParentDeleted => "PARENT_DELETED",
            Reason::ParentCycle => "PARENT_CYCLE",
            Reason::HasLiveChildren => "HAS_LIVE_CHILDREN",
            Reason::LinkedByPartners => "LINKED_BY_PARTNERS",
            Reason::LinkedByGoals => "LINKED_BY_GOALS",
            Reason::LinkedByRisks => "LINKED_BY_RISKS",
            Reason::MemberOfGroups => "MEMBER_OF_GROUPS",
            Reason::MemberNotACountry => "MEMBER_NOT_A_COUNTRY",
            Reason::PartnerNotFound => "PARTNER_NOT_FOUND",
            Reason::PartnerDeleted => "PARTNER_DELETED",
            Reason::GoalNotFound => "GOAL_NOT_FOUND",
            Reason::GoalDeleted => "GOAL_DELETED",
            Reason::AgreementNotFound => "AGREEMENT_NOT_FOUND",
            Reason::AgreementDeleted => "AGREEMENT_DELETED",
            Reason::ProductSetNotFound => "PRODUCT_SET_NOT_FOUND",
            Reason::ProductSetDeleted => "PRODUCT_SET_DELETED",
            Reason::PartyToAgreements => "PARTY_TO_AGREEMENTS",
            Reason::InvalidStateTransition => "INVALID_STATE_TRANSITION",
            Reason::MetricNotATarget => "METRIC_NOT_A_TARGET",
            Reason::SequenceCompacted => "SEQUENCE_COMPACTED",
            Reason::ReadTimeBeforeHistory => "READ_TIME_BEFORE_HISTORY",
            Reason::CredentialsMissing => "CREDENTIALS_MISSING",
            Reason::TokenInvalid => "TOKEN_INVALID",
            Reason::RoleTooLow => "ROLE_TOO_LOW",
            Reason::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Reason::RateLimited => "RATE_LIMITED",
            Reason::TooManyFailedAttempts => "TOO_MANY_FAILED_ATTEMPTS",
            Reason::TooManyStreams => "TOO_MANY_STREAMS",
            Reason::Overloaded => "OVERLOADED",
            Reason::WatcherLagging => "WATCHER_LAGGING",
            Reason::ShuttingDown => "SHUTTING_DOWN",
            Reason::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            Reason::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Reason::Internal => "INTERNAL",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
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
    Aborted { reason: Reason, message: String },
    /// The system is not in the state the operation needs.
    #[error("{message}")]
    FailedPrecondition {
        reason: Reason,
        message: String,
        resource: Option<String>,
    },
    /// A position outside the available range; `metadata` goes into ErrorInfo.
    #[error("{message}")]
    OutOfRange {
        reason: Reason,
        message: String,
        metadata: Vec<(&'static str, String)>,
    },
    /// Who is calling is not known (no, malformed or invalid credentials).
    #[error("{message}")]
    Unauthenticated { reason: Reason, message: String },
    /// The caller may not do this.
    #[error("{message}")]
    PermissionDenied { reason: Reason, message: String },
    /// A quota or bound is exhausted (rate limit, a watcher's buffer).
    #[error("{message}")]
    ResourceExhausted { reason: Reason, message: String },
    /// The database is unreachable; the cause is logged, clients are told to retry.
    #[error("{0}")]
    Unavailable(String),
    /// The server or the feed is stopping; the message (where to resume) is sent.
    #[error("{message}")]
    Stopping { message: String },
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

    /// The stable reason carried in `google.rpc.ErrorInfo`.
    pub fn reason(&self) -> Reason {
        match self {
            Error::InvalidArgument(_) => Reason::InvalidArgument,
            Error::NotFound { .. } => Reason::ResourceNotFound,
            Error::AlreadyExists { .. } => Reason::ResourceAlreadyExists,
            Error::Aborted { reason, .. }
            | Error::FailedPrecondition { reason, .. }
            | Error::OutOfRange { reason, .. }
            | Error::Unauthenticated { reason, .. }
            | Error::PermissionDenied { reason, .. }
            | Error::ResourceExhausted { reason, .. } => *reason,
            Error::Unavailable(_) => Reason::ServiceUnavailable,
            Error::Stopping { .. } => Reason::ShuttingDown,
            Error::DeadlineExceeded(_) => Reason::DeadlineExceeded,
            Error::Internal(_) => Reason::Internal,
        }
    }

    pub fn etag_mismatch(name: &str) -> Self {
        Error::Aborted {
            reason: Reason::EtagMismatch,
            message: format!("etag does not match the current version of {name}; re-read and retry"),
        }
    }

    pub fn failed_precondition(reason: Reason, message: impl Into<String>, resource: Option<String>) -> Self {
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

    /// The values parsed beside these violations (an `Option` or a tuple of them), when all
    /// are there and nothing was recorded; otherwise INVALID_ARGUMENT with every violation.
    pub fn values<T: AllSome>(self, values: T) -> Result<T::Values, Error> {
        match values.all_some() {
            Some(values) if self.0.is_empty() => Ok(values),
            _ => Err(Error::InvalidArgument(self.0)),
        }
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

/// An `Option` or a tuple of them: [`Violations::values`].
pub trait AllSome {
    type Values;
    fn all_some(self) -> Option<Self::Values>;
}

impl<T> AllSome for Option<T> {
    type Values = T;
    fn all_some(self) -> Option<T> {
        self
    }
}

macro_rules! all_some {
    ($($t:ident),+) => {
        impl<$($t),+> AllSome for ($(Option<$t>,)+) {
            type Values = ($($t,)+);
            #[allow(non_snake_case)]
            fn all_some(self) -> Option<Self::Values> {
                let ($($t,)+) = self;
                Some(($($t?,)+))
            }
        }
    };
}
all_some!(A, B);
all_some!(A, B, C);
