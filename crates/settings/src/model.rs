//! What a valid setting is.

use ordercrm_kernel::{Currency, FieldError};
use serde_json::Value;

pub const MAX_VALUE_BYTES: usize = 8 * 1024;

/// Keys the system itself reads, with the shape their value must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WellKnown {
    CompanyName,
    /// An ISO 4217 currency code.
    CurrencyCode,
    NumberPrefix,
    /// `true` or `false`.
    Flag,
    /// An amount in the base currency's minor unit, 0 to 10¹⁵.
    BaseAmount,
    /// Per role (and `api_key`), the largest discount in basis points of a line's
    /// price its orders may carry without a price review.
    DiscountCaps,
    /// Customer tiers by spend and order count over a recent window ([`TierRule`]).
    TierRules,
    /// When orders are invoiced: one of [`WellKnown::INVOICE_POLICIES`].
    InvoicePolicy,
    /// Days past due, ascending, 1 to 3650, at most 10 of them.
    DayLevels,
}

/// One customer tier: a customer whose counted orders placed in the last `months`
/// months add up to at least `min_spend` (minor units of the base currency) and
/// number at least `min_orders` has it. Rules are read in the order given; the
/// first a customer meets is its tier, and one that meets none is `standard`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierRule {
    pub tier: String,
    pub min_spend: i64,
    pub min_orders: i64,
    pub months: u32,
}

impl TierRule {
    /// The tier of a customer no rule fits.
    pub const STANDARD: &str = "standard";
    pub const MAX_RULES: usize = 10;
    pub const MAX_MONTHS: u32 = 120;
    pub const MAX_ORDERS: i64 = 1_000_000_000;
    pub const NAME_PATTERN: &str = "^[a-z][a-z0-9_]{0,31}$";

    /// The rules a `customer_tiers` value holds, if it is valid.
    pub fn parse(value: &Value) -> Result<Vec<TierRule>, String> {
        let rules: Vec<TierRule> = serde_json::from_value(value.clone()).map_err(|e| {
            format!(
                "must be a list of {{\"tier\", \"min_spend\", \"min_orders\", \"months\"}}: {e}"
            )
        })?;
        if rules.len() > Self::MAX_RULES {
            return Err(format!("at most {} tiers", Self::MAX_RULES));
        }
        for (n, r) in rules.iter().enumerate() {
            let name_ok = r.tier.len() <= 32
                && r.tier
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_lowercase())
                && r.tier
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !name_ok || r.tier == Self::STANDARD {
                return Err(format!(
                    "tier {n}: a name of 1 to 32 lowercase letters, digits or '_' (not \"standard\", which is the tier of everyone else)"
                ));
            }
            if rules.iter().take(n).any(|o| o.tier == r.tier) {
                return Err(format!("tier {n}: {:?} is named twice", r.tier));
            }
            if !(0..=WellKnown::MAX_BASE_AMOUNT).contains(&r.min_spend) {
                return Err(format!(
                    "tier {n}: min_spend from 0 to {} (minor units of the base currency)",
                    WellKnown::MAX_BASE_AMOUNT
                ));
            }
            if !(0..=Self::MAX_ORDERS).contains(&r.min_orders) {
                return Err(format!(
                    "tier {n}: min_orders from 0 to {}",
                    Self::MAX_ORDERS
                ));
            }
            if r.min_spend == 0 && r.min_orders == 0 {
                return Err(format!(
                    "tier {n}: min_spend or min_orders above 0 (a customer without orders is standard)"
                ));
            }
            if !(1..=Self::MAX_MONTHS).contains(&r.months) {
                return Err(format!("tier {n}: months from 1 to {}", Self::MAX_MONTHS));
            }
        }
        Ok(rules)
    }
}

impl WellKnown {
    pub const KEYS: [(&str, WellKnown); 21] = [
        ("company_name", Self::CompanyName),
        ("default_currency", Self::CurrencyCode),
        // What orders store their exchange rate to when submitted, and what credit
        // checks, tiers and reports add up in.
        ("base_currency", Self::CurrencyCode),
        // Whether unit and list prices already include tax (tax is then taken out of
        // them, not added on).
        ("prices_include_tax", Self::Flag),
        ("order_number_prefix", Self::NumberPrefix),
        ("invoice_number_prefix", Self::NumberPrefix),
        ("customer_number_prefix", Self::NumberPrefix),
        ("contract_number_prefix", Self::NumberPrefix),
        ("purchase_order_number_prefix", Self::NumberPrefix),
        ("ticket_number_prefix", Self::NumberPrefix),
        ("return_number_prefix", Self::NumberPrefix),
        ("payment_number_prefix", Self::NumberPrefix),
        ("credit_note_number_prefix", Self::NumberPrefix),
        ("refund_number_prefix", Self::NumberPrefix),
        // When an order's invoice is made and issued: at approval, at each shipment
        // (its goods), at delivery (what is not invoiced yet), or by hand. Prepaid
        // orders are invoiced at approval whatever this says.
        ("invoice_policy", Self::InvoicePolicy),
        // Whether a refund return that brings back the order's last units also
        // refunds its shipping fee.
        ("refund_shipping_on_full_return", Self::Flag),
        // Orders whose grand total in the base currency reaches this are held for a
        // manager (`manual_approval`).
        ("order_approval_threshold", Self::BaseAmount),
        // Refunds whose amount in the base currency reaches this wait for a manager
        // who did not ask for them (`pending_approval`).
        ("refund_approval_threshold", Self::BaseAmount),
        // Days past due at which `invoice.reminder_due` is sent for a row still
        // unsettled (default 3, 10 and 30).
        ("reminder_days", Self::DayLevels),
        // An order line discounted beyond its creator's cap is held (`price_review`).
        ("order_discount_caps", Self::DiscountCaps),
        // Customer tiers by recent spend and order count (see `TierRule`).
        ("customer_tiers", Self::TierRules),
    ];

    /// What `invoice_policy` may be; `manual` when unset.
    pub const INVOICE_POLICIES: [&str; 4] = ["manual", "approval", "shipment", "delivery"];

    /// The largest [`WellKnown::BaseAmount`].
    pub const MAX_BASE_AMOUNT: i64 = 1_000_000_000_000_000;

    /// Who a discount cap is for: every role, and API keys.
    pub fn cap_holders() -> Vec<&'static str> {
        let mut holders: Vec<&str> = ordercrm_kernel::authz::Role::ALL
            .iter()
            .map(|r| r.as_str())
            .collect();
        holders.push("api_key");
        holders
    }

    /// What a number prefix may be (checked by [`check_value`] with the same rule).
    pub const PREFIX_PATTERN: &str = "^[A-Z0-9-]{1,10}$";

    pub fn of(key: &str) -> Option<Self> {
        Self::KEYS.iter().find(|(k, _)| *k == key).map(|(_, w)| *w)
    }

    /// The value's schema for the document: what [`check_value`] accepts.
    pub fn value_schema(self) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::PartialSchema;
        use utoipa::openapi::ObjectBuilder;
        use utoipa::openapi::schema::Type;
        match self {
            Self::CompanyName => ordercrm_kernel::input::NonBlank::<200>::schema(),
            Self::CurrencyCode => Currency::schema(),
            Self::Flag => ObjectBuilder::new().schema_type(Type::Boolean).into(),
            Self::BaseAmount => ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .maximum(Some(Self::MAX_BASE_AMOUNT))
                .description(Some("Minor units of the base currency."))
                .examples([serde_json::json!(5_000_000)])
                .into(),
            Self::DiscountCaps => {
                let mut caps = ObjectBuilder::new().schema_type(Type::Object);
                for holder in Self::cap_holders() {
                    caps = caps.property(
                        holder,
                        ObjectBuilder::new()
                            .schema_type(Type::Integer)
                            .minimum(Some(0))
                            .maximum(Some(10_000)),
                    );
                }
                caps.additional_properties(Some(
                    utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
                ))
                .description(Some(
                    "Basis points (1000 = 10 %) per role or `api_key`; a role not named has no cap.",
                ))
                .examples([serde_json::json!({"sales": 1000, "manager": 3000})])
                .into()
            }
            Self::TierRules => utoipa::openapi::schema::ArrayBuilder::new()
                .items(
                    ObjectBuilder::new()
                        .property(
                            "tier",
                            ObjectBuilder::new()
                                .schema_type(Type::String)
                                .pattern(Some(TierRule::NAME_PATTERN))
                                .description(Some("Not `standard`, the tier of everyone else.")),
                        )
                        .property(
                            "min_spend",
                            ObjectBuilder::new()
                                .schema_type(Type::Integer)
                                .minimum(Some(0))
                                .maximum(Some(Self::MAX_BASE_AMOUNT))
                                .description(Some("Minor units of the base currency.")),
                        )
                        .property(
                            "min_orders",
                            ObjectBuilder::new()
                                .schema_type(Type::Integer)
                                .minimum(Some(0))
                                .maximum(Some(TierRule::MAX_ORDERS)),
                        )
                        .property(
                            "months",
                            ObjectBuilder::new()
                                .schema_type(Type::Integer)
                                .minimum(Some(1))
                                .maximum(Some(TierRule::MAX_MONTHS)),
                        )
                        .required("tier")
                        .required("min_spend")
                        .required("min_orders")
                        .required("months")
                        .additional_properties(Some(
                            utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
                        )),
                )
                .max_items(Some(TierRule::MAX_RULES))
                .description(Some(
                    "Read in order: a customer's tier is the first whose spend and order count over \
                     the last `months` months (approved orders, not cancelled or rejected, by when \
                     they were placed) it meets; `standard` when none. Tier names are unique; each \
                     rule asks for some spend or some orders.",
                ))
                .examples([serde_json::json!([
                    {"tier": "gold", "min_spend": 5_000_000, "min_orders": 10, "months": 12},
                    {"tier": "silver", "min_spend": 1_000_000, "min_orders": 3, "months": 12}
                ])])
                .into(),
            Self::InvoicePolicy => ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(Self::INVOICE_POLICIES))
                .description(Some(
                    "When orders are invoiced (and the invoice issued): `approval`, each `shipment`, \
                     `delivery`, or `manual` (the default). Prepaid orders are invoiced at approval.",
                ))
                .examples([serde_json::json!("delivery")])
                .into(),
            Self::DayLevels => utoipa::openapi::schema::ArrayBuilder::new()
                .items(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(1))
                        .maximum(Some(3650)),
                )
                .max_items(Some(10))
                .description(Some(
                    "Days past due, ascending, none twice: a reminder for each row still unsettled at each.",
                ))
                .examples([serde_json::json!([3, 10, 30])])
                .into(),
            Self::NumberPrefix => ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(Self::PREFIX_PATTERN))
                .examples([serde_json::json!("SO-")])
                .into(),
        }
    }
}

/// A setting's key as a client names it (body or path); [`check_key`] is its rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct SettingKey(pub String);

impl SettingKey {
    /// What [`check_key`] accepts.
    pub const PATTERN: &str = "^[a-z][a-z0-9_.]{0,63}$";
}

ordercrm_kernel::text_newtype!(SettingKey);

impl utoipa::PartialSchema for SettingKey {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(Self::PATTERN))
            .description(Some(
                "A lowercase letter, then lowercase letters, digits, `_` or `.`; at most 64.",
            ))
            .examples([serde_json::json!("order_number_prefix")])
            .into()
    }
}

impl utoipa::ToSchema for SettingKey {}

/// Keys are lowercase identifiers: `order_number_prefix`, `ui.theme`.
pub fn check_key(key: &str) -> Result<(), FieldError> {
    let mut chars = key.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok =
        chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
    if first_ok && rest_ok && key.len() <= 64 {
        Ok(())
    } else {
        Err(FieldError::new(
            "key",
            "pattern",
            "must be 1 to 64 characters: a lowercase letter, then lowercase letters, digits, '_' or '.'",
        ))
    }
}

/// [`WellKnown::PREFIX_PATTERN`], by hand (a test holds the two together).
fn is_prefix(s: &str) -> bool {
    (1..=10).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
}

/// A whole number however JSON spells it: `5e6` and `5000000.0` are the integer
/// 5000000 (JSON Schema's `integer` admits both), stored as `5000000` so every reader
/// finds an integer.
fn whole(value: &Value) -> Option<Value> {
    if value.is_i64() {
        return None;
    }
    let f = value.as_f64()?;
    // Beyond 2^53 a float no longer names one integer.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    #[allow(
        clippy::cast_possible_truncation,
        reason = "whole and within ±2^53, so the conversion is exact"
    )]
    (f.fract() == 0.0 && f.abs() <= EXACT).then(|| Value::from(f as i64))
}

/// The value as it is stored: for the keys that hold integers, whole numbers written
/// as floats become integers. Anything else is left for [`check_value`] to judge.
pub fn canonical(key: &str, value: Value) -> Value {
    match (WellKnown::of(key), value) {
        (Some(WellKnown::BaseAmount), v) => whole(&v).unwrap_or(v),
        (Some(WellKnown::DiscountCaps), Value::Object(caps)) => Value::Object(
            caps.into_iter()
                .map(|(k, v)| {
                    let v = whole(&v).unwrap_or(v);
                    (k, v)
                })
                .collect(),
        ),
        (Some(WellKnown::TierRules), Value::Array(rules)) => Value::Array(
            rules
                .into_iter()
                .map(|rule| match rule {
                    Value::Object(fields) => Value::Object(
                        fields
                            .into_iter()
                            .map(|(k, v)| {
                                let v = whole(&v).unwrap_or(v);
                                (k, v)
                            })
                            .collect(),
                    ),
                    other => other,
                })
                .collect(),
        ),
        (_, v) => v,
    }
}

pub fn check_value(key: &str, value: &Value) -> Result<(), FieldError> {
    let invalid = |code: &str, message: String| Err(FieldError::new("value", code, message));
    if value.is_null() {
        return invalid(
            "required",
            "must not be null; delete the setting instead".into(),
        );
    }
    if value.to_string().len() > MAX_VALUE_BYTES {
        return invalid(
            "length",
            format!("must be at most {MAX_VALUE_BYTES} bytes as JSON"),
        );
    }
    match WellKnown::of(key) {
        None => Ok(()),
        Some(WellKnown::CompanyName) => match value.as_str() {
            Some(s) if !s.trim().is_empty() && s.chars().count() <= 200 => Ok(()),
            _ => invalid(
                "invalid_company_name",
                "must be a non-blank string of at most 200 characters".into(),
            ),
        },
        Some(WellKnown::InvoicePolicy) => match value.as_str() {
            Some(p) if WellKnown::INVOICE_POLICIES.contains(&p) => Ok(()),
            _ => invalid(
                "invalid_policy",
                format!("must be one of {}", WellKnown::INVOICE_POLICIES.join(", ")),
            ),
        },
        Some(WellKnown::DayLevels) => {
            let days: Option<Vec<i64>> = value
                .as_array()
                .and_then(|a| a.iter().map(Value::as_i64).collect());
            match days {
                Some(d)
                    if d.len() <= 10
                        && d.iter().all(|n| (1..=3650).contains(n))
                        && d.windows(2).all(|w| w.first() < w.last()) =>
                {
                    Ok(())
                }
                _ => invalid(
                    "invalid_days",
                    "must be up to 10 whole days from 1 to 3650, ascending, none twice".into(),
                ),
            }
        }
        Some(WellKnown::Flag) => match value {
            Value::Bool(_) => Ok(()),
            _ => invalid("invalid_flag", "must be true or false".into()),
        },
        Some(WellKnown::CurrencyCode) => match value.as_str().map(str::parse::<Currency>) {
            Some(Ok(_)) => Ok(()),
            Some(Err(e)) => invalid("invalid_currency", e.to_string()),
            None => invalid(
                "invalid_currency",
                "must be an ISO 4217 code such as \"CNY\"".into(),
            ),
        },
        Some(WellKnown::BaseAmount) => match value.as_i64() {
            Some(n) if (0..=WellKnown::MAX_BASE_AMOUNT).contains(&n) => Ok(()),
            _ => invalid(
                "invalid_amount",
                format!(
                    "must be an integer from 0 to {} (minor units of the base currency)",
                    WellKnown::MAX_BASE_AMOUNT
                ),
            ),
        },
        Some(WellKnown::DiscountCaps) => {
            let holders = WellKnown::cap_holders();
            let fits = value.as_object().is_some_and(|caps| {
                caps.iter().all(|(k, v)| {
                    holders.contains(&k.as_str())
                        && v.as_i64().is_some_and(|n| (0..=10_000).contains(&n))
                })
            });
            if fits {
                Ok(())
            } else {
                invalid(
                    "invalid_caps",
                    format!(
                        "must be an object from {} to basis points 0 to 10000",
                        holders.join(", ")
                    ),
                )
            }
        }
        Some(WellKnown::TierRules) => match TierRule::parse(value) {
            Ok(_) => Ok(()),
            Err(message) => invalid("invalid_tiers", message),
        },
        Some(WellKnown::NumberPrefix) => match value.as_str() {
            Some(s) if is_prefix(s) => Ok(()),
            _ => invalid(
                "invalid_prefix",
                "must be 1 to 10 characters of A-Z, 0-9 and '-', such as \"SO-\"".into(),
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prefix_pattern_says_what_the_check_does() {
        let re = regex::Regex::new(WellKnown::PREFIX_PATTERN).unwrap_or_else(|e| panic!("{e}"));
        for s in [
            "SO-",
            "PO2026-",
            "A",
            "",
            "so-",
            "ABCDEFGHIJK",
            "ABCDEFGHIJ",
            "SO_",
            "É",
            "SO-\n",
        ] {
            assert_eq!(re.is_match(s), is_prefix(s), "{s:?}");
        }
    }

    #[test]
    fn keys() {
        assert!(check_key("company_name").is_ok());
        assert!(check_key("ui.theme2").is_ok());
        assert!(check_key("").is_err());
        assert!(check_key("Company").is_err());
        assert!(check_key("1abc").is_err());
        assert!(check_key(&"a".repeat(65)).is_err());
    }

    #[test]
    fn well_known_values_are_typed() {
        assert!(check_value("default_currency", &json!("CNY")).is_ok());
        let threshold = canonical("order_approval_threshold", json!(5e6));
        assert_eq!(threshold, json!(5_000_000));
        assert!(check_value("order_approval_threshold", &threshold).is_ok());
        assert_eq!(
            canonical("order_approval_threshold", json!(5.5)),
            json!(5.5),
            "a fraction stays for the check to refuse"
        );
        assert!(check_value("order_approval_threshold", &json!(5.5)).is_err());
        assert_eq!(
            canonical("order_discount_caps", json!({"sales_rep": 1.5e3})),
            json!({"sales_rep": 1500})
        );
        assert_eq!(canonical("company_name", json!(5e6)), json!(5e6));
        assert!(check_value("default_currency", &json!("RMB")).is_err());
        assert!(check_value("default_currency", &json!(156)).is_err());
        assert!(check_value("base_currency", &json!("USD")).is_ok());
        assert!(check_value("base_currency", &json!("usd ")).is_err());
        assert!(check_value("prices_include_tax", &json!(true)).is_ok());
        assert!(check_value("prices_include_tax", &json!("true")).is_err());
        assert!(check_value("order_number_prefix", &json!("SO-")).is_ok());
        assert!(check_value("order_number_prefix", &json!("so-")).is_err());
        assert!(check_value("company_name", &json!("  ")).is_err());
        assert!(check_value("ui.theme", &json!({"dark": true})).is_ok());
        assert!(check_value("ui.theme", &json!(null)).is_err());
        assert!(check_value("ui.blob", &json!("x".repeat(9000))).is_err());
        assert!(check_value("order_approval_threshold", &json!(5_000_000)).is_ok());
        assert!(check_value("order_approval_threshold", &json!(-1)).is_err());
        assert!(check_value("order_approval_threshold", &json!(1.5)).is_err());
        assert!(check_value("order_discount_caps", &json!({"sales": 1000, "api_key": 0})).is_ok());
        assert!(check_value("order_discount_caps", &json!({"sales": 10_001})).is_err());
        assert!(check_value("order_discount_caps", &json!({"intern": 100})).is_err());
        assert!(check_value("order_discount_caps", &json!([1000])).is_err());
    }
}
