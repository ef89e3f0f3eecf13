//! What returns take and show.

use chrono::{DateTime, Utc};
use ordercrm_kernel::Money;
use ordercrm_kernel::input::{Choice, NonBlank, Text};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::model::{Disposition, Resolution, ReturnAction, ReturnStatus};
use crate::dto::{LineNo, OrderCustomer, Quantity};

/// One order line and how many of its delivered units go back.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnLineInput {
    /// The order line's `line_no`.
    pub line_no: LineNo,
    pub quantity: Quantity,
}

/// `POST /v1/orders/{id}/returns`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"lines": [{"line_no": 1, "quantity": 1}],
    "reason": "arrived damaged", "resolution": "refund"}))]
pub struct CreateReturn {
    /// 1 to 200 lines; a line named twice returns the sum.
    #[schema(min_items = 1, max_items = 200)]
    pub lines: Vec<ReturnLineInput>,
    pub reason: NonBlank<500>,
    #[schema(value_type = Resolution)]
    pub resolution: Choice<Resolution>,
    /// With `exchange`: a returned line's replacement when it is another product
    /// (at its list price in the order's currency, less what the customer paid for
    /// the units returned; never below zero). Lines not named are replaced like for
    /// like, at no charge.
    #[schema(max_items = 200)]
    pub exchange: Option<Vec<ExchangeLine>>,
}

/// The product a returned order line is exchanged for.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeLine {
    /// The order line's `line_no` (one the return names).
    pub line_no: LineNo,
    pub sku: NonBlank<64>,
}

/// `POST /v1/returns/{id}/approve`, `/reject`: an optional note.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"note": "photos show transport damage"}))]
pub struct ReturnDecision {
    pub note: Option<Text<500>>,
}

/// `POST /v1/returns/{id}/close`: an optional note, and for an exchange whether
/// to make its replacement.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"note": "refund due"}))]
pub struct CloseReturn {
    pub note: Option<Text<500>>,
    /// An exchange only: `false` closes it without a replacement order (when one
    /// cannot be made: the product withdrawn, the customer erased), the exchange
    /// settled otherwise. Default: a replacement for the units received.
    pub replace: Option<bool>,
}

/// Units of one return line that arrived, and what becomes of them.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptLineInput {
    /// The return line's `line_no`.
    pub line_no: LineNo,
    pub quantity: Quantity,
    #[schema(value_type = Disposition)]
    pub disposition: Choice<Disposition>,
    /// Where restocked (or recorded as scrapped) units go; default the warehouse
    /// the order line shipped from.
    pub warehouse_code: Option<NonBlank<32>>,
}

/// `POST /v1/returns/{id}/receive`: what arrived now (more may arrive later).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"lines": [{"line_no": 1, "quantity": 1, "disposition": "restock"}],
    "note": "box opened, item unused"}))]
pub struct ReceiveReturn {
    /// 1 to 200 lines; a line named twice (say once restocked, once scrapped) is
    /// received twice.
    #[schema(min_items = 1, max_items = 200)]
    pub lines: Vec<ReceiptLineInput>,
    pub note: Option<Text<500>>,
}

/// One line of a return.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ReturnLineView {
    pub line_no: i32,
    /// The order line it returns.
    pub order_line_no: i32,
    pub product_id: Uuid,
    pub sku: String,
    pub name: String,
    /// Units the customer sends back.
    pub quantity: i64,
    pub received_quantity: i64,
    pub restocked_quantity: i64,
    pub scrapped_quantity: i64,
    /// What the units received are refunded (zero unless the resolution is `refund`).
    pub refund: Money,
    /// An exchange's replacement, when another product than the one returned.
    pub replacement_product_id: Option<Uuid>,
    /// An exchange's replacement unit price (its list price when asked for; zero
    /// for the same product).
    pub replacement_unit_price: Option<Money>,
}

/// A return as every reader sees it; events carry this.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ReturnData {
    pub id: Uuid,
    /// `RMA-000001`, from the `return_number_prefix` setting.
    pub number: String,
    pub order_id: Uuid,
    pub order_number: String,
    pub customer: OrderCustomer,
    pub status: ReturnStatus,
    pub resolution: Resolution,
    pub reason: String,
    /// What the manager said approving or rejecting it.
    pub decision_note: Option<String>,
    pub lines: Vec<ReturnLineView>,
    /// Owed back for what was received: the lines' refunds plus `shipping_refund`.
    /// Final when `closed`; paid out by payments.
    pub refund_due: Money,
    /// The order's shipping fee, when the setting `refund_shipping_on_full_return`
    /// is on and this return brought back the order's last units.
    pub shipping_refund: Money,
    /// An exchange's replacement order, made when the return closed (for the
    /// units received), through intake and review like any order.
    pub replacement_order_id: Option<Uuid>,
    pub requested_by: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    /// The first receipt.
    pub received_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Also the `ETag`.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A return, with what this caller may do to it next.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ReturnView {
    #[serde(flatten)]
    pub data: ReturnData,
    /// The actions this caller may take now: exactly those the server accepts.
    pub allowed_actions: Vec<ReturnAction>,
}

impl ordercrm_kernel::version::Versioned for ReturnView {
    fn version(&self) -> i64 {
        self.data.version
    }
}
