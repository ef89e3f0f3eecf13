//! What a valid customer is, and the derived forms the database keeps.

use ordercrm_kernel::{Currency, FieldError};

pub const KINDS: &[&str] = &["person", "company"];
pub const SIZE_BANDS: &[&str] = &["1-9", "10-49", "50-249", "250-999", "1000+"];
pub const MAX_TAGS: usize = 20;
pub use ordercrm_kernel::validation::MAX_ATTRIBUTES_BYTES;

/// Emails compare case-insensitively, without surrounding spaces.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Phones compare by their digits (a leading `+` kept): `+86 138-0013-8000` and
/// `+8613800138000` are the same number.
pub fn normalize_phone(phone: &str) -> String {
    let trimmed = phone.trim();
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    if trimmed.starts_with('+') {
        format!("+{digits}")
    } else {
        digits
    }
}

/// One lower-cased haystack per customer for `q`: substring search that behaves
/// the same on SQLite and PostgreSQL, for Latin and Chinese names alike.
pub fn search_text(parts: &[Option<&str>], tags: &[String]) -> String {
    parts
        .iter()
        .flatten()
        .copied()
        .chain(tags.iter().map(String::as_str))
        .filter(|p| !p.trim().is_empty())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(SEPARATOR)
}

/// Between the parts of `search_text`.
const SEPARATOR: &str = "\u{1f}";

/// `search_text` (of a new customer named `name`) with its number `from` given
/// again as `to`: the number is the part right after the name (which may hold
/// anything, the separator too).
pub fn renumber_search_text(text: &str, name: &str, from: &str, to: &str) -> String {
    let (from, to) = (from.to_lowercase(), to.to_lowercase());
    let whole_part = |at: usize| {
        let rest = &text[at + SEPARATOR.len() + from.len()..];
        rest.is_empty() || rest.starts_with(SEPARATOR)
    };
    let named = name.to_lowercase();
    let at = if text.starts_with(&format!("{named}{SEPARATOR}{from}")) && whole_part(named.len()) {
        Some(named.len())
    } else {
        // The name as it was typed (untrimmed): the first part that is the number.
        text.match_indices(&format!("{SEPARATOR}{from}"))
            .map(|(at, _)| at)
            .find(|&at| whole_part(at))
    };
    match at {
        Some(at) => format!(
            "{}{SEPARATOR}{to}{}",
            &text[..at],
            &text[at + SEPARATOR.len() + from.len()..]
        ),
        None => text.to_owned(),
    }
}

fn text(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: Option<&str>,
    max: usize,
    required: bool,
) {
    match value.map(str::trim) {
        None | Some("") if required => {
            errors.push(FieldError::new(field, "required", "is required"))
        }
        Some(v) if v.chars().count() > max => errors.push(FieldError::new(
            field,
            "length",
            format!("must be at most {max} characters"),
        )),
        _ => {}
    }
}

/// Checks shared by create and update; `None` fields are not being set.
#[allow(clippy::too_many_arguments)]
pub fn check(
    errors: &mut Vec<FieldError>,
    kind: Option<&str>,
    name: Option<&str>,
    email: Option<&str>,
    phone: Option<&str>,
    size_band: Option<&str>,
    currency: Option<&str>,
    tags: Option<&[String]>,
    attributes: Option<&serde_json::Value>,
    payment_terms_days: Option<i32>,
) {
    if let Some(kind) = kind
        && !KINDS.contains(&kind)
    {
        errors.push(FieldError::new(
            "kind",
            "invalid_kind",
            "must be person or company",
        ));
    }
    if name.is_some() {
        text(errors, "name", name, 200, true);
    }
    ordercrm_kernel::validation::email(errors, "email", email);
    ordercrm_kernel::validation::phone(errors, "phone", phone);
    if let Some(band) = size_band
        && !SIZE_BANDS.contains(&band)
    {
        errors.push(FieldError::new(
            "size_band",
            "invalid_size_band",
            format!("must be one of {}", SIZE_BANDS.join(", ")),
        ));
    }
    if let Some(code) = currency
        && code.parse::<Currency>().is_err()
    {
        errors.push(FieldError::new(
            "preferred_currency",
            "invalid_currency",
            format!("'{code}' is not an ISO 4217 currency code"),
        ));
    }
    if let Some(tags) = tags {
        if tags.len() > MAX_TAGS {
            errors.push(FieldError::new(
                "tags",
                "length",
                format!("at most {MAX_TAGS} tags"),
            ));
        }
        for (i, tag) in tags.iter().enumerate() {
            if !(1..=50).contains(&tag.trim().chars().count()) {
                errors.push(FieldError::new(
                    format!("tags[{i}]"),
                    "length",
                    "must be 1 to 50 characters",
                ));
            }
        }
    }
    ordercrm_kernel::validation::attributes(errors, attributes);
    if let Some(days) = payment_terms_days
        && !(0..=365).contains(&days)
    {
        errors.push(FieldError::new(
            "payment_terms_days",
            "range",
            "must be between 0 and 365",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_compare_by_digits() {
        assert_eq!(normalize_phone("+86 138-0013-8000"), "+8613800138000");
        assert_eq!(normalize_phone(" (010) 6552 9988 "), "01065529988");
    }

    #[test]
    fn renumbering_changes_only_the_number() {
        let text = search_text(&[Some("C-000002"), Some("C-000002")], &["c-000002".into()]);
        let renumbered = renumber_search_text(&text, "C-000002", "C-000002", "C-000009");
        assert_eq!(
            renumbered,
            ["c-000002", "c-000009", "c-000002"].join(SEPARATOR)
        );
        let odd = search_text(&[Some("Odd\u{1f}c-1"), Some("C-1")], &[]);
        let renumbered = renumber_search_text(&odd, "Odd\u{1f}c-1", "C-1", "C-7");
        assert_eq!(renumbered, ["odd", "c-1", "c-7"].join(SEPARATOR));
    }

    #[test]
    fn search_text_is_lowercase_and_keeps_chinese() {
        let s = search_text(
            &[
                Some("张伟"),
                Some("C-000001"),
                None,
                Some("Zhang@Example.com"),
            ],
            &["VIP".into()],
        );
        assert!(s.contains("张伟") && s.contains("zhang@example.com") && s.contains("vip"));
    }

    #[test]
    fn checks_name_the_field() {
        let mut errors = Vec::new();
        check(
            &mut errors,
            Some("robot"),
            Some(""),
            Some("nope"),
            Some("12"),
            Some("huge"),
            Some("RMB"),
            Some(&["".into()]),
            Some(&serde_json::json!([1])),
            Some(999),
        );
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "kind",
                "name",
                "email",
                "phone",
                "size_band",
                "preferred_currency",
                "tags[0]",
                "attributes",
                "payment_terms_days"
            ]
        );
    }
}
