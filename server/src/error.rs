//! The one mapping from domain/store errors to `tonic::Status`, with rich error details:
//! `ErrorInfo` (stable reason + domain) on every error, `BadRequest` listing every field
//! violation, `ResourceInfo` for NOT_FOUND / ALREADY_EXISTS, `PreconditionFailure` where a
//! precondition names a resource. Internal details are logged, never sent.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::domain::Error;

/// The `ErrorInfo.domain` of every registry error.
pub const ERROR_DOMAIN: &str = "registry.motie.go.kr";

impl From<Error> for Status {
    fn from(e: Error) -> Status {
        to_status(e)
    }
}

pub fn to_status(e: Error) -> Status {
    let mut details = ErrorDetails::new();
    details.set_error_info(e.reason().as_str(), ERROR_DOMAIN, HashMap::new());
    let (code, message) = match &e {
        Error::InvalidArgument(violations) => {
            for v in violations {
                details.add_bad_request_violation(v.field.clone(), v.description.clone());
            }
            (Code::InvalidArgument, e.to_string())
        }
        Error::NotFound { resource_type, name } => {
            details.set_resource_info(*resource_type, name.clone(), "", "not found");
            (Code::NotFound, e.to_string())
        }
        Error::AlreadyExists { resource_type, name } => {
            details.set_resource_info(*resource_type, name.clone(), "", "already exists");
            (Code::AlreadyExists, e.to_string())
        }
        Error::Aborted { message, .. } => (Code::Aborted, message.clone()),
        Error::FailedPrecondition {
            reason,
            message,
            resource,
        } => {
            if let Some(r) = resource {
                details.add_precondition_failure_violation(reason.as_str(), r.clone(), message.clone());
            }
            (Code::FailedPrecondition, message.clone())
        }
        Error::OutOfRange { message, metadata, .. } => {
            let metadata: HashMap<String, String> =
                metadata.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
            details.set_error_info(e.reason().as_str(), ERROR_DOMAIN, metadata);
            (Code::OutOfRange, message.clone())
        }
        Error::Unavailable(m) => {
            tracing::warn!(error = %m, "unavailable");
            details.set_retry_info(Some(std::time::Duration::from_millis(500)));
            (
                Code::Unavailable,
                "the registry is temporarily unavailable; retry later".to_owned(),
            )
        }
        Error::Unauthenticated { message, .. } => (Code::Unauthenticated, message.clone()),
        Error::PermissionDenied { message, .. } => (Code::PermissionDenied, message.clone()),
        Error::ResourceExhausted { message, .. } => (Code::ResourceExhausted, message.clone()),
        Error::Stopping { message } => (Code::Unavailable, message.clone()),
        Error::DeadlineExceeded(m) => (Code::DeadlineExceeded, m.clone()),
        Error::Internal(m) => {
            tracing::error!(error = %m, "internal error");
            (Code::Internal, "internal error".to_owned())
        }
    };
    Status::with_error_details(code, message, details)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::FieldViolation;

    #[test]
    fn invalid_argument_lists_every_violation() {
        let s = to_status(Error::InvalidArgument(vec![
            FieldViolation {
                field: "a".into(),
                description: "x".into(),
            },
            FieldViolation {
                field: "b".into(),
                description: "y".into(),
            },
        ]));
        assert_eq!(s.code(), Code::InvalidArgument);
        let d = s.get_error_details();
        assert_eq!(d.bad_request().map(|b| b.field_violations.len()), Some(2));
        assert_eq!(d.error_info().map(|i| i.reason.as_str()), Some("INVALID_ARGUMENT"));
    }

    #[test]
    fn internal_errors_do_not_leak() {
        let s = to_status(Error::Internal("SELECT secret FROM x failed".into()));
        assert_eq!(s.code(), Code::Internal);
        assert!(!s.message().contains("SELECT"));
    }
}
