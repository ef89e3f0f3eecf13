//! What a valid user, password and API key look like.

use ordercrm_kernel::FieldError;
use validator::ValidateEmail;

pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 256;
/// The longest password a request may carry (256 characters of 4-byte UTF-8).
pub const MAX_PASSWORD_BYTES: usize = 4 * MAX_PASSWORD_CHARS;
/// RFC 5321's limit on a forward path, so no longer email can be an account's.
pub const MAX_EMAIL_BYTES: usize = 254;

/// Emails are unique regardless of case and surrounding spaces.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

pub fn check_email(email: &str) -> Result<(), FieldError> {
    if email.trim().validate_email() && email.len() <= MAX_EMAIL_BYTES {
        Ok(())
    } else {
        Err(FieldError::new(
            "email",
            "email",
            "must be an email address",
        ))
    }
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

pub fn check_display_name(name: &str) -> Result<(), FieldError> {
    let n = name.trim().chars().count();
    if (1..=100).contains(&n) {
        Ok(())
    } else {
        Err(FieldError::new(
            "display_name",
            "length",
            "must be 1 to 100 characters",
        ))
    }
}

pub const KEY_KINDS: &[&str] = &["ecommerce", "logistics", "erp", "other"];
