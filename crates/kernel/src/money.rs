//! Money: an integer count of the currency's minor unit plus its ISO 4217 code.
//! Never a float. Arithmetic is checked: mixing currencies or overflowing is an
//! error the caller must handle, not a silent wrap.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An ISO 4217 currency that is in use (funds and superseded codes are refused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(iso_currency::Currency);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("'{0}' is not an ISO 4217 currency code")]
    UnknownCurrency(String),
    #[error("cannot combine {0} with {1}")]
    CurrencyMismatch(Currency, Currency),
    #[error("amount out of range")]
    Overflow,
}

impl Currency {
    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// Digits after the decimal point: 2 for CNY and EUR, 0 for JPY, 3 for KWD.
    pub fn minor_digits(self) -> u32 {
        self.0.exponent().map_or(0, u32::from)
    }
}

impl Currency {
    /// Every code [`FromStr`] accepts, in alphabetical order: the schema's `enum`.
    pub fn all() -> &'static [Currency] {
        static ALL: std::sync::OnceLock<Vec<Currency>> = std::sync::OnceLock::new();
        ALL.get_or_init(|| {
            let letters = b'A'..=b'Z';
            letters
                .clone()
                .flat_map(|a| letters.clone().map(move |b| (a, b)))
                .flat_map(|(a, b)| letters.clone().map(move |c| [a, b, c]))
                .filter_map(|code| std::str::from_utf8(&code).ok()?.parse().ok())
                .collect()
        })
    }
}

impl utoipa::PartialSchema for Currency {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(Self::all().iter().map(|c| c.code())))
            .description(Some(
                "An ISO 4217 currency in use (funds and superseded codes are refused).",
            ))
            .examples([serde_json::json!("CNY")])
            .into()
    }
}

impl ToSchema for Currency {}

impl FromStr for Currency {
    type Err = MoneyError;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        let known = iso_currency::Currency::from_code(code)
            .filter(|c| c.code() == code && c.is_superseded().is_none() && !c.is_fund());
        known
            .map(Currency)
            .ok_or_else(|| MoneyError::UnknownCurrency(code.to_owned()))
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(code: String) -> Result<Self, Self::Error> {
        code.parse()
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> Self {
        c.code().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// `{"amount": 1999, "currency": "CNY"}` is ¥19.99.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"amount": 1999, "currency": "CNY"}))]
pub struct Money {
    /// Integer amount in the currency's minor unit (fen, cents, ...).
    pub amount: i64,
    pub currency: Currency,
}

/// Money that must not be below zero: prices, costs, credit limits. Any amount
/// deserializes; [`NonNegativeMoney::check`] refuses a negative one with the other
/// field errors, and the schema says `minimum: 0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NonNegativeMoney(pub Money);

impl NonNegativeMoney {
    /// The money; a `range` error on `<field>.amount` when it is negative.
    pub fn check(self, errors: &mut Vec<crate::FieldError>, field: &str) -> Money {
        if self.0.is_negative() {
            errors.push(crate::FieldError::new(
                format!("{field}.amount"),
                "range",
                "must not be negative",
            ));
        }
        self.0
    }
}

impl From<Money> for NonNegativeMoney {
    fn from(m: Money) -> Self {
        Self(m)
    }
}

impl utoipa::PartialSchema for NonNegativeMoney {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
        use utoipa::openapi::{KnownFormat, Ref, SchemaFormat};
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(
                "amount",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                    .minimum(Some(0))
                    .description(Some(
                        "Integer amount in the currency's minor unit (fen, cents, ...); not negative.",
                    )),
            )
            .property("currency", Ref::from_schema_name("Currency"))
            .required("amount")
            .required("currency")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .examples([serde_json::json!({"amount": 1999, "currency": "CNY"})])
            .into()
    }
}

impl ToSchema for NonNegativeMoney {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        schemas.push((
            "Currency".into(),
            <Currency as utoipa::PartialSchema>::schema(),
        ));
    }
}

/// Money from `MIN` to `MAX` minor units (prices, fees, discounts of one
/// document; a payment, more than nothing): any amount deserializes;
/// [`MoneyIn::check`] refuses one out of range with the other field errors, and
/// the schema says `minimum: MIN, maximum: MAX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MoneyIn<const MIN: i64, const MAX: i64>(pub Money);

/// Money from 0 to `MAX` minor units.
pub type MoneyUpTo<const MAX: i64> = MoneyIn<0, MAX>;

impl<const MIN: i64, const MAX: i64> MoneyIn<MIN, MAX> {
    /// The money; a `range` error on `<field>.amount` when outside MIN..=MAX.
    pub fn check(self, errors: &mut Vec<crate::FieldError>, field: &str) -> Money {
        if !(MIN..=MAX).contains(&self.0.amount) {
            errors.push(crate::FieldError::new(
                format!("{field}.amount"),
                "range",
                format!("must be from {MIN} to {MAX}"),
            ));
        }
        self.0
    }
}

impl<const MIN: i64, const MAX: i64> utoipa::PartialSchema for MoneyIn<MIN, MAX> {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
        use utoipa::openapi::{KnownFormat, Ref, SchemaFormat};
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(
                "amount",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                    .minimum(Some(MIN))
                    .maximum(Some(MAX))
                    .description(Some(format!(
                        "Integer amount in the currency's minor unit, {MIN} to {MAX}."
                    ))),
            )
            .property("currency", Ref::from_schema_name("Currency"))
            .required("amount")
            .required("currency")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .examples([serde_json::json!({"amount": 1999, "currency": "CNY"})])
            .into()
    }
}

impl<const MIN: i64, const MAX: i64> ToSchema for MoneyIn<MIN, MAX> {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Owned(if MIN == 0 {
            format!("MoneyUpTo{MAX}")
        } else {
            format!("MoneyFrom{MIN}To{MAX}")
        })
    }

    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        schemas.push((
            "Currency".into(),
            <Currency as utoipa::PartialSchema>::schema(),
        ));
    }
}

impl Money {
    pub fn new(amount: i64, currency: Currency) -> Self {
        Self { amount, currency }
    }

    pub fn zero(currency: Currency) -> Self {
        Self::new(0, currency)
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let amount = self
            .amount
            .checked_add(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let amount = self
            .amount
            .checked_sub(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    /// Unit price times a quantity.
    pub fn checked_mul(self, quantity: i64) -> Result<Money, MoneyError> {
        let amount = self
            .amount
            .checked_mul(quantity)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    pub fn is_negative(self) -> bool {
        self.amount < 0
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(self.currency, other.currency))
        }
    }
}

impl Money {
    /// The amount in major units, `19.99`, `-0.05`, `500`: what a spreadsheet reads
    /// as a number (CSV exports), with the currency in a column of its own.
    pub fn decimal(self) -> String {
        let digits = self.currency.minor_digits();
        let sign = if self.amount < 0 { "-" } else { "" };
        let abs = self.amount.unsigned_abs();
        if digits == 0 {
            return format!("{sign}{abs}");
        }
        let scale = 10u64.pow(digits);
        format!(
            "{sign}{}.{:0width$}",
            abs / scale,
            abs % scale,
            width = digits as usize
        )
    }
}

/// `19.99 CNY`, `-0.05 EUR`, `500 JPY`: for humans and logs, never for parsing.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.decimal(), self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cny() -> Currency {
        "CNY".parse().unwrap()
    }

    #[test]
    fn the_schema_lists_exactly_the_accepted_codes() {
        let all = Currency::all();
        assert!(all.len() > 150, "{}", all.len());
        assert!(all.iter().any(|c| c.code() == "CNY"));
        assert!(!all.iter().any(|c| c.code() == "BOV"), "funds are refused");
        assert!(
            !all.iter().any(|c| c.code() == "HRK"),
            "superseded codes are refused"
        );
    }

    #[test]
    fn parses_only_active_iso_codes() {
        assert!("CNY".parse::<Currency>().is_ok());
        assert!("cny".parse::<Currency>().is_err());
        assert!("XXY".parse::<Currency>().is_err());
        assert!("".parse::<Currency>().is_err());
    }

    #[test]
    fn arithmetic_is_checked() {
        let a = Money::new(1999, cny());
        assert_eq!(a.checked_add(a), Ok(Money::new(3998, cny())));
        assert_eq!(a.checked_mul(3), Ok(Money::new(5997, cny())));
        assert_eq!(
            Money::new(i64::MAX, cny()).checked_add(a),
            Err(MoneyError::Overflow)
        );
        let eur: Currency = "EUR".parse().unwrap();
        assert!(matches!(
            a.checked_add(Money::new(1, eur)),
            Err(MoneyError::CurrencyMismatch(_, _))
        ));
    }

    #[test]
    fn displays_in_major_units() {
        assert_eq!(Money::new(1999, cny()).to_string(), "19.99 CNY");
        assert_eq!(Money::new(-5, cny()).to_string(), "-0.05 CNY");
        let jpy: Currency = "JPY".parse().unwrap();
        assert_eq!(Money::new(500, jpy).to_string(), "500 JPY");
    }

    #[test]
    fn json_shape_is_amount_and_code() {
        let m: Money = serde_json::from_str(r#"{"amount": 1999, "currency": "CNY"}"#).unwrap();
        assert_eq!(m, Money::new(1999, cny()));
        assert!(serde_json::from_str::<Money>(r#"{"amount": 19.99, "currency": "CNY"}"#).is_err());
        assert!(serde_json::from_str::<Money>(r#"{"amount": 1, "currency": "ABC"}"#).is_err());
    }
}
