//! What a valid customer is, and the derived forms the database keeps.

use ordercrm_kernel::FieldError;

use ordercrm_kernel::input::{Int, NonBlank};
use ordercrm_kernel::string_enum;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, Schema};
use utoipa::{PartialSchema, ToSchema};

pub use ordercrm_kernel::validation::MAX_ATTRIBUTES_BYTES;

string_enum! {
    /// A person or a company.
    pub CustomerKind {
        Person = "person",
        Company = "company",
    }
}

string_enum! {
    /// Head count.
    pub SizeBand {
        UpTo9 = "1-9",
        UpTo49 = "10-49",
        UpTo249 = "50-249",
        UpTo999 = "250-999",
        Over999 = "1000+",
    }
}

string_enum! {
    pub AddressKind {
        Billing = "billing",
        Shipping = "shipping",
    }
}

string_enum! {
    /// How an interaction happened.
    pub NoteKind {
        Call = "call",
        Visit = "visit",
        Email = "email",
        Meeting = "meeting",
        Complaint = "complaint",
        Other = "other",
    }
}

string_enum! {
    pub FollowUpStatus {
        Open = "open",
        Done = "done",
        Cancelled = "cancelled",
    }
}

string_enum! {
    /// Which follow-ups a list shows.
    #[derive(Default)]
    pub FollowUpStatusFilter {
        #[default]
        Open = "open",
        Done = "done",
        Cancelled = "cancelled",
        All = "all",
    }
}

/// Days to pay an invoice.
pub type PaymentTermsDays = Int<0, 365>;

/// One tag: trimmed, 1 to 50 characters.
pub type Tag = NonBlank<50>;

/// A customer's tags: at most [`Tags::MAX`], each a [`Tag`].
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Tags(pub Vec<Tag>);

impl Tags {
    pub const MAX: usize = 20;

    /// The trimmed tags; field errors for too many or for a bad one.
    pub fn check(&self, errors: &mut Vec<FieldError>, field: &str) -> Vec<String> {
        if self.0.len() > Self::MAX {
            errors.push(FieldError::new(
                field,
                "length",
                format!("at most {} tags", Self::MAX),
            ));
        }
        self.0
            .iter()
            .enumerate()
            .map(|(i, tag)| tag.check(errors, &format!("{field}[{i}]")))
            .collect()
    }
}

impl From<Vec<String>> for Tags {
    fn from(tags: Vec<String>) -> Self {
        Self(tags.into_iter().map(Tag::from).collect())
    }
}

impl PartialSchema for Tags {
    fn schema() -> RefOr<Schema> {
        ArrayBuilder::new()
            .items(Tag::schema())
            .max_items(Some(Self::MAX))
            .description(Some("Free labels, at most 20, each 1 to 50 characters."))
            .into()
    }
}

impl ToSchema for Tags {}

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
    fn tags_are_bounded_and_named_by_index() {
        let mut errors = Vec::new();
        let tags = Tags::from(vec![" vip ".to_owned(), " ".to_owned()]).check(&mut errors, "tags");
        assert_eq!(tags[0], "vip");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["tags[1]"]);
        let mut errors = Vec::new();
        Tags::from(vec!["x".to_owned(); Tags::MAX + 1]).check(&mut errors, "tags");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "tags");
    }

    #[test]
    fn choices_list_what_they_accept() {
        assert_eq!(SizeBand::listed(), "1-9, 10-49, 50-249, 250-999 or 1000+");
        assert_eq!(CustomerKind::parse("company"), Some(CustomerKind::Company));
        assert_eq!(CustomerKind::parse("Company"), None);
    }
}
