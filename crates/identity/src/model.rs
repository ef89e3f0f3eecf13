//! What a valid user, password and API key look like.

use ordercrm_kernel::FieldError;

pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 256;
/// RFC 5321's limit on a forward path, so no longer email can be an account's.
pub const MAX_EMAIL_CHARS: usize = ordercrm_kernel::validation::MAX_EMAIL_CHARS;

/// Emails are unique regardless of case and surrounding spaces.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

pub fn check_password(field: &str, password: &str, email: &str) -> Result<(), FieldError> {
    let chars = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        return Err(FieldError::new(
            field,
            "length",
            format!("must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    if normalize_email(password) == normalize_email(email) {
        return Err(FieldError::new(
            field,
            "weak_password",
            "must not be the email address",
        ));
    }
    Ok(())
}

ordercrm_kernel::string_enum! {
    /// What an API key's integration is.
    pub ApiKeyKind {
        Ecommerce = "ecommerce",
        Logistics = "logistics",
        Erp = "erp",
        Other = "other",
    }
}

pub use ordercrm_kernel::authz::Scope;

/// A password as sent to be checked: never trimmed, at most
/// [`MAX_PASSWORD_CHARS`] characters (so it never costs an unbounded hash).
#[derive(Clone, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct Password(pub String);

/// A password being set: [`MIN_PASSWORD_CHARS`] to [`MAX_PASSWORD_CHARS`] characters.
#[derive(Clone, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct NewPassword(pub String);

// Never in logs.
impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(..)")
    }
}

fn password_schema(min: usize) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::Password,
        )))
        .min_length((min > 0).then_some(min))
        .max_length(Some(MAX_PASSWORD_CHARS))
        // No NUL, as in any text the API takes.
        .pattern(Some(ordercrm_kernel::input::TEXT_PATTERN))
        .into()
}

impl utoipa::PartialSchema for Password {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        password_schema(0)
    }
}

impl utoipa::ToSchema for Password {}

impl utoipa::PartialSchema for NewPassword {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        password_schema(MIN_PASSWORD_CHARS)
    }
}

impl utoipa::ToSchema for NewPassword {}
