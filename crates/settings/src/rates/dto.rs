//! What goes over the wire.

use chrono::{DateTime, NaiveDate, Utc};
use ordercrm_kernel::Currency;
use ordercrm_kernel::input::{Choice, CursorParam, Day, Limit};
use ordercrm_kernel::rate::{Rate, RateText};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Publish a rate: one unit of `from` buys `rate` units of `to` from `effective_on`
/// until a later rate for the pair takes over.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"from": "USD", "to": "CNY", "rate": "7.1234", "effective_on": "2026-11-29"}))]
pub struct CreateExchangeRate {
    #[schema(value_type = Currency)]
    pub from: Choice<Currency>,
    #[schema(value_type = Currency)]
    pub to: Choice<Currency>,
    pub rate: RateText,
    pub effective_on: Day,
}

/// A published rate.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "01937c4e-0000-7000-8000-000000000001", "from": "USD", "to": "CNY",
    "rate": "7.1234", "effective_on": "2026-11-29", "created_at": "2026-11-29T08:00:00Z"
}))]
pub struct ExchangeRateView {
    pub id: Uuid,
    pub from: Currency,
    pub to: Currency,
    /// Exact decimal text, without trailing zeros.
    #[schema(value_type = String, example = "7.1234")]
    pub rate: Rate,
    pub effective_on: NaiveDate,
    pub created_at: DateTime<Utc>,
}

/// Query parameters of `GET /v1/exchange-rates`: newest effective date first.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListExchangeRates {
    /// Only rates from this currency.
    #[param(value_type = Option<Currency>)]
    pub from: Option<Choice<Currency>>,
    /// Only rates to this currency.
    #[param(value_type = Option<Currency>)]
    pub to: Option<Choice<Currency>>,
    /// Only rates effective on or after this date.
    pub effective_from: Option<Day>,
    /// Only rates effective on or before this date.
    pub effective_until: Option<Day>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<Limit>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<CursorParam>,
}

/// Query parameters of `GET /v1/exchange-rates/effective`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EffectiveRateQuery {
    #[param(value_type = Currency)]
    pub from: Choice<Currency>,
    #[param(value_type = Currency)]
    pub to: Choice<Currency>,
    /// The day the rate is wanted for (default: today, UTC).
    pub on: Option<Day>,
}
