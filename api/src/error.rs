//! The one error type at the GraphQL boundary, with stable `extensions.code` values.

use async_graphql::ErrorExtensions;
use chrono::{DateTime, Utc};

/// Stable machine-readable error codes; clients switch on these, never on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The caller must sign in.
    Unauthenticated,
    /// The caller is signed in but may not do this.
    Forbidden,
    /// The thing asked for does not exist (or the caller may not know it does).
    NotFound,
    /// The request itself is wrong: syntax, shape, limits or values.
    BadUserInput,
    /// The request clashes with the current state (taken name, stale version).
    Conflict,
    /// A balance would go below zero.
    InsufficientFunds,
    /// Too many requests; retry later.
    RateLimited,
    /// The caller or their address is banned.
    Banned,
    /// Nothing can serve the request now (no game server with room); retry later.
    Unavailable,
    /// Arena failed; nothing about the cause is shown.
    Internal,
}

impl ErrorCode {
    /// Every code, for metrics and documentation.
    pub const ALL: [ErrorCode; 10] = [
        Self::Unauthenticated,
        Self::Forbidden,
        Self::NotFound,
        Self::BadUserInput,
        Self::Conflict,
        Self::InsufficientFunds,
        Self::RateLimited,
        Self::Banned,
        Self::Unavailable,
        Self::Internal,
    ];

    /// The value of `extensions.code`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound => "NOT_FOUND",
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::Conflict => "CONFLICT",
            Self::InsufficientFunds => "INSUFFICIENT_FUNDS",
            Self::RateLimited => "RATE_LIMITED",
            Self::Banned => "BANNED",
            Self::Unavailable => "UNAVAILABLE",
            Self::Internal => "INTERNAL",
        }
    }
}

/// Why a request was refused before any resolver ran; sent as `extensions.reason`
/// beside `code: BAD_USER_INPUT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestFault {
    /// The HTTP body is not a GraphQL request.
    MalformedRequest,
    /// The body is larger than `ARENA_BODY_LIMIT_BYTES`.
    BodyTooLarge,
    /// The query text does not parse.
    ParseFailed,
    /// The query does not fit the schema (unknown field, wrong argument).
    ValidationFailed,
    /// The query nests deeper than `ARENA_GRAPHQL_DEPTH_LIMIT`.
    DepthLimit,
    /// The query selects more than `ARENA_GRAPHQL_COMPLEXITY_LIMIT` allows.
    ComplexityLimit,
    /// A string in the query or its variables holds a control character (NUL included);
    /// tab, line feed and carriage return are allowed.
    ControlCharacter,
}

impl RequestFault {
    /// The value of `extensions.reason`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MalformedRequest => "MALFORMED_REQUEST",
            Self::BodyTooLarge => "BODY_TOO_LARGE",
            Self::ParseFailed => "PARSE_FAILED",
            Self::ValidationFailed => "VALIDATION_FAILED",
            Self::DepthLimit => "DEPTH_LIMIT",
            Self::ComplexityLimit => "COMPLEXITY_LIMIT",
            Self::ControlCharacter => "CONTROL_CHARACTER",
        }
    }
}

/// Every error a service can return to a client.
///
/// It has no `Display` on purpose: async-graphql converts any `Display` type into an error
/// without a code, so without `Display` the only way into a GraphQL error is
/// [`From<ApiError>`] below, which always sets `extensions.code` and hides internal causes.
#[derive(Debug)]
pub enum ApiError {
    /// See [`ErrorCode::Unauthenticated`]; says why (no token, expired, wrong credentials).
    Unauthenticated(&'static str),
    /// See [`ErrorCode::Forbidden`].
    Forbidden,
    /// See [`ErrorCode::NotFound`]; names what was not found.
    NotFound(&'static str),
    /// See [`ErrorCode::BadUserInput`]; `field` names the input at fault.
    BadUserInput {
        /// The argument or input field at fault.
        field: &'static str,
        /// What is wrong, in words a player can act on.
        message: String,
    },
    /// See [`ErrorCode::Conflict`].
    Conflict(String),
    /// See [`ErrorCode::InsufficientFunds`].
    InsufficientFunds,
    /// See [`ErrorCode::RateLimited`].
    RateLimited {
        /// Seconds until a retry can succeed.
        retry_after_seconds: u64,
    },
    /// See [`ErrorCode::Banned`].
    Banned {
        /// The reason the moderator gave.
        reason: String,
        /// When the ban ends; `None` is permanent.
        until: Option<DateTime<Utc>>,
    },
    /// See [`ErrorCode::Unavailable`]; says what is missing.
    Unavailable(String),
    /// A database failure; reaches clients as `INTERNAL`.
    Db(sea_orm::DbErr),
    /// A Redis failure; reaches clients as `INTERNAL`.
    Redis(redis::RedisError),
    /// Any other failure; reaches clients as `INTERNAL`.
    Internal(anyhow::Error),
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::Db(err)
    }
}

/// A constraint the database refused to break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    /// A unique index or primary key.
    Unique,
    /// A foreign key: the row referred to does not exist (or is still referred to).
    ForeignKey,
    /// A `CHECK` constraint.
    Check,
    /// A `NOT NULL` column.
    NotNull,
}

impl Violation {
    /// The constraint `err` broke, on either backend; `None` for any other failure.
    pub fn of(err: &sea_orm::DbErr) -> Option<Self> {
        use sea_orm::{DbErr, RuntimeErr, sqlx::error::ErrorKind};
        let (DbErr::Exec(RuntimeErr::SqlxError(err)) | DbErr::Query(RuntimeErr::SqlxError(err))) =
            err
        else {
            return None;
        };
        match err.as_database_error()?.kind() {
            ErrorKind::UniqueViolation => Some(Self::Unique),
            ErrorKind::ForeignKeyViolation => Some(Self::ForeignKey),
            ErrorKind::CheckViolation => Some(Self::Check),
            ErrorKind::NotNullViolation => Some(Self::NotNull),
            _ => None,
        }
    }
}

/// Turns the constraint violations a caller expects into the errors its client should see;
/// every other database failure stays `INTERNAL`. The one place database errors are mapped.
pub trait OnViolation<T> {
    /// `map` names the error for a violation, or `None` to leave it internal.
    fn on_violation(self, map: impl FnOnce(Violation) -> Option<ApiError>) -> ApiResult<T>;

    /// A unique violation answers `CONFLICT` with `message`.
    fn on_unique(self, message: &str) -> ApiResult<T>
    where
        Self: Sized,
    {
        self.on_violation(|v| (v == Violation::Unique).then(|| ApiError::Conflict(message.into())))
    }
}

impl<T> OnViolation<T> for Result<T, sea_orm::DbErr> {
    fn on_violation(self, map: impl FnOnce(Violation) -> Option<ApiError>) -> ApiResult<T> {
        self.map_err(|err| match Violation::of(&err).and_then(map) {
            Some(mapped) => mapped,
            None => ApiError::Db(err),
        })
    }
}

impl From<redis::RedisError> for ApiError {
    fn from(err: redis::RedisError) -> Self {
        Self::Redis(err)
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        Self::Internal(err)
    }
}

impl ApiError {
    /// Shorthand for a [`ApiError::BadUserInput`].
    pub fn bad_input(field: &'static str, message: impl Into<String>) -> Self {
        Self::BadUserInput {
            field,
            message: message.into(),
        }
    }

    /// The stable code clients see.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Unauthenticated(_) => ErrorCode::Unauthenticated,
            Self::Forbidden => ErrorCode::Forbidden,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::BadUserInput { .. } => ErrorCode::BadUserInput,
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::InsufficientFunds => ErrorCode::InsufficientFunds,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::Banned { .. } => ErrorCode::Banned,
            Self::Unavailable(_) => ErrorCode::Unavailable,
            Self::Db(_) | Self::Redis(_) | Self::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The message clients see; internal failures say nothing about their cause.
    pub fn message(&self) -> String {
        match self {
            Self::Unauthenticated(why) => (*why).to_owned(),
            Self::Forbidden => "you may not do this".into(),
            Self::NotFound(what) => format!("{what} not found"),
            Self::BadUserInput { message, .. }
            | Self::Conflict(message)
            | Self::Unavailable(message) => message.clone(),
            Self::InsufficientFunds => "insufficient funds".into(),
            Self::RateLimited {
                retry_after_seconds,
            } => format!("too many requests; retry in {retry_after_seconds} s"),
            Self::Banned { reason, until } => match until {
                Some(until) => format!("banned until {}: {reason}", until.to_rfc3339()),
                None => format!("banned: {reason}"),
            },
            Self::Db(_) | Self::Redis(_) | Self::Internal(_) => "internal error".into(),
        }
    }

    /// Logs the cause of an internal failure, inside the span that carries the request id.
    fn log_cause(&self) {
        match self {
            Self::Db(err) => tracing::error!(error = %err, "database failure"),
            Self::Redis(err) => tracing::error!(error = %err, "redis failure"),
            Self::Internal(err) => tracing::error!(error = ?err, "internal failure"),
            _ => {}
        }
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(err: ApiError) -> Self {
        err.log_cause();
        let code = err.code();
        let message = err.message();
        async_graphql::Error::new(message).extend_with(|_, ext| {
            ext.set("code", code.as_str());
            match &err {
                ApiError::BadUserInput { field, .. } => ext.set("field", *field),
                ApiError::RateLimited {
                    retry_after_seconds,
                } => ext.set("retryAfterSeconds", *retry_after_seconds),
                ApiError::Banned { reason, until } => {
                    ext.set("reason", reason.as_str());
                    ext.set(
                        "until",
                        until.map_or(async_graphql::Value::Null, |t| t.to_rfc3339().into()),
                    );
                }
                _ => {}
            }
        })
    }
}

/// The result type of resolvers and services.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(err: &async_graphql::Error) -> Option<String> {
        let value = err.extensions.as_ref()?.get("code")?;
        match value {
            async_graphql::Value::String(code) => Some(code.clone()),
            _ => None,
        }
    }

    #[test]
    fn question_mark_keeps_the_code() {
        fn resolver() -> async_graphql::Result<()> {
            Err(ApiError::bad_input("name", "too short"))?;
            Ok(())
        }
        let err = resolver().expect_err("fails");
        assert_eq!(code_of(&err).as_deref(), Some("BAD_USER_INPUT"));
        assert_eq!(err.message, "too short");
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let err = async_graphql::Error::from(ApiError::Db(sea_orm::DbErr::Custom(
            "relation users does not exist".into(),
        )));
        assert_eq!(err.message, "internal error");
        assert_eq!(code_of(&err).as_deref(), Some("INTERNAL"));
    }

    #[test]
    fn codes_are_distinct() {
        let mut names: Vec<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len());
    }
}
