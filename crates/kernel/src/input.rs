//! Input types that carry their rule in the type: the OpenAPI schema states it and
//! validation enforces it, both from the one constant, so the document and the
//! server cannot disagree about what a field accepts.
//!
//! `NonBlank<200>` is required text, `Text<100>` optional text (blank is absent),
//! `Email` and `Phone` what [`crate::validation`] accepts as such. Each deserializes
//! any string: the checks run in the domain command with every other rule, so a
//! client gets all field errors at once. Their schemas are named `NonBlank200`,
//! `Text100`, ...; the served document inlines them (see `ordercrm_api::openapi`).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::error::FieldError;
use crate::validation;

/// `Deref<Target = str>`, `Display` and `From<String>`/`From<&str>` for a newtype over
/// a `String` (optionally with a `const MAX: usize` parameter): the text types here and
/// the domains' own (`Sku`, `WarehouseCode`, `SettingKey`).
#[macro_export]
macro_rules! text_newtype {
    ($($ty:ident $(<const $n:ident: usize>)?),* $(,)?) => {$(
        impl$(<const $n: usize>)? ::std::ops::Deref for $ty$(<$n>)? {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl$(<const $n: usize>)? ::std::fmt::Display for $ty$(<$n>)? {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl$(<const $n: usize>)? ::std::convert::From<String> for $ty$(<$n>)? {
            fn from(s: String) -> Self {
                Self(s)
            }
        }

        impl$(<const $n: usize>)? ::std::convert::From<&str> for $ty$(<$n>)? {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }
    )*};
}

text_newtype!(
    NonBlank<const MAX: usize>,
    Text<const MAX: usize>,
    Email,
    Phone,
    Country,
    CursorParam,
);

/// Component names that are value types, inlined wherever they are referenced.
pub fn is_inlined_schema(name: &str) -> bool {
    ["NonBlank", "Text"].iter().any(|prefix| {
        name.strip_prefix(prefix)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    }) || name == "Attributes"
        || name
            .strip_prefix("Int")
            .is_some_and(|n| n.contains("To") && n.bytes().all(|b| b.is_ascii_alphanumeric()))
        || [
            "Email",
            "Phone",
            "Country",
            "CursorParam",
            "Limit",
            "Day",
            "At",
        ]
        .contains(&name)
}

/// The value types query parameters use by name, for the document to inline.
pub fn parameter_schemas() -> Vec<(String, RefOr<Schema>)> {
    vec![
        (Limit::name().into_owned(), Limit::schema()),
        (CursorParam::name().into_owned(), CursorParam::schema()),
        (Day::name().into_owned(), Day::schema()),
        (At::name().into_owned(), At::schema()),
    ]
}

/// The characters `char::is_whitespace` (and so `str::trim`) takes for space, as the
/// inside of a regular-expression class. Written out because `\s` means other sets in
/// ECMA 262 (it adds U+FEFF, lacks U+0085), Python and Rust: a client's validator must
/// see the same blanks the server trims.
#[macro_export]
macro_rules! space_class {
    () => {
        r"\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
    };
}

/// Text holds no NUL (PostgreSQL cannot store it; the JSON extractor refuses it).
pub const TEXT_PATTERN: &str = r"^[^\u0000]*$";
/// And something other than spaces: blank text is trimmed to nothing.
pub const NON_BLANK_PATTERN: &str =
    concat!(r"^[^\u0000]*[^", space_class!(), r"\u0000][^\u0000]*$");

/// Required text: trimmed, 1 to `MAX` characters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NonBlank<const MAX: usize>(pub String);

impl<const MAX: usize> NonBlank<MAX> {
    pub const MAX: usize = MAX;

    /// The trimmed text; a field error when it is blank or too long.
    pub fn check(&self, errors: &mut Vec<FieldError>, field: &str) -> String {
        validation::required(errors, field, &self.0, MAX)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> PartialSchema for NonBlank<MAX> {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(MAX))
            .pattern(Some(NON_BLANK_PATTERN))
            .into()
    }
}

impl<const MAX: usize> ToSchema for NonBlank<MAX> {
    fn name() -> Cow<'static, str> {
        Cow::Owned(format!("NonBlank{MAX}"))
    }
}

/// Optional text: trimmed, at most `MAX` characters; blank is the same as absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Text<const MAX: usize>(pub String);

impl<const MAX: usize> Text<MAX> {
    pub const MAX: usize = MAX;

    /// The trimmed text, `None` when absent or blank; a field error when too long.
    pub fn check(value: Option<Self>, errors: &mut Vec<FieldError>, field: &str) -> Option<String> {
        validation::optional(errors, field, value.map(|v| v.0), MAX)
    }

    /// A query parameter: trimmed, `None` when absent or blank; 400 when too long.
    pub fn param<'a>(value: Option<&'a Self>, field: &str) -> crate::Result<Option<&'a str>> {
        let text = value.map(|v| v.0.trim()).filter(|v| !v.is_empty());
        if text.is_some_and(|t| t.chars().count() > MAX) {
            return Err(crate::Error::invalid_field(
                field,
                "length",
                format!("must be at most {MAX} characters"),
            ));
        }
        Ok(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> PartialSchema for Text<MAX> {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(MAX))
            .pattern(Some(TEXT_PATTERN))
            .into()
    }
}

impl<const MAX: usize> ToSchema for Text<MAX> {
    fn name() -> Cow<'static, str> {
        Cow::Owned(format!("Text{MAX}"))
    }
}

/// An email address: `something@domain.tld`, no spaces, at most 254 characters.
/// Optional wherever it appears; blank is absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(pub String);

impl Email {
    pub const MAX: usize = validation::MAX_EMAIL_CHARS;
    /// What [`validation::email`] accepts, as a regular expression (ECMA 262).
    pub const PATTERN: &str = concat!(
        r"^[^@",
        space_class!(),
        r"]+@[^",
        space_class!(),
        r"]*\.[^",
        space_class!(),
        r"]*$"
    );

    /// The trimmed address, `None` when absent or blank; a field error when it is not one.
    pub fn check(value: Option<Self>, errors: &mut Vec<FieldError>, field: &str) -> Option<String> {
        let email = value
            .map(|v| v.0.trim().to_owned())
            .filter(|v| !v.is_empty());
        validation::email(errors, field, email.as_deref());
        email
    }
}

impl PartialSchema for Email {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(Self::MAX))
            .pattern(Some(Self::PATTERN))
            .examples([serde_json::json!("purchasing@example.com")])
            .into()
    }
}

impl ToSchema for Email {}

/// A phone number: 5 to 20 digits, written with digits, spaces and `+-().`, at most
/// 40 characters. Optional wherever it appears; blank is absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Phone(pub String);

impl Phone {
    pub const MAX: usize = validation::MAX_PHONE_CHARS;
    /// What [`validation::phone`] accepts, as a regular expression (ECMA 262).
    pub const PATTERN: &str = r"^[ +().-]*(?:[0-9][ +().-]*){5,20}$";

    /// The trimmed number, `None` when absent or blank; a field error when it is not one.
    pub fn check(value: Option<Self>, errors: &mut Vec<FieldError>, field: &str) -> Option<String> {
        let phone = value
            .map(|v| v.0.trim().to_owned())
            .filter(|v| !v.is_empty());
        validation::phone(errors, field, phone.as_deref());
        phone
    }
}

impl PartialSchema for Phone {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(Self::MAX))
            .pattern(Some(Self::PATTERN))
            .examples([serde_json::json!("+86 21 6555 0199")])
            .into()
    }
}

impl ToSchema for Phone {}

/// An ISO 3166-1 alpha-2 country code such as `CN`: two capital letters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Country(pub String);

impl Country {
    pub const PATTERN: &str = "^[A-Z]{2}$";

    /// The trimmed code; a field error when it is not two capital letters.
    pub fn check(&self, errors: &mut Vec<FieldError>, field: &str) -> String {
        let code = self.0.trim();
        if !(code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase())) {
            errors.push(FieldError::new(
                field,
                "invalid_country",
                "must be an ISO 3166-1 alpha-2 code such as CN",
            ));
        }
        code.to_owned()
    }
}

impl PartialSchema for Country {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(Self::PATTERN))
            .examples([serde_json::json!("CN")])
            .into()
    }
}

impl ToSchema for Country {}

/// A whole number within `MIN..=MAX` (days, basis points, counts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Int<const MIN: i64, const MAX: i64>(pub i64);

impl<const MIN: i64, const MAX: i64> Int<MIN, MAX> {
    pub const MIN: i64 = MIN;
    pub const MAX: i64 = MAX;

    /// The number; a field error when it is out of range.
    pub fn check(self, errors: &mut Vec<FieldError>, field: &str) -> i64 {
        if !(MIN..=MAX).contains(&self.0) {
            errors.push(FieldError::new(
                field,
                "range",
                format!("must be between {MIN} and {MAX}"),
            ));
        }
        self.0
    }

    /// [`Self::check`], narrowed to an `i32` column (the range fits by construction).
    pub fn check_i32(self, errors: &mut Vec<FieldError>, field: &str) -> i32 {
        i32::try_from(self.check(errors, field)).unwrap_or_default()
    }
}

impl<const MIN: i64, const MAX: i64> From<i64> for Int<MIN, MAX> {
    fn from(n: i64) -> Self {
        Self(n)
    }
}

impl<const MIN: i64, const MAX: i64> PartialSchema for Int<MIN, MAX> {
    fn schema() -> RefOr<Schema> {
        let format = if i32::try_from(MIN).is_ok() && i32::try_from(MAX).is_ok() {
            utoipa::openapi::KnownFormat::Int32
        } else {
            utoipa::openapi::KnownFormat::Int64
        };
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(format)))
            .minimum(Some(MIN))
            .maximum(Some(MAX))
            .into()
    }
}

impl<const MIN: i64, const MAX: i64> ToSchema for Int<MIN, MAX> {
    fn name() -> Cow<'static, str> {
        Cow::Owned(format!("Int{MIN}To{MAX}").replace('-', "Minus"))
    }
}

/// How many rows a page holds: `1..=MAX_LIMIT`, default `DEFAULT_LIMIT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Limit(pub u64);

impl From<Limit> for u64 {
    fn from(limit: Limit) -> Self {
        limit.0
    }
}

impl PartialSchema for Limit {
    fn schema() -> RefOr<Schema> {
        use crate::pagination::{DEFAULT_LIMIT, MAX_LIMIT};
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Int64,
            )))
            .minimum(Some(1))
            .maximum(Some(MAX_LIMIT))
            .default(Some(serde_json::json!(DEFAULT_LIMIT)))
            .description(Some(format!(
                "Rows per page, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})."
            )))
            .into()
    }
}

impl ToSchema for Limit {}

/// The opaque `cursor` a list gave as `next_cursor`: URL-safe base64.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CursorParam(pub String);

impl CursorParam {
    pub const PATTERN: &str = "^[A-Za-z0-9_-]+$";
}

impl PartialSchema for CursorParam {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(crate::pagination::MAX_CURSOR_CHARS))
            .pattern(Some(Self::PATTERN))
            .description(Some("`next_cursor` of the previous page, as it was given."))
            .into()
    }
}

impl ToSchema for CursorParam {}

/// A set of values a field may take, known by their names.
pub trait Choices: Sized + ToSchema {
    fn choose(name: &str) -> Option<Self>;
    /// What a client should send instead, for the error message.
    fn expected() -> String;
}

/// One of `T`'s values, as sent: any string deserializes, [`Choice::check`] refuses
/// one that is not among them with the other field errors. A field says its schema
/// is `T`'s (an `enum`) with `#[schema(value_type = T)]`; without it, it does not
/// compile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Choice<T>(pub String, #[serde(skip)] std::marker::PhantomData<T>);

impl<T: Choices> Choice<T> {
    /// The value; a field error when the text names none.
    pub fn check(&self, errors: &mut Vec<FieldError>, field: &str) -> Option<T> {
        let found = T::choose(&self.0);
        if found.is_none() {
            errors.push(FieldError::new(
                field,
                "invalid_value",
                format!("must be {}", T::expected()),
            ));
        }
        found
    }

    /// [`Choice::check`] for an optional field.
    pub fn check_opt(value: Option<&Self>, errors: &mut Vec<FieldError>, field: &str) -> Option<T> {
        value.and_then(|v| v.check(errors, field))
    }
}

impl<T> From<&str> for Choice<T> {
    fn from(s: &str) -> Self {
        Self(s.to_owned(), std::marker::PhantomData)
    }
}

impl<T> From<String> for Choice<T> {
    fn from(s: String) -> Self {
        Self(s, std::marker::PhantomData)
    }
}

impl Choices for crate::Currency {
    fn choose(name: &str) -> Option<Self> {
        name.parse().ok()
    }

    fn expected() -> String {
        "an ISO 4217 currency code in use, such as CNY".to_owned()
    }
}

/// A small JSON object for a client's own fields: at most
/// [`validation::MAX_ATTRIBUTES_BYTES`] as JSON. Any JSON deserializes; the check
/// refuses what is not an object or is too large.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Attributes(pub serde_json::Value);

impl Attributes {
    pub fn check(value: Option<&Self>, errors: &mut Vec<FieldError>) {
        validation::attributes(errors, value.map(|a| &a.0));
    }

    /// The stored object: what was sent, or `{}`.
    pub fn or_empty(value: Option<Self>) -> serde_json::Value {
        value.map_or_else(|| serde_json::json!({}), |a| a.0)
    }
}

impl PartialSchema for Attributes {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(format!(
                "A small JSON object for your own fields: at most {} bytes as JSON.",
                validation::MAX_ATTRIBUTES_BYTES
            )))
            .examples([serde_json::json!({"crm_color": "gold"})])
            .into()
    }
}

impl ToSchema for Attributes {}

/// A closed set of values spelled as strings on the wire and in the database: one
/// list gives serde its names, the schema its `enum`, and the code `ALL`, `as_str`
/// and `parse`.
///
/// ```ignore
/// string_enum! {
///     /// What kind of customer.
///     pub CustomerKind { Person = "person", Company = "company" }
/// }
/// ```
#[macro_export]
macro_rules! string_enum {
    ($(#[$meta:meta])* $vis:vis $name:ident {
        $($(#[$vmeta:meta])* $variant:ident = $text:tt),* $(,)?
    }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash,
            ::serde::Serialize, ::serde::Deserialize, ::utoipa::ToSchema,
        )]
        $vis enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),*
        }

        impl $name {
            pub const ALL: &[$name] = &[$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }

            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }

            /// `a, b or c`: for messages.
            pub fn listed() -> String {
                let names: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                match names.split_last() {
                    Some((last, rest)) if !rest.is_empty() => {
                        format!("{} or {last}", rest.join(", "))
                    }
                    _ => names.concat(),
                }
            }
        }

        impl $crate::input::Choices for $name {
            fn choose(name: &str) -> Option<Self> {
                Self::parse(name)
            }

            fn expected() -> String {
                Self::listed()
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// A calendar day, `YYYY-MM-DD` with a four-digit year (0001 to 9999): the days
/// both engines store, and whose text sorts as the days do. Anything else is
/// refused as malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Day(pub chrono::NaiveDate);

impl Day {
    /// Years 0001-9999, months 01-12, days 01-31 (the calendar refuses the rest,
    /// such as 02-30): a generator driven by the pattern makes days that exist.
    pub const PATTERN: &str = "^(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$";

    pub fn parse(s: &str) -> Option<Day> {
        let shaped = s.len() == 10
            && s.bytes().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            });
        if !shaped {
            return None;
        }
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .filter(|d| chrono::Datelike::year(d) >= 1)
            .map(Day)
    }
}

impl std::str::FromStr for Day {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Day::parse(s)
            .ok_or_else(|| format!("'{s}' is not a day from 0001-01-01 to 9999-12-31 (YYYY-MM-DD)"))
    }
}

impl From<Day> for chrono::NaiveDate {
    fn from(d: Day) -> Self {
        d.0
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Day::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "'{s}' is not a day from 0001-01-01 to 9999-12-31 (YYYY-MM-DD)"
            ))
        })
    }
}

impl PartialSchema for Day {
    fn schema() -> RefOr<Schema> {
        use utoipa::openapi::{KnownFormat, SchemaFormat};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
            .pattern(Some(Day::PATTERN))
            .description(Some("A day, YYYY-MM-DD, from 0001-01-01 to 9999-12-31."))
            .into()
    }
}

impl ToSchema for Day {}

/// An instant, RFC 3339, in the years 0001 to 9999 (what both engines store and
/// compare alike); anything else is refused as malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct At(pub chrono::DateTime<chrono::Utc>);

impl<'de> Deserialize<'de> for At {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let at = chrono::DateTime::<chrono::Utc>::deserialize(d)?;
        if (1..=9999).contains(&chrono::Datelike::year(&at)) {
            Ok(At(at))
        } else {
            Err(serde::de::Error::custom(
                "times are from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z",
            ))
        }
    }
}

impl PartialSchema for At {
    fn schema() -> RefOr<Schema> {
        use utoipa::openapi::{KnownFormat, SchemaFormat};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .pattern(Some("^[0-9]{4}-"))
            .description(Some("An RFC 3339 time in the years 0001 to 9999."))
            .into()
    }
}

impl ToSchema for At {}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schema's pattern and length say yes exactly when validation does: what a
    /// client checks before sending is what the server accepts.
    fn agree(pattern: &str, max: usize, samples: &[&str], accepted: impl Fn(&str) -> bool) {
        let re = regex::Regex::new(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        for s in samples {
            let by_schema = re.is_match(s) && s.chars().count() <= max;
            assert_eq!(by_schema, accepted(s), "{s:?}: schema says {by_schema}");
        }
    }

    #[test]
    fn space_class_is_what_trim_takes() {
        let space = regex::Regex::new(concat!("^[", space_class!(), "]$"))
            .unwrap_or_else(|e| panic!("{e}"));
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            assert_eq!(
                space.is_match(c.encode_utf8(&mut [0; 4])),
                c.is_whitespace(),
                "U+{:04X}",
                u32::from(c)
            );
        }
    }

    #[test]
    fn text_patterns_refuse_nul_and_blank() {
        let text = regex::Regex::new(TEXT_PATTERN).unwrap_or_else(|e| panic!("{e}"));
        let non_blank = regex::Regex::new(NON_BLANK_PATTERN).unwrap_or_else(|e| panic!("{e}"));
        for (s, is_text, is_non_blank) in [
            ("", true, false),
            ("   ", true, false),
            (" a ", true, true),
            ("龙井", true, true),
            ("a\u{0}b", false, false),
            ("\n\tx", true, true),
            ("\u{85}", true, false),
            ("\u{feff}", true, true),
        ] {
            assert_eq!(text.is_match(s), is_text, "{s:?}");
            assert_eq!(non_blank.is_match(s), is_non_blank, "{s:?}");
        }
    }

    #[test]
    fn email_schema_matches_validation() {
        let samples = [
            "a@b.c",
            "purchasing@xingchen.example.cn",
            "王芳@例子.中国",
            "a@b",
            "@b.c",
            "a b@c.d",
            "a\u{85}@b.c",
            "a\u{feff}@b.c",
            "a@b c.d",
            "a@@b.c",
            "a@b.c@d",
            "a\t@b.c",
            "",
            &format!("{}@b.cn", "x".repeat(249)),
            &format!("{}@b.cn", "x".repeat(250)),
        ];
        agree(Email::PATTERN, Email::MAX, &samples, |s| {
            let mut errors = Vec::new();
            let email = Email::check(Some(Email::from(s)), &mut errors, "email");
            email.is_some() && errors.is_empty()
        });
    }

    #[test]
    fn phone_schema_matches_validation() {
        let samples = [
            "12345",
            "1234",
            "+86 21 6555 0199",
            "(021) 6555-0199",
            "+86.138.0013.8000",
            "123456789012345678901",
            "12345678901234567890",
            "phone 12345",
            "１２３４５",
            "+86 21 6555 0199 ext 1",
            &format!("1 2 3 4 5{}", " ".repeat(31)),
            &format!("1 2 3 4 5{}6", "-".repeat(31)),
            "",
        ];
        agree(Phone::PATTERN, Phone::MAX, &samples, |s| {
            let mut errors = Vec::new();
            let phone = Phone::check(Some(Phone::from(s)), &mut errors, "phone");
            phone.is_some() && errors.is_empty()
        });
    }

    #[test]
    fn text_bounds_come_from_the_type() {
        let mut errors = Vec::new();
        assert_eq!(NonBlank::<3>::from(" abc ").check(&mut errors, "n"), "abc");
        NonBlank::<3>::from("abcd").check(&mut errors, "n");
        NonBlank::<3>::from("   ").check(&mut errors, "n");
        assert_eq!(errors.len(), 2);
        assert_eq!(Text::<3>::check(Some(" ".into()), &mut errors, "t"), None);
        assert_eq!(errors.len(), 2);
        Text::<3>::check(Some("abcd".into()), &mut errors, "t");
        assert_eq!(errors.len(), 3);
        let schema = serde_json::to_value(NonBlank::<200>::schema()).unwrap_or_default();
        assert_eq!(schema["maxLength"], 200);
        assert_eq!(schema["minLength"], 1);
        assert!(is_inlined_schema(&NonBlank::<200>::name()));
        assert!(is_inlined_schema(&Text::<5>::name()));
        assert!(!is_inlined_schema("TextView"));
    }

    #[test]
    fn days_are_four_digit_years_only() {
        assert!(Day::parse("2026-11-29").is_some());
        assert!(Day::parse("0001-01-01").is_some());
        assert!(Day::parse("9999-12-31").is_some());
        for bad in [
            "0000-01-01",
            "+10000-01-01",
            "-0001-01-01",
            "2026-02-30",
            "2026-1-01",
            "2026-11-29T00:00:00Z",
            "",
        ] {
            assert!(Day::parse(bad).is_none(), "{bad}");
        }
        let re = regex::Regex::new(Day::PATTERN).unwrap();
        for good in ["0001-01-01", "2026-11-29", "9999-12-31"] {
            assert!(re.is_match(good), "{good}");
        }
        for bad in [
            "+10000-01-01",
            "0000-01-01",
            "2026-13-01",
            "2026-00-10",
            "2026-01-32",
            "2026-01-00",
        ] {
            assert!(!re.is_match(bad), "{bad}");
        }
    }
}
