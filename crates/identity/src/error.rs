use ordercrm_kernel::error::problems;
use ordercrm_kernel::{Error, ProblemType};

/// A change that needs the caller's current password, sent wrong.
pub const WRONG_PASSWORD: ProblemType = ProblemType {
    slug: "wrong-password",
    title: "Wrong current password",
    status: 403,
    description: "The `current_password` is not yours: the request is refused, not invalid. \
        It counts as a failed sign-in from your address, so repeating it leads to 429.",
};

pub const ALL: &[ProblemType] = &[WRONG_PASSWORD];

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("invalid email or password")]
    BadCredentials,
    #[error("the access token is invalid or expired")]
    BadToken,
    #[error("the refresh token is invalid, expired or already used")]
    BadRefreshToken,
    #[error("the API key is invalid, revoked or expired")]
    BadApiKey,
    #[error(
        "too many failed attempts for this account from your address; retry in {retry_after} s"
    )]
    Throttled { retry_after: i64 },
    #[error("user '{0}' was not found")]
    UserNotFound(String),
    #[error("API key '{0}' was not found")]
    KeyNotFound(String),
    #[error("a user with email {0} already exists")]
    EmailTaken(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("current_password: is not your current password")]
    WrongPassword,
}

impl From<IdentityError> for Error {
    fn from(err: IdentityError) -> Self {
        let detail = err.to_string();
        match err {
            IdentityError::BadCredentials
            | IdentityError::BadToken
            | IdentityError::BadRefreshToken
            | IdentityError::BadApiKey => Error::new(problems::UNAUTHENTICATED, detail),
            IdentityError::Throttled { retry_after } => Error::new(problems::RATE_LIMITED, detail)
                .with_extension("retry_after", serde_json::json!(retry_after)),
            IdentityError::UserNotFound(id) => Error::not_found("user", id),
            IdentityError::KeyNotFound(id) => Error::not_found("API key", id),
            IdentityError::EmailTaken(_) => Error::new(problems::ALREADY_EXISTS, detail),
            IdentityError::Forbidden(why) => Error::new(problems::FORBIDDEN, why),
            IdentityError::WrongPassword => Error::new(WRONG_PASSWORD, detail).with_extension(
                "errors",
                serde_json::json!([{"field": "current_password", "code": "mismatch",
                        "message": "is not your current password"}]),
            ),
        }
    }
}
