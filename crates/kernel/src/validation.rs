//! The checks behind the kernel's input types (`crate::input`): each rule is written
//! once here, and the type's schema states the same rule from the same constant.

use crate::error::FieldError;

/// Optional text: trimmed, empty as absent, at most `max` characters.
pub fn optional(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: Option<String>,
    max: usize,
) -> Option<String> {
    let v = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    if v.as_ref().is_some_and(|v| v.chars().count() > max) {
        errors.push(FieldError::new(
            field,
            "length",
            format!("must be at most {max} characters"),
        ));
    }
    v
}

/// Required text: trimmed, 1..=max characters.
pub fn required(errors: &mut Vec<FieldError>, field: &str, value: &str, max: usize) -> String {
    let v = value.trim().to_owned();
    if !(1..=max).contains(&v.chars().count()) {
        errors.push(FieldError::new(
            field,
            "length",
            format!("must be 1 to {max} characters"),
        ));
    }
    v
}

pub const MAX_ATTRIBUTES_BYTES: usize = 4096;

/// A small JSON object for a client's own fields.
pub fn attributes(errors: &mut Vec<FieldError>, value: Option<&serde_json::Value>) {
    if let Some(v) = value {
        if !v.is_object() {
            errors.push(FieldError::new(
                "attributes",
                "invalid_type",
                "must be a JSON object",
            ));
        } else if v.to_string().len() > MAX_ATTRIBUTES_BYTES {
            errors.push(FieldError::new(
                "attributes",
                "length",
                format!("must be at most {MAX_ATTRIBUTES_BYTES} bytes as JSON"),
            ));
        }
    }
}

/// An identity in another system: `shopify:1001`, `erp:MAT-7`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExternalRef {
    /// The system, e.g. `shopify`, `tmall`, `erp`.
    #[schema(example = "tmall")]
    pub channel: crate::input::NonBlank<50>,
    #[schema(example = "TM-99812")]
    pub external_id: crate::input::NonBlank<200>,
}

impl ExternalRef {
    pub fn new(channel: impl Into<String>, external_id: impl Into<String>) -> Self {
        Self {
            channel: crate::input::NonBlank(channel.into()),
            external_id: crate::input::NonBlank(external_id.into()),
        }
    }

    /// Channel 1-50 and id 1-200 characters, trimmed.
    pub fn is_well_formed(&self) -> bool {
        let mut errors = Vec::new();
        self.channel.check(&mut errors, "channel");
        self.external_id.check(&mut errors, "external_id");
        errors.is_empty()
    }
}

pub const MAX_EMAIL_CHARS: usize = 254;
pub const MAX_PHONE_CHARS: usize = 40;

/// An email address: something@domain.tld, no spaces, at most 254 characters.
pub fn email(errors: &mut Vec<FieldError>, field: &str, value: Option<&str>) {
    if let Some(email) = value.map(str::trim).filter(|e| !e.is_empty()) {
        let (local, domain) = email.split_once('@').unwrap_or(("", ""));
        if local.is_empty()
            || !domain.contains('.')
            || email.chars().count() > MAX_EMAIL_CHARS
            || email.contains(char::is_whitespace)
        {
            errors.push(FieldError::new(field, "email", "must be an email address"));
        }
    }
}

/// A phone number: 5 to 20 digits, written with digits, spaces and `+-().`.
pub fn phone(errors: &mut Vec<FieldError>, field: &str, value: Option<&str>) {
    if let Some(phone) = value.map(str::trim).filter(|p| !p.is_empty()) {
        let digits = phone.chars().filter(char::is_ascii_digit).count();
        let allowed = phone
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c));
        if !(5..=20).contains(&digits) || !allowed || phone.chars().count() > MAX_PHONE_CHARS {
            errors.push(FieldError::new(
                field,
                "phone",
                "must be a phone number of 5 to 20 digits, at most 40 characters",
            ));
        }
    }
}
