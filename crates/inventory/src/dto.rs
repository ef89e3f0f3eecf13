//! What goes over the wire.

use chrono::{DateTime, NaiveDate, Utc};
use ordercrm_kernel::Money;
use ordercrm_kernel::NonNegativeMoney;
use ordercrm_kernel::input::{
    Attributes, Country, CursorParam, Email, Limit, NonBlank, Phone, Text,
};
pub use ordercrm_kernel::validation::ExternalRef;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::model::{
    LeadTimeDays, MovementKind, PurchaseOrderStatus, ReservationStatus, Sku, TaxRateBps,
    WarehouseCode, WarehousePriority, WarrantyDays,
};
use ordercrm_kernel::Currency;
use ordercrm_kernel::input::Choice;

// ---------------------------------------------------------------- products

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "sku": "TEA-LJ-250", "name": "西湖龙井 Longjing green tea 250 g", "category": "tea",
    "unit": "each", "barcode": "6901234567892",
    "list_price": {"amount": 16800, "currency": "CNY"}, "cost": {"amount": 9200, "currency": "CNY"},
    "tax_rate_bps": 1300, "warranty_days": null, "tracks_inventory": true,
    "attributes": {"origin": "Hangzhou"}, "external_refs": [{"channel": "tmall", "external_id": "TM-SKU-7781"}]
}))]
pub struct CreateProduct {
    /// Unique without regard to case.
    pub sku: Sku,
    pub name: NonBlank<200>,
    pub description: Option<Text<10000>>,
    pub category: Option<Text<100>>,
    /// Unit of measure for quantities (`each`, `box`, `kg`; default `each`); quantities are whole units of it.
    pub unit: Option<Text<20>>,
    pub barcode: Option<Text<64>>,
    pub list_price: NonNegativeMoney,
    pub cost: Option<NonNegativeMoney>,
    /// Tax rate in basis points: 1300 is 13 %.
    #[serde(default)]
    pub tax_rate_bps: TaxRateBps,
    /// How long after delivery a unit is under warranty.
    pub warranty_days: Option<WarrantyDays>,
    /// `false` for services: they are never stocked or reserved.
    #[serde(default = "yes")]
    pub tracks_inventory: bool,
    #[serde(default = "yes")]
    pub active: bool,
    pub attributes: Option<Attributes>,
    /// The preferred supplier, whom replenishment orders from.
    pub supplier_id: Option<Uuid>,
    #[serde(default)]
    pub external_refs: Vec<ExternalRef>,
}

fn yes() -> bool {
    true
}

/// Absent fields stay as they are; `null` clears a nullable one.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"list_price": {"amount": 15800, "currency": "CNY"}, "active": true}))]
pub struct UpdateProduct {
    pub sku: Option<Sku>,
    pub name: Option<NonBlank<200>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<Text<10000>>)]
    pub description: Option<Option<Text<10000>>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<Text<100>>)]
    pub category: Option<Option<Text<100>>>,
    pub unit: Option<NonBlank<20>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<Text<64>>)]
    pub barcode: Option<Option<Text<64>>>,
    pub list_price: Option<NonNegativeMoney>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<NonNegativeMoney>)]
    pub cost: Option<Option<NonNegativeMoney>>,
    pub tax_rate_bps: Option<TaxRateBps>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<WarrantyDays>)]
    pub warranty_days: Option<Option<WarrantyDays>>,
    pub tracks_inventory: Option<bool>,
    pub active: Option<bool>,
    pub attributes: Option<Attributes>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub supplier_id: Option<Option<Uuid>>,
    /// Replaces the whole list when present.
    pub external_refs: Option<Vec<ExternalRef>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ProductView {
    pub id: Uuid,
    pub sku: String,
    pub name: String,
    pub description: Option<String>,
    pub category: Option<String>,
    pub unit: String,
    pub barcode: Option<String>,
    pub list_price: Money,
    pub cost: Option<Money>,
    pub tax_rate_bps: i32,
    pub warranty_days: Option<i32>,
    pub tracks_inventory: bool,
    pub active: bool,
    pub attributes: serde_json::Value,
    pub supplier_id: Option<Uuid>,
    pub external_refs: Vec<ExternalRef>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

ordercrm_kernel::string_enum! {
    /// How a product list is ordered.
    #[derive(Default)]
    pub ProductSort {
        #[default]
        CreatedAtDesc = "-created_at",
        CreatedAt = "created_at",
        Sku = "sku",
        Name = "name",
    }
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListProducts {
    /// Case-insensitive substring of the SKU, name or barcode.
    pub q: Option<Text<200>>,
    pub category: Option<Text<100>>,
    pub active: Option<bool>,
    pub tracks_inventory: Option<bool>,
    pub supplier_id: Option<Uuid>,
    /// `-created_at` (default), `created_at`, `sku` or `name`.
    #[param(inline)]
    pub sort: Option<ProductSort>,
    pub limit: Option<Limit>,
    pub cursor: Option<CursorParam>,
}

// ---------------------------------------------------------------- warehouses, suppliers

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WarehouseAddress {
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[schema(example = "CN")]
    pub country: String,
}

/// A warehouse's address as a client sends it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WarehouseAddressInput {
    pub line1: NonBlank<200>,
    pub line2: Option<Text<200>>,
    pub city: NonBlank<100>,
    pub region: Option<Text<100>>,
    pub postal_code: Option<Text<20>>,
    pub country: Country,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "SH-01", "name": "Shanghai Pudong DC",
    "address": {"line1": "88 Jinke Road", "city": "Shanghai", "postal_code": "201203", "country": "CN"}}))]
pub struct CreateWarehouse {
    /// Unique without regard to case; what integrations send as `warehouse_code`.
    pub code: WarehouseCode,
    pub name: NonBlank<200>,
    pub address: Option<WarehouseAddressInput>,
    #[serde(default = "yes")]
    pub active: bool,
    /// Lowest serves first (ties by code) where the server picks a warehouse for an
    /// order; default 100.
    pub priority: Option<WarehousePriority>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Shanghai Pudong DC 2", "active": true}))]
pub struct UpdateWarehouse {
    pub name: Option<NonBlank<200>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<WarehouseAddressInput>)]
    pub address: Option<Option<WarehouseAddressInput>>,
    /// An inactive warehouse takes no receipts, transfers or reservations.
    pub active: Option<bool>,
    /// Lowest serves first (ties by code) where the server picks a warehouse.
    pub priority: Option<WarehousePriority>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct WarehouseView {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub address: Option<WarehouseAddress>,
    pub active: bool,
    /// Lowest serves first (ties by code) where the server picks a warehouse.
    pub priority: i32,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Hangzhou Tea Cooperative", "contact_name": "Li Wei",
    "email": "orders@hz-tea.example.cn", "phone": "+86 571 8888 0000", "lead_time_days": 7, "currency": "CNY"}))]
pub struct CreateSupplier {
    pub name: NonBlank<200>,
    pub contact_name: Option<Text<200>>,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    /// Days from ordering to goods on the dock; replenishment plans with it.
    pub lead_time_days: LeadTimeDays,
    /// Purchase orders to this supplier are in it.
    #[schema(value_type = Currency)]
    pub currency: Choice<Currency>,
    #[serde(default = "yes")]
    pub active: bool,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"lead_time_days": 10}))]
pub struct UpdateSupplier {
    pub name: Option<NonBlank<200>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<Text<200>>)]
    pub contact_name: Option<Option<Text<200>>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<Email>)]
    pub email: Option<Option<Email>>,
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<Phone>)]
    pub phone: Option<Option<Phone>>,
    pub lead_time_days: Option<LeadTimeDays>,
    #[schema(value_type = Option<Currency>)]
    pub currency: Option<Choice<Currency>>,
    pub active: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SupplierView {
    pub id: Uuid,
    pub name: String,
    pub contact_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub lead_time_days: i32,
    pub currency: String,
    pub active: bool,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListSimple {
    pub active: Option<bool>,
    pub limit: Option<Limit>,
    pub cursor: Option<CursorParam>,
}

// ---------------------------------------------------------------- stock

/// Stock of one product in one warehouse.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LevelView {
    pub sku: String,
    pub product_id: Uuid,
    pub product_name: String,
    pub warehouse_code: String,
    pub warehouse_id: Uuid,
    pub on_hand: i64,
    pub reserved: i64,
    /// `on_hand - reserved`: what can still be promised.
    pub available: i64,
    pub reorder_point: i64,
    pub reorder_quantity: i64,
    pub safety_stock: i64,
    /// A low-stock alert is open for this level.
    pub low_stock: bool,
    /// When the newest applied WMS count was taken.
    pub counted_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

impl LevelView {
    /// `SKU@WAREHOUSE`: how the audit log and the event feed name a stock level.
    pub fn label(&self) -> String {
        format!("{}@{}", self.sku, self.warehouse_code)
    }
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListLevels {
    /// Exact SKU (any case).
    pub sku: Option<String>,
    /// Warehouse code (any case).
    pub warehouse: Option<String>,
    /// Only levels whose available quantity is below their reorder point.
    pub below_reorder_point: Option<bool>,
    pub limit: Option<Limit>,
    pub cursor: Option<CursorParam>,
}

/// Reorder settings of one level; absent fields stay.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reorder_point": 20, "reorder_quantity": 100, "safety_stock": 10}))]
pub struct UpdateLevel {
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub reorder_point: Option<i64>,
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub reorder_quantity: Option<i64>,
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub safety_stock: Option<i64>,
}

/// An absolute count from a WMS. Counts older than the newest applied one are
/// ignored, so retries and out-of-order deliveries are harmless.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"quantity": 118, "counted_at": "2026-11-25T06:00:00Z", "reference": "WMS-CC-20261125-0042"}))]
pub struct WmsCount {
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub quantity: i64,
    pub counted_at: DateTime<Utc>,
    pub reference: Option<Text<200>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CountResult {
    /// `false` when a newer count was already applied (or this one was): nothing changed.
    pub applied: bool,
    pub level: LevelView,
    /// The adjustment the count caused; absent when it matched the books or was not applied.
    pub movement: Option<MovementView>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"sku": "TEA-LJ-250", "warehouse_code": "SH-01", "quantity": 200, "reference": "PO-000012"}))]
pub struct Receive {
    pub sku: Sku,
    pub warehouse_code: WarehouseCode,
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub quantity: i64,
    pub reference: Option<Text<200>>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"sku": "TEA-LJ-250", "warehouse_code": "SH-01", "quantity": -3, "reason": "damaged in handling"}))]
pub struct Adjust {
    pub sku: Sku,
    pub warehouse_code: WarehouseCode,
    /// Signed change to on-hand; not zero.
    #[schema(minimum = -1_000_000_000, maximum = 1_000_000_000)]
    pub quantity: i64,
    pub reason: NonBlank<500>,
    pub reference: Option<Text<200>>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"sku": "TEA-LJ-250", "from_warehouse_code": "SH-01", "to_warehouse_code": "BJ-01", "quantity": 40}))]
pub struct Transfer {
    pub sku: Sku,
    pub from_warehouse_code: WarehouseCode,
    pub to_warehouse_code: WarehouseCode,
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub quantity: i64,
    pub reference: Option<Text<200>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// Back on the shelf: on-hand rises.
    Restock,
    /// Recorded, then scrapped: on-hand does not change.
    Scrap,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"sku": "TEA-LJ-250", "warehouse_code": "SH-01", "quantity": 1, "disposition": "restock", "reference": "RMA-0007"}))]
pub struct Return {
    pub sku: Sku,
    pub warehouse_code: WarehouseCode,
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub quantity: i64,
    pub disposition: Disposition,
    pub reason: Option<Text<500>>,
    pub reference: Option<Text<200>>,
}

/// One line of the ledger. Never changed or deleted.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MovementView {
    pub id: Uuid,
    pub sku: String,
    pub product_id: Uuid,
    pub warehouse_code: String,
    pub warehouse_id: Uuid,
    pub kind: MovementKind,
    /// Units moved, shipped, returned or counted off (always positive).
    pub units: i64,
    /// Signed change to on-hand (0 for a scrapped return).
    pub quantity: i64,
    pub on_hand_after: i64,
    pub reason: Option<String>,
    pub reference: Option<String>,
    /// Both legs of a transfer carry the same id.
    pub transfer_id: Option<Uuid>,
    pub reservation_id: Option<Uuid>,
    pub purchase_order_id: Option<Uuid>,
    /// `user:<id>`, `key:<id>` or `system`.
    pub actor: String,
    pub created_at: DateTime<Utc>,
}

/// What a stock operation did: its ledger lines and the levels after them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StockChange {
    pub movements: Vec<MovementView>,
    pub levels: Vec<LevelView>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListMovements {
    pub sku: Option<String>,
    pub warehouse: Option<String>,
    #[param(inline)]
    pub kind: Option<MovementKind>,
    pub reference: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub limit: Option<Limit>,
    pub cursor: Option<CursorParam>,
}

// ---------------------------------------------------------------- reservations

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReserveLine {
    pub sku: Sku,
    pub warehouse_code: WarehouseCode,
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub quantity: i64,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"lines": [{"sku": "TEA-LJ-250", "warehouse_code": "SH-01", "quantity": 2},
    {"sku": "CUP-CELADON", "warehouse_code": "SH-01", "quantity": 4}],
    "reference": "cart:9f1c2e", "expires_at": "2030-11-25T10:30:00Z"}))]
pub struct CreateReservation {
    /// All lines are held or none is. Lines for the same SKU and warehouse are summed.
    #[schema(min_items = 1, max_items = 500)]
    pub lines: Vec<ReserveLine>,
    /// Your key for what holds the stock: an order, a cart.
    pub reference: Option<Text<200>>,
    /// The hold lapses then (carts); none: until released or consumed.
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ReservationLineView {
    pub line_no: i32,
    pub sku: String,
    pub product_id: Uuid,
    pub warehouse_code: String,
    pub warehouse_id: Uuid,
    pub quantity: i64,
    pub consumed: i64,
    pub released: i64,
    /// Still held.
    pub open: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ReservationView {
    pub id: Uuid,
    pub reference: Option<String>,
    pub status: ReservationStatus,
    pub expires_at: Option<DateTime<Utc>>,
    /// The order this holds stock for (`/v1/orders/{id}`); the order releases it.
    pub order_id: Option<Uuid>,
    pub lines: Vec<ReservationLineView>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsumeLine {
    pub line_no: i32,
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub quantity: i64,
}

/// Ship held stock. Without `lines`, everything still held ships.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"lines": [{"line_no": 1, "quantity": 1}], "reference": "SHIP-0042"}))]
pub struct Consume {
    #[schema(min_items = 1, max_items = 500)]
    pub lines: Option<Vec<ConsumeLine>>,
    pub reference: Option<Text<200>>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListReservations {
    #[param(inline)]
    pub status: Option<ReservationStatus>,
    pub reference: Option<String>,
    pub limit: Option<Limit>,
    pub cursor: Option<CursorParam>,
}

/// A line that could not be reserved (or moved) in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ShortLine {
    pub sku: String,
    pub warehouse_code: String,
    pub requested: i64,
    pub available: i64,
}

// ---------------------------------------------------------------- alerts

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AlertView {
    pub id: Uuid,
    pub sku: String,
    pub product_id: Uuid,
    pub warehouse_code: String,
    pub warehouse_id: Uuid,
    /// Available when the alert opened.
    pub available_at_open: i64,
    pub reorder_point: i64,
    /// Available now.
    pub available: i64,
    pub opened_at: DateTime<Utc>,
    /// When available rose back to the reorder point; `null` while open.
    pub closed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListAlerts {
    /// `true` (default): open alerts; `false`: closed ones.
    pub open: Option<bool>,
    pub limit: Option<Limit>,
    pub cursor: Option<CursorParam>,
}

// ---------------------------------------------------------------- replenishment

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SuggestionQuery {
    /// Days of shipments the average daily demand is taken over (1-365, default 30).
    #[param(minimum = 1, maximum = 365)]
    pub window_days: Option<i64>,
    pub warehouse: Option<String>,
    pub supplier_id: Option<Uuid>,
}

/// Why to order how much, with every input shown.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Suggestion {
    pub sku: String,
    pub product_id: Uuid,
    pub product_name: String,
    pub warehouse_code: String,
    pub warehouse_id: Uuid,
    pub supplier_id: Option<Uuid>,
    pub supplier_name: Option<String>,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
    /// Ordered from suppliers and not yet received.
    pub on_order: i64,
    pub window_days: i64,
    /// Units shipped in the window.
    pub shipped_in_window: i64,
    /// `shipped_in_window / window_days`.
    pub average_daily_demand: f64,
    /// The supplier's; 0 without a supplier.
    pub lead_time_days: i64,
    /// `ceil(average_daily_demand * lead_time_days)`.
    pub demand_during_lead_time: i64,
    pub safety_stock: i64,
    pub reorder_point: i64,
    pub reorder_quantity: i64,
    /// `max(reorder_point, demand_during_lead_time + safety_stock)`.
    pub reorder_level: i64,
    /// `available + on_order`.
    pub position: i64,
    /// `max(reorder_quantity, reorder_level - position)` when `position < reorder_level`.
    pub suggested_quantity: i64,
    pub unit_cost: Option<Money>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Suggestions {
    pub window_days: i64,
    pub computed_at: DateTime<Utc>,
    pub data: Vec<Suggestion>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChosenSuggestion {
    pub sku: Sku,
    pub warehouse_code: WarehouseCode,
    /// Defaults to the suggested quantity.
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub quantity: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"lines": [{"sku": "TEA-LJ-250", "warehouse_code": "SH-01"}], "window_days": 30}))]
pub struct CreateFromSuggestions {
    #[schema(min_items = 1, max_items = 500)]
    pub lines: Vec<ChosenSuggestion>,
    /// Days of shipments the demand is averaged over (default 30).
    pub window_days: Option<crate::model::WindowDays>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedPurchaseOrders {
    /// One draft per supplier and warehouse.
    pub purchase_orders: Vec<PurchaseOrderView>,
}

// ---------------------------------------------------------------- purchase orders

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurchaseOrderLineInput {
    pub sku: Sku,
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub quantity: i64,
    /// In minor units of the order's currency; defaults to the product's cost when that is in the same currency.
    pub unit_cost: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"supplier_id": "01936f7e-8a4b-7c3d-9e2f-1a2b3c4d5e6f", "warehouse_code": "SH-01",
    "lines": [{"sku": "TEA-LJ-250", "quantity": 200}], "expected_on": "2026-12-02"}))]
pub struct CreatePurchaseOrder {
    pub supplier_id: Uuid,
    /// Where the goods will be received.
    pub warehouse_code: WarehouseCode,
    #[schema(min_items = 1, max_items = 500)]
    pub lines: Vec<PurchaseOrderLineInput>,
    pub expected_on: Option<ordercrm_kernel::input::Day>,
    pub notes: Option<Text<2000>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PurchaseOrderLineView {
    pub line_no: i32,
    pub sku: String,
    pub product_id: Uuid,
    pub quantity: i64,
    pub received_quantity: i64,
    pub open_quantity: i64,
    pub unit_cost: Money,
    pub line_total: Money,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PurchaseOrderView {
    pub id: Uuid,
    pub number: String,
    pub supplier_id: Uuid,
    pub warehouse_code: String,
    pub warehouse_id: Uuid,
    pub status: PurchaseOrderStatus,
    pub currency: String,
    pub expected_on: Option<NaiveDate>,
    pub notes: Option<String>,
    pub lines: Vec<PurchaseOrderLineView>,
    pub total: Money,
    pub ordered_at: Option<DateTime<Utc>>,
    pub received_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiveLine {
    pub line_no: i32,
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub quantity: i64,
}

/// Goods that arrived. Partial receipts are fine; more than ordered is refused.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"lines": [{"line_no": 1, "quantity": 120}], "reference": "GRN-5531"}))]
pub struct ReceivePurchaseOrder {
    #[schema(min_items = 1, max_items = 500)]
    pub lines: Vec<ReceiveLine>,
    pub reference: Option<Text<200>>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListPurchaseOrders {
    #[param(inline)]
    pub status: Option<PurchaseOrderStatus>,
    pub supplier_id: Option<Uuid>,
    pub limit: Option<Limit>,
    pub cursor: Option<CursorParam>,
}

/// The result of `ordercrm inventory verify`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VerifyReport {
    pub levels_checked: u64,
    /// Levels whose on-hand differs from the sum of their ledger, or whose reserved
    /// differs from their open reservation lines.
    pub mismatches: Vec<Mismatch>,
    /// Rows that break an invariant of quantities (a negative on-hand, a line
    /// consumed beyond what it held, ...). The schema refuses them since
    /// `m20261128_000009`; an older database could hold them.
    pub impossible: Vec<Impossible>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Impossible {
    pub table: &'static str,
    /// The row: its key columns and values.
    pub row: String,
    /// The invariant it breaks.
    pub rule: &'static str,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Mismatch {
    pub product_id: Uuid,
    pub warehouse_id: Uuid,
    pub on_hand: i64,
    pub ledger_on_hand: i64,
    pub reserved: i64,
    pub open_reservations: i64,
}

ordercrm_kernel::versioned!(
    ProductView,
    WarehouseView,
    SupplierView,
    LevelView,
    ReservationView,
    PurchaseOrderView,
);

#[cfg(test)]
mod tests {
    use utoipa::PartialSchema;

    use super::*;
    use crate::model::{MAX_LINES, MAX_QUANTITY};

    /// Bounds written as literals in the schema attributes are the ones the
    /// commands check.
    #[test]
    fn schema_bounds_are_the_checked_ones() {
        let schemas = [
            CreateReservation::schema(),
            Consume::schema(),
            CreateFromSuggestions::schema(),
            CreatePurchaseOrder::schema(),
            ReceivePurchaseOrder::schema(),
            ReserveLine::schema(),
            ConsumeLine::schema(),
            Receive::schema(),
            Adjust::schema(),
            Transfer::schema(),
            Return::schema(),
            WmsCount::schema(),
            UpdateLevel::schema(),
            PurchaseOrderLineInput::schema(),
            ReceiveLine::schema(),
            ChosenSuggestion::schema(),
        ];
        let mut seen = (0, 0);
        for schema in schemas {
            let json = serde_json::to_value(schema).unwrap_or_default();
            let text = json.to_string();
            for (key, value) in [
                ("maxItems", i64::try_from(MAX_LINES).unwrap()),
                ("maximum", MAX_QUANTITY),
            ] {
                for found in text.match_indices(&format!("\"{key}\":")) {
                    let rest = &text[found.0 + key.len() + 3..];
                    let n: i64 = rest
                        .split(|c: char| !c.is_ascii_digit() && c != '-')
                        .next()
                        .and_then(|n| n.parse().ok())
                        .unwrap_or_default();
                    assert_eq!(n, value, "{key} in {text}");
                    if key == "maxItems" {
                        seen.0 += 1;
                    } else {
                        seen.1 += 1;
                    }
                }
            }
        }
        assert!(seen.0 >= 5 && seen.1 >= 10, "{seen:?}");
    }
}
