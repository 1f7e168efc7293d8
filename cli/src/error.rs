//! CLI errors: one readable line (plus each field violation) and a distinct exit code.

use registry_client::Error as ApiError;

/// Exit codes (documented in the README).
pub mod exit {
    /// Anything else: invalid data, failed precondition, I/O, internal errors.
    pub const FAILURE: u8 = 1;
    /// The command line is wrong (clap uses 2 as well).
    pub const USAGE: u8 = 2;
    /// The resource does not exist.
    pub const NOT_FOUND: u8 = 3;
    /// Already exists, or a concurrency conflict (etag mismatch, aborted).
    pub const CONFLICT: u8 = 4;
    /// Missing/invalid token, or too small a role.
    pub const AUTH: u8 = 5;
    /// The server cannot be reached, is not serving, or timed out.
    pub const UNAVAILABLE: u8 = 6;
}

/// An error of a command.
#[derive(Debug)]
pub enum CliError {
    /// Wrong use of the command line.
    Usage(String),
    /// An API error, with what the CLI was doing.
    Api { context: String, error: ApiError },
    /// Anything else (files, data), with optional detail lines.
    Other { message: String, details: Vec<String> },
    /// Exit with this code after having printed everything already.
    Exit(u8),
}

pub type CliResult<T = ()> = Result<T, CliError>;

impl CliError {
    pub fn other(message: impl Into<String>) -> Self {
        CliError::Other {
            message: message.into(),
            details: Vec::new(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        CliError::Usage(message.into())
    }

    /// The exit code.
    pub fn code(&self) -> u8 {
        match self {
            CliError::Usage(_) => exit::USAGE,
            CliError::Other { .. } => exit::FAILURE,
            CliError::Exit(c) => *c,
            CliError::Api { error, .. } => api_code(error),
        }
    }

    /// The lines to print on stderr.
    pub fn lines(&self) -> Vec<String> {
        match self {
            CliError::Usage(m) => vec![format!("error: {m}")],
            CliError::Other { message, details } => {
                let mut out = vec![format!("error: {message}")];
                out.extend(details.iter().map(|d| format!("  - {d}")));
                out
            }
            CliError::Exit(_) => Vec::new(),
            CliError::Api { context, error } => {
                let mut out = vec![if context.is_empty() {
                    format!("error: {}", describe(error))
                } else {
                    format!("error: {context}: {}", describe(error))
                }];
                out.extend(violation_lines(error));
                out
            }
        }
    }
}

/// The exit code of an API error.
pub fn api_code(e: &ApiError) -> u8 {
    match e {
        ApiError::NotFound { .. } => exit::NOT_FOUND,
        ApiError::AlreadyExists { .. } | ApiError::Aborted { .. } => exit::CONFLICT,
        ApiError::Unauthenticated { .. } | ApiError::PermissionDenied { .. } => exit::AUTH,
        ApiError::Unavailable { .. } | ApiError::Transport(_) | ApiError::DeadlineExceeded { .. } => exit::UNAVAILABLE,
        _ => exit::FAILURE,
    }
}

/// One line for an API error, with its stable reason when there is one.
pub fn describe(e: &ApiError) -> String {
    let base = match e {
        // The violations follow, one per line; the message only repeats them.
        ApiError::InvalidArgument { violations, .. } if !violations.is_empty() => "invalid argument".to_owned(),
        ApiError::Transport(m) => format!("cannot reach the server: {m}"),
        other => other.to_string(),
    };
    match e.reason() {
        Some(r) if !r.is_empty() && !base.contains(r) => format!("{base} [{r}]"),
        _ => base,
    }
}

/// `  - field: description` for each field violation.
pub fn violation_lines(e: &ApiError) -> Vec<String> {
    match e {
        ApiError::InvalidArgument { violations, .. } => violations
            .iter()
            .map(|v| {
                if v.field.is_empty() {
                    format!("  - {}", v.description)
                } else {
                    format!("  - {}: {}", v.field, v.description)
                }
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Adds what the CLI was doing to an API error.
pub trait Context<T> {
    fn context(self, what: impl Into<String>) -> CliResult<T>;
}

impl<T> Context<T> for Result<T, ApiError> {
    fn context(self, what: impl Into<String>) -> CliResult<T> {
        self.map_err(|error| CliError::Api {
            context: what.into(),
            error,
        })
    }
}

impl From<ApiError> for CliError {
    fn from(error: ApiError) -> Self {
        CliError::Api {
            context: String::new(),
            error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use registry_client::FieldViolation;

    #[test]
    fn codes_are_distinct_per_class() {
        let nf = ApiError::NotFound {
            message: "x".into(),
            resource_name: None,
        };
        let conflict = ApiError::Aborted {
            message: "etag".into(),
            reason: "ETAG_MISMATCH".into(),
        };
        let auth = ApiError::Unauthenticated { message: "no".into() };
        let down = ApiError::Transport("refused".into());
        let codes = [
            api_code(&nf),
            api_code(&conflict),
            api_code(&auth),
            api_code(&down),
            exit::USAGE,
        ];
        let mut dedup = codes.to_vec();
        dedup.sort_unstable();
        dedup.dedup();
        assert_eq!(dedup.len(), codes.len());
        assert_eq!(describe(&conflict), "aborted: etag [ETAG_MISMATCH]");
    }

    #[test]
    fn violations_are_listed_one_per_line() {
        let e: CliError = ApiError::InvalidArgument {
            message: "2 problems".into(),
            violations: vec![
                FieldViolation {
                    field: "policy_goal.title".into(),
                    description: "is required".into(),
                },
                FieldViolation {
                    field: "policy_goal.pillar".into(),
                    description: "is required".into(),
                },
            ],
        }
        .into();
        assert_eq!(
            e.lines(),
            vec![
                "error: invalid argument",
                "  - policy_goal.title: is required",
                "  - policy_goal.pillar: is required"
            ]
        );
        assert_eq!(e.code(), exit::FAILURE);
    }
}
