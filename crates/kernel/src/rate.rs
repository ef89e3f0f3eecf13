//! Exchange rates as exact decimals: how many units of one currency a unit of
//! another buys, to ten decimal places. Never a float: a rate is an integer count of
//! 10⁻¹⁰, and converting money with it rounds once, half away from zero.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::FieldError;
use crate::money::{Currency, Money, MoneyError};

/// Decimal places a rate keeps.
pub const SCALE: u32 = 10;
const UNIT: i128 = 10_i128.pow(SCALE);
/// Digits before the point: a rate is below 10⁹.
const INTEGER_DIGITS: usize = 9;

/// A positive exchange rate, exact to [`SCALE`] decimal places.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rate(i128);

impl Rate {
    pub const ONE: Rate = Rate(UNIT);

    /// `"7.1234"` → the rate; `None` for anything the schema's pattern refuses
    /// (signs, exponents, leading zeros, more than 9 + 10 digits, zero).
    pub fn parse(s: &str) -> Option<Rate> {
        let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
        let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        let ok = !whole.is_empty()
            && whole.len() <= INTEGER_DIGITS
            && digits(whole)
            && (whole == "0" || !whole.starts_with('0'))
            && (!s.contains('.') || (1..=SCALE as usize).contains(&fraction.len()))
            && digits(fraction);
        if !ok {
            return None;
        }
        let padded = format!("{whole}{fraction:0<width$}", width = SCALE as usize);
        let scaled: i128 = padded.parse().ok()?;
        (scaled > 0).then_some(Rate(scaled))
    }

    /// `amount` in `money.currency` expressed in `to`, rounded half away from zero
    /// to `to`'s minor unit. `Overflow` when the result does not fit.
    pub fn convert(self, money: Money, to: Currency) -> Result<Money, MoneyError> {
        let from_digits = money.currency.minor_digits();
        let to_digits = to.minor_digits();
        // amount / 10^from * rate / 10^SCALE * 10^to, with one division at the end.
        let numerator = i128::from(money.amount)
            .checked_mul(self.0)
            .and_then(|n| n.checked_mul(10_i128.pow(to_digits)))
            .ok_or(MoneyError::Overflow)?;
        let denominator = UNIT
            .checked_mul(10_i128.pow(from_digits))
            .ok_or(MoneyError::Overflow)?;
        let quotient = numerator / denominator;
        let remainder = numerator % denominator;
        let rounded = if remainder.unsigned_abs() * 2 >= denominator.unsigned_abs() {
            quotient + numerator.signum()
        } else {
            quotient
        };
        let amount = i64::try_from(rounded).map_err(|_| MoneyError::Overflow)?;
        Ok(Money::new(amount, to))
    }

    /// The pattern [`Rate::parse`] accepts: up to 9 digits, an optional fraction of
    /// 1 to 10 digits, greater than zero. Written without look-ahead so every
    /// regex engine a client uses reads it the same.
    pub fn pattern() -> String {
        let width = SCALE as usize;
        let below_one: Vec<String> = (0..width)
            .map(|zeros| format!("0{{{zeros}}}[1-9][0-9]{{0,{}}}", width - 1 - zeros))
            .collect();
        format!(
            r"^([1-9][0-9]{{0,{}}}(\.[0-9]{{1,{width}}})?|0\.({}))$",
            INTEGER_DIGITS - 1,
            below_one.join("|")
        )
    }
}

/// Canonical text: no trailing zeros in the fraction, no point for whole rates.
impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / UNIT;
        let fraction = self.0 % UNIT;
        if fraction == 0 {
            return write!(f, "{whole}");
        }
        let digits = format!("{fraction:0width$}", width = SCALE as usize);
        write!(f, "{whole}.{}", digits.trim_end_matches('0'))
    }
}

impl Serialize for Rate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A rate as a client sends it: any string deserializes; [`RateText::check`] refuses
/// what is not a rate with the other field errors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RateText(pub String);

impl RateText {
    pub fn check(&self, errors: &mut Vec<FieldError>, field: &str) -> Option<Rate> {
        let rate = Rate::parse(&self.0);
        if rate.is_none() {
            errors.push(FieldError::new(
                field,
                "format",
                "must be a decimal greater than 0 with at most 9 digits before the point and 10 after, such as \"7.1234\"",
            ));
        }
        rate
    }
}

impl PartialSchema for RateText {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(Rate::pattern()))
            .max_length(Some(INTEGER_DIGITS + 1 + SCALE as usize))
            .description(Some(
                "An exact decimal greater than 0: up to 9 digits before the point and 10 after.",
            ))
            .examples(["7.1234"])
            .into()
    }
}

impl ToSchema for RateText {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Rate")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(amount: i64, code: &str) -> Money {
        Money::new(amount, code.parse().unwrap())
    }

    #[test]
    fn parses_exactly_what_the_pattern_admits() {
        let pattern = regex::Regex::new(&Rate::pattern()).unwrap();
        for good in [
            "1",
            "7.1234",
            "0.0000000001",
            "999999999.9999999999",
            "0.5",
            "10",
            "1.0",
        ] {
            assert!(Rate::parse(good).is_some(), "{good}");
            assert!(pattern.is_match(good), "{good}");
        }
        for bad in [
            "",
            "0",
            "0.0",
            "0.0000000000",
            "01",
            "-1",
            "+1",
            "1e3",
            "1.",
            ".5",
            "1.00000000001",
            "1000000000",
            " 1",
            "1,5",
            "0.00000000001",
        ] {
            assert!(Rate::parse(bad).is_none(), "{bad}");
            assert!(!pattern.is_match(bad), "{bad}");
        }
    }

    #[test]
    fn prints_canonically() {
        assert_eq!(Rate::parse("7.12340").unwrap().to_string(), "7.1234");
        assert_eq!(Rate::parse("1.0").unwrap().to_string(), "1");
        assert_eq!(
            Rate::parse("0.0000000001").unwrap().to_string(),
            "0.0000000001"
        );
        assert_eq!(Rate::ONE.to_string(), "1");
    }

    #[test]
    fn converts_with_one_rounding_half_away_from_zero() {
        let rate = Rate::parse("7.1234").unwrap();
        // 19.99 USD × 7.1234 = 142.396766 CNY → 142.40
        assert_eq!(
            rate.convert(money(1999, "USD"), "CNY".parse().unwrap()),
            Ok(money(14240, "CNY"))
        );
        assert_eq!(
            rate.convert(money(-1999, "USD"), "CNY".parse().unwrap()),
            Ok(money(-14240, "CNY"))
        );
        // 0.5 of a minor unit rounds away from zero.
        let half = Rate::parse("0.5").unwrap();
        assert_eq!(
            half.convert(money(1, "CNY"), "CNY".parse().unwrap()),
            Ok(money(1, "CNY"))
        );
        assert_eq!(
            half.convert(money(-1, "CNY"), "CNY".parse().unwrap()),
            Ok(money(-1, "CNY"))
        );
        // Different minor units: 1000 JPY at 0.0481 CNY = 48.10 CNY; 1.00 CNY at 20.8 JPY = 21 JPY.
        assert_eq!(
            Rate::parse("0.0481")
                .unwrap()
                .convert(money(1000, "JPY"), "CNY".parse().unwrap()),
            Ok(money(4810, "CNY"))
        );
        assert_eq!(
            Rate::parse("20.8")
                .unwrap()
                .convert(money(100, "CNY"), "JPY".parse().unwrap()),
            Ok(money(21, "JPY"))
        );
        assert_eq!(
            Rate::parse("999999999")
                .unwrap()
                .convert(money(i64::MAX, "CNY"), "USD".parse().unwrap()),
            Err(MoneyError::Overflow)
        );
    }
}
