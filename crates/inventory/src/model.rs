//! The rules: what a valid SKU, quantity and status change are.

use ordercrm_kernel::FieldError;

/// The largest quantity one request may move: far beyond any real warehouse, small
/// enough that no sum of a request's lines overflows.
pub const MAX_QUANTITY: i64 = 1_000_000_000;

/// The most lines one request may carry (a reservation, a purchase order, a receipt).
pub const MAX_LINES: usize = 500;

/// 1 to [`MAX_LINES`] lines.
pub fn check_lines(errors: &mut Vec<FieldError>, count: usize) {
    if !(1..=MAX_LINES).contains(&count) {
        errors.push(FieldError::new(
            "lines",
            "length",
            format!("must hold 1 to {MAX_LINES} lines"),
        ));
    }
}

/// What a request takes from the lines of a reservation or purchase order: each
/// request line's quantity is 1..=[`MAX_QUANTITY`], and a line named several times
/// adds up (checked) to no more than it has `open`. `over` explains an excess.
#[derive(Debug, Default, serde::Serialize)]
#[serde(transparent)]
pub struct Takes(std::collections::BTreeMap<i32, i64>);

impl Takes {
    pub fn add(
        &mut self,
        errors: &mut Vec<FieldError>,
        field: &str,
        line_no: i32,
        quantity: i64,
        open: i64,
        over: impl FnOnce() -> FieldError,
    ) {
        if !(1..=MAX_QUANTITY).contains(&quantity) {
            errors.push(FieldError::new(
                field,
                "range",
                format!("must be between 1 and {MAX_QUANTITY}"),
            ));
            return;
        }
        let total = self.get(line_no).checked_add(quantity);
        match total {
            Some(total) if total <= open => {
                self.0.insert(line_no, total);
            }
            _ => errors.push(over()),
        }
    }

    /// What the request takes from `line_no` (0 when it names it not).
    pub fn get(&self, line_no: i32) -> i64 {
        self.0.get(&line_no).copied().unwrap_or(0)
    }

    /// Take everything open on `line_no` (a consume without lines).
    pub fn all(&mut self, line_no: i32, open: i64) {
        self.0.insert(line_no, open);
    }
}

/// SKUs compare without case: `ab-1` and `AB-1` are one product.
pub fn normalize_sku(sku: &str) -> String {
    sku.trim().to_lowercase()
}

/// Warehouse codes compare without case too.
pub fn normalize_code(code: &str) -> String {
    code.trim().to_lowercase()
}

/// What `q` searches: SKU, name and barcode, lower-cased.
pub fn search_text(sku: &str, name: &str, barcode: Option<&str>) -> String {
    [Some(sku), Some(name), barcode]
        .into_iter()
        .flatten()
        .map(|s| s.trim().to_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn check_sku(errors: &mut Vec<FieldError>, field: &str, sku: &str) {
    let sku = sku.trim();
    if !(1..=Sku::MAX).contains(&sku.chars().count())
        || sku.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        errors.push(FieldError::new(
            field,
            "invalid_sku",
            "must be 1 to 64 characters without spaces",
        ));
    }
}

/// A SKU as a client sends it: 1 to 64 characters, no spaces or control characters.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Sku(pub String);

impl Sku {
    pub const MAX: usize = 64;
    /// What [`check_sku`] accepts: no space (as `char::is_whitespace` has it) and no
    /// C0/C1 control.
    pub const PATTERN: &str = concat!(
        r"^[^",
        ordercrm_kernel::space_class!(),
        r"\x00-\x1F\x7F-\x9F]+$"
    );

    /// The trimmed SKU; a field error when it is not one.
    pub fn check(&self, errors: &mut Vec<FieldError>, field: &str) -> String {
        check_sku(errors, field, &self.0);
        self.0.trim().to_owned()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl utoipa::PartialSchema for Sku {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .min_length(Some(1))
            .max_length(Some(Self::MAX))
            .pattern(Some(Self::PATTERN))
            .examples([serde_json::json!("TEA-LJ-250")])
            .into()
    }
}

impl utoipa::ToSchema for Sku {}

/// A warehouse code: 1 to 32 letters, digits, `-`, `_` or `.`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct WarehouseCode(pub String);

impl WarehouseCode {
    pub const PATTERN: &str = "^[A-Za-z0-9._-]{1,32}$";

    /// The trimmed code; a field error when it is not one.
    pub fn check(&self, errors: &mut Vec<FieldError>, field: &str) -> String {
        let code = self.0.trim().to_owned();
        if !(1..=32).contains(&code.chars().count())
            || !code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            errors.push(FieldError::new(
                field,
                "invalid_code",
                "must be 1 to 32 letters, digits, '-', '_' or '.'",
            ));
        }
        code
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl utoipa::PartialSchema for WarehouseCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(Self::PATTERN))
            .examples([serde_json::json!("SH-01")])
            .into()
    }
}

impl utoipa::ToSchema for WarehouseCode {}

ordercrm_kernel::text_newtype!(Sku, WarehouseCode);

/// Tax rate in basis points: 0 to 10000 (100 %).
pub type TaxRateBps = ordercrm_kernel::input::Int<0, 10_000>;
/// Warranty after delivery, up to a hundred years.
pub type WarrantyDays = ordercrm_kernel::input::Int<0, 36_500>;
/// Days from ordering to goods on the dock.
pub type LeadTimeDays = ordercrm_kernel::input::Int<0, 365>;
/// Which warehouse serves first, lowest first (ties by code): where the server picks
/// the warehouse for an order, it prefers the one that can serve every line, and
/// among those, this order.
pub type WarehousePriority = ordercrm_kernel::input::Int<0, 1000>;
/// A new warehouse's priority when none is given: room to rank others before it.
pub const DEFAULT_WAREHOUSE_PRIORITY: i32 = 100;
/// Days of shipments replenishment averages demand over.
pub type WindowDays = ordercrm_kernel::input::Int<1, 365>;

/// A positive quantity within [`MAX_QUANTITY`].
pub fn check_positive(errors: &mut Vec<FieldError>, field: &str, quantity: i64) {
    if !(1..=MAX_QUANTITY).contains(&quantity) {
        errors.push(FieldError::new(
            field,
            "range",
            format!("must be between 1 and {MAX_QUANTITY}"),
        ));
    }
}

/// Zero or more, within [`MAX_QUANTITY`] (reorder points, counts).
pub fn check_non_negative(errors: &mut Vec<FieldError>, field: &str, quantity: i64) {
    if !(0..=MAX_QUANTITY).contains(&quantity) {
        errors.push(FieldError::new(
            field,
            "range",
            format!("must be between 0 and {MAX_QUANTITY}"),
        ));
    }
}

use ordercrm_kernel::string_enum;

string_enum! {
    /// Why on-hand changed.
    pub MovementKind {
        Receipt = "receipt",
        Adjustment = "adjustment",
        /// A WMS count that differed from the book quantity.
        Count = "count",
        TransferOut = "transfer_out",
        TransferIn = "transfer_in",
        /// Goods left the warehouse against a reservation.
        Shipment = "shipment",
        /// A shipment cancelled before pickup: the goods never left and are on-hand
        /// again (held again for the order when it still wants them).
        ShipmentReversal = "shipment_reversal",
        /// Goods came back and are sellable again.
        ReturnRestock = "return_restock",
        /// A return recorded for the ledger only: the goods were scrapped.
        ReturnScrap = "return_scrap",
    }
}

string_enum! {
    pub ReservationStatus {
        /// Holding stock.
        Active = "active",
        /// Some lines or units shipped, the rest still held.
        PartiallyConsumed = "partially_consumed",
        /// Everything held was shipped.
        Consumed = "consumed",
        /// Let go by a caller.
        Released = "released",
        /// Let go by the sweeper at `expires_at`.
        Expired = "expired",
    }
}

impl ReservationStatus {
    pub fn is_open(self) -> bool {
        matches!(self, Self::Active | Self::PartiallyConsumed)
    }
}

string_enum! {
    pub PurchaseOrderStatus {
        Draft = "draft",
        Ordered = "ordered",
        PartiallyReceived = "partially_received",
        Received = "received",
        Cancelled = "cancelled",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skus_compare_without_case_and_reject_spaces() {
        assert_eq!(normalize_sku(" AB-1 "), normalize_sku("ab-1"));
        let mut errors = Vec::new();
        check_sku(&mut errors, "sku", "AB 1");
        check_sku(&mut errors, "sku", "");
        check_sku(&mut errors, "sku", "ÄPFEL-1");
        assert_eq!(errors.len(), 2);
    }

    #[test]
    fn quantities_are_bounded() {
        let mut errors = Vec::new();
        check_positive(&mut errors, "q", 0);
        check_positive(&mut errors, "q", MAX_QUANTITY + 1);
        check_positive(&mut errors, "q", 1);
        check_non_negative(&mut errors, "q", 0);
        check_non_negative(&mut errors, "q", -1);
        assert_eq!(errors.len(), 3);
    }

    #[test]
    fn statuses_round_trip() {
        for s in ReservationStatus::ALL {
            assert_eq!(ReservationStatus::parse(s.as_str()), Some(*s));
        }
        assert_eq!(
            serde_json::to_value(MovementKind::ReturnScrap).unwrap(),
            "return_scrap"
        );
    }
}
