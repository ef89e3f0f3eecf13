//! `validator` errors as field errors with client-usable paths.

use validator::{ValidationErrors, ValidationErrorsKind};

use crate::error::FieldError;

/// Flatten nested `validator` errors into `lines[0].quantity`-style paths.
pub fn field_errors(errors: &ValidationErrors) -> Vec<FieldError> {
    let mut out = Vec::new();
    collect(errors, "", &mut out);
    out.sort_by(|a, b| a.field.cmp(&b.field));
    out
}

fn collect(errors: &ValidationErrors, prefix: &str, out: &mut Vec<FieldError>) {
    for (field, kind) in errors.errors() {
        let path = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                for e in list {
                    let message = e
                        .message
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_else(|| default_message(&e.code, &e.params));
                    out.push(FieldError::new(path.clone(), e.code.to_string(), message));
                }
            }
            ValidationErrorsKind::Struct(inner) => collect(inner, &path, out),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    collect(inner, &format!("{path}[{index}]"), out);
                }
            }
        }
    }
}

fn default_message(
    code: &str,
    params: &std::collections::HashMap<std::borrow::Cow<'static, str>, serde_json::Value>,
) -> String {
    let bound = |k: &str| params.get(k).map(ToString::to_string);
    match code {
        "length" => match (bound("min"), bound("max")) {
            (Some(min), Some(max)) => format!("length must be between {min} and {max}"),
            (Some(min), None) => format!("length must be at least {min}"),
            (None, Some(max)) => format!("length must be at most {max}"),
            _ => "invalid length".to_owned(),
        },
        "range" => match (bound("min"), bound("max")) {
            (Some(min), Some(max)) => format!("must be between {min} and {max}"),
            (Some(min), None) => format!("must be at least {min}"),
            (None, Some(max)) => format!("must be at most {max}"),
            _ => "out of range".to_owned(),
        },
        "email" => "must be an email address".to_owned(),
        "required" => "is required".to_owned(),
        other => format!("failed check '{other}'"),
    }
}
