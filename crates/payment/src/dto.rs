//! What invoices and payments take and show.

use chrono::{DateTime, NaiveDate, Utc};
use ordercrm_kernel::Money;
use ordercrm_kernel::input::{Choice, Day, Int, NonBlank, Text};
use ordercrm_kernel::money::MoneyIn;
use ordercrm_order::dto::{LineNo, OrderCustomer, Quantity};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::model::{
    InvoiceAction, InvoiceStatus, MAX_PAYMENT, PaymentMethod, PaymentState, PaymentStatus,
    PaymentTerms,
};

/// A payment or allocation amount: 1 to 10¹⁴ minor units.
pub type PaymentAmount = MoneyIn<1, MAX_PAYMENT>;

/// Units of one order line to invoice.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceLineInput {
    /// The order line's `line_no`.
    pub line_no: LineNo,
    pub quantity: Quantity,
}

/// One row of an instalment schedule: a share of the total, due some days after
/// the invoice is issued.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstalmentInput {
    /// Basis points of the total (3000 = 30 %); the rows add up to 10000. The
    /// last row takes what rounding leaves.
    #[schema(value_type = i32, minimum = 1, maximum = 10000)]
    pub share_bps: Int<1, 10_000>,
    /// Days after the issue date it falls due, 0 to 3650, not before the row above.
    #[schema(value_type = i32, minimum = 0, maximum = 3650)]
    pub due_days: Int<0, 3650>,
}

/// `POST /v1/orders/{id}/invoices`: an invoice of the order, a draft unless
/// `issue` is true.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"lines": [{"line_no": 1, "quantity": 1}], "issue": true}))]
pub struct CreateInvoice {
    /// What to invoice; default every unit not invoiced yet. 1 to 200 lines; a
    /// line named twice invoices the sum.
    #[schema(min_items = 1, max_items = 200)]
    pub lines: Option<Vec<InvoiceLineInput>>,
    /// Whether the order's shipping fee goes on this invoice; default: when no
    /// other invoice (not void) carries it.
    pub shipping: Option<bool>,
    /// Instalments (e.g. 30 % now, 70 % in 30 days); default one row, due by the
    /// order's payment terms.
    #[schema(min_items = 1, max_items = 24)]
    pub schedule: Option<Vec<InstalmentInput>>,
    pub notes: Option<Text<1000>>,
    /// Issue it at once (it gets its number and due dates).
    #[serde(default)]
    pub issue: bool,
}

/// `PATCH /v1/invoices/{id}`: a draft's notes and schedule (absent fields stay,
/// `null` clears the notes). An issued invoice no longer changes.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"notes": "PO 4711", "schedule": [{"share_bps": 5000, "due_days": 0},
    {"share_bps": 5000, "due_days": 30}]}))]
pub struct UpdateInvoice {
    #[serde(default, deserialize_with = "ordercrm_kernel::patch::nullable")]
    #[schema(value_type = Option<Text<1000>>)]
    pub notes: Option<Option<Text<1000>>>,
    /// Replaces the schedule; rows as at creation.
    #[schema(min_items = 1, max_items = 24)]
    pub schedule: Option<Vec<InstalmentInput>>,
}

/// `POST /v1/invoices/{id}/void`, `/mark-uncollectible`: why.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "issued to the wrong customer"}))]
pub struct InvoiceReason {
    pub reason: Option<Text<500>>,
}

/// One line of an invoice.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct InvoiceLineView {
    pub line_no: i32,
    /// The order line it bills.
    pub order_line_no: Option<i32>,
    pub product_id: Option<Uuid>,
    pub sku: Option<String>,
    pub name: String,
    pub quantity: i64,
    pub unit_price: Money,
    /// The line's discount and its share of the order discount, for these units.
    pub discount: Money,
    pub tax_rate_bps: i32,
    /// After discounts, before tax.
    pub net: Money,
    pub tax: Money,
    /// What the customer pays for it: net plus tax.
    pub total: Money,
}

/// One instalment row: what is due when, and what of it is paid (payments fill
/// the rows in due order).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct InstalmentView {
    pub row_no: i32,
    pub share_bps: i32,
    pub due_days: i32,
    pub amount: Money,
    /// Set when the invoice is issued.
    pub due_on: Option<NaiveDate>,
    pub paid: Money,
    pub outstanding: Money,
    /// Open, past its due date, and not paid in full: as of the moment of reading.
    pub overdue: bool,
}

/// An invoice as every reader sees it: the event payload.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct InvoiceData {
    pub id: Uuid,
    /// `INV-000123`, gap-free, given at issue; null for a draft.
    pub number: Option<String>,
    pub status: InvoiceStatus,
    /// From its allocations, never stored: `paid` once they cover the total.
    pub payment_status: PaymentStatus,
    /// Open, past a due date with something unpaid on it, as of the moment of reading.
    pub overdue: bool,
    pub customer: OrderCustomer,
    pub order_id: Option<Uuid>,
    pub order_number: Option<String>,
    pub currency: ordercrm_kernel::Currency,
    pub lines: Vec<InvoiceLineView>,
    /// The lines' net.
    pub subtotal: Money,
    pub tax_total: Money,
    pub shipping_fee: Money,
    pub total: Money,
    /// What payments applied.
    pub paid: Money,
    /// What credit notes (not void) took off it.
    pub credited: Money,
    /// Total minus paid and credited: never below zero.
    pub outstanding: Money,
    /// The exchange difference its allocations realised, in the base currency:
    /// what was received at the rates of the payment days less the same amounts
    /// at the invoice's rate. Null for an invoice in the base currency.
    pub exchange_difference: Option<Money>,
    pub payment_terms: PaymentTerms,
    pub payment_terms_days: Option<i32>,
    pub issued_on: Option<NaiveDate>,
    /// The last instalment's due date.
    pub due_on: Option<NaiveDate>,
    /// The due date of the first instalment not paid in full; null when nothing
    /// is owed (or a draft).
    pub next_due_on: Option<NaiveDate>,
    pub instalments: Vec<InstalmentView>,
    /// The total in the base currency at the rate in force on the issue date.
    pub total_base: Option<Money>,
    /// That rate, exact decimal text.
    pub base_rate: Option<String>,
    pub notes: Option<String>,
    /// Why it was voided or written off.
    pub status_reason: Option<String>,
    pub created_by: String,
    pub issued_by: Option<String>,
    pub issued_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// A draft the order's invoicing asked for (`invoice_policy`, or a prepaid
    /// order's approval): the issuer issues it moments after that change commits,
    /// so order intake never waits on the gap-free numbering. Null once issued, and
    /// for a draft left to finance (no exchange rate yet: see the audit log).
    pub issue_requested_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An invoice, with what the caller may do to it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvoiceView {
    #[serde(flatten)]
    pub data: InvoiceData,
    pub allowed_actions: Vec<InvoiceAction>,
}

impl ordercrm_kernel::version::Versioned for InvoiceView {
    fn version(&self) -> i64 {
        self.data.version
    }
}

/// Money of a payment for one invoice.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllocationInput {
    pub invoice_id: Uuid,
    /// More than 0, in the payment's currency, at most what the invoice still owes.
    pub amount: PaymentAmount,
}

/// `POST /v1/payments`: money received from a customer.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"customer_id": "0193a000-0000-7000-8000-000000000001",
    "amount": {"amount": 30000, "currency": "CNY"}, "method": "bank_transfer",
    "provider": "icbc", "reference": "TX-2026-0001", "received_on": "2026-11-30"}))]
pub struct CreatePayment {
    /// A customer merged into another: the payment is recorded for that other one
    /// (its invoices and credit went there), and the answer names it.
    pub customer_id: Uuid,
    /// More than 0.
    pub amount: PaymentAmount,
    #[schema(value_type = PaymentMethod)]
    pub method: Choice<PaymentMethod>,
    /// Who took the money (`alipay`, `stripe`, the bank): with `reference`, unique.
    /// Posting the same provider and reference again answers the payment already
    /// recorded (200), never a second one.
    pub provider: Option<NonBlank<50>>,
    /// The provider's id of the payment.
    pub reference: Option<NonBlank<100>>,
    /// When the money arrived; default today, not in the future.
    pub received_on: Option<Day>,
    /// A payment for this order (of this customer): it pays the order's open
    /// invoices, and what is left is held for the invoices still to come (up to
    /// what the order still owes); beyond that it is credit.
    pub order_id: Option<Uuid>,
    /// Which invoices it pays and how much. Absent: automatically, oldest due
    /// first (by `next_due_on`, the first instalment each still owes on; the
    /// order's invoices, with `order_id`), at most 200 invoices per payment.
    /// Empty: none, all credit.
    #[schema(max_items = 200)]
    pub allocations: Option<Vec<AllocationInput>>,
    pub notes: Option<Text<1000>>,
}

/// `POST /v1/payments/{id}/allocate`: apply a payment's unallocated credit.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"allocations": [{"invoice_id": "0193a000-0000-7000-8000-000000000002",
    "amount": {"amount": 5000, "currency": "CNY"}}]}))]
pub struct AllocatePayment {
    /// Absent: the customer's open invoices in the payment's currency, oldest due
    /// first (at most 200 of them per request).
    #[schema(min_items = 1, max_items = 200)]
    pub allocations: Option<Vec<AllocationInput>>,
}

/// One row of a payment's allocation ledger.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AllocationView {
    pub id: Uuid,
    /// The invoice the money went to; null: held for `order_id`'s invoices to come.
    pub invoice_id: Option<Uuid>,
    pub invoice_number: Option<String>,
    pub order_id: Option<Uuid>,
    /// Negative when held money moved onto an invoice (a row for the invoice follows).
    pub amount: Money,
    /// On an invoice in a currency other than the base: the amount at the rate of
    /// the day the payment was received less the same at the invoice's rate, in
    /// the base currency. The invoice's outstanding never moves by it.
    pub exchange_difference: Option<Money>,
    /// The credit note whose issue (or void) moved it.
    pub credit_note_id: Option<Uuid>,
    pub effective_on: NaiveDate,
    pub created_at: DateTime<Utc>,
}

/// A payment as every reader sees it: the event payload.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PaymentData {
    pub id: Uuid,
    /// `PAY-000123`.
    pub number: String,
    pub status: PaymentState,
    pub customer: OrderCustomer,
    pub order_id: Option<Uuid>,
    pub amount: Money,
    /// Applied to invoices or held for an order.
    pub allocated: Money,
    /// Paid back to the customer (refunds not failed) or settled outside.
    pub refunded: Money,
    /// Taken back by the bank or card scheme when the payment was reversed.
    pub reversed: Money,
    /// The customer's credit from this payment, usable later.
    pub unallocated: Money,
    pub method: PaymentMethod,
    pub provider: Option<String>,
    pub reference: Option<String>,
    pub received_on: NaiveDate,
    /// When it was reversed, and why.
    pub reversed_on: Option<NaiveDate>,
    pub reversal_reason: Option<String>,
    pub notes: Option<String>,
    pub allocations: Vec<AllocationView>,
    pub created_by: String,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A payment.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentView {
    #[serde(flatten)]
    pub data: PaymentData,
}

impl ordercrm_kernel::version::Versioned for PaymentView {
    fn version(&self) -> i64 {
        self.data.version
    }
}

/// What a customer owes and holds, per currency.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CustomerBalance {
    pub customer_id: Uuid,
    /// Open invoices' outstanding, per currency.
    pub outstanding: Vec<Money>,
    /// Unallocated payments, per currency: usable for invoices to come.
    pub credit: Vec<Money>,
}

/// An amount of a credit note's split: 0 to 10¹⁴ minor units.
pub type SplitAmount = ordercrm_kernel::money::MoneyUpTo<MAX_PAYMENT>;

/// `POST /v1/invoices/{id}/credit-notes`: take part of an invoice back.
///
/// What it credits first lowers what the invoice still owes; the part beyond that
/// was paid, and is released from the invoice's payments (newest first) and split,
/// exactly, into `refund` + `credit` + `outside`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"amount": {"amount": 60000, "currency": "CNY"}, "reason": "price adjusted",
    "refund": {"amount": 40000, "currency": "CNY"}, "credit": {"amount": 20000, "currency": "CNY"}}))]
pub struct CreateCreditNote {
    /// In the invoice's currency, at most what it is worth after earlier credit
    /// notes. Default with `return_id`: what of the return's refund due no credit
    /// note took yet.
    pub amount: Option<PaymentAmount>,
    /// Why. Default with `return_id`: the return's number.
    pub reason: Option<Text<500>>,
    /// A closed return of the invoice's order whose refund due this credits; all
    /// its credit notes (not void) together take at most that.
    pub return_id: Option<Uuid>,
    /// Of the part released from payments, what is paid back to the customer: one
    /// refund per payment it comes from (waiting for approval at or above
    /// `refund_approval_threshold`).
    pub refund: Option<SplitAmount>,
    /// How the refund is paid; default the payment's own method.
    #[schema(value_type = Option<PaymentMethod>)]
    pub refund_method: Option<Choice<PaymentMethod>>,
    /// Of the part released, what stays with the customer as credit (the
    /// payments' unallocated money, for invoices to come).
    pub credit: Option<SplitAmount>,
    /// Of the part released, what was settled outside OrderCRM (cash at the
    /// counter, a set-off): recorded as refunds already succeeded.
    pub outside: Option<SplitAmount>,
}

/// `POST /v1/credit-notes/{id}/void`: why.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "issued against the wrong invoice"}))]
pub struct VoidCreditNote {
    pub reason: Option<Text<500>>,
}

/// A credit note as every reader sees it: the event payload. `amount` =
/// `applied` + `refund` + `credit` + `outside`, always.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CreditNoteData {
    pub id: Uuid,
    /// `CN-000042`: gap-free, given at issue.
    pub number: String,
    pub status: crate::model::CreditNoteStatus,
    pub customer: OrderCustomer,
    pub invoice_id: Uuid,
    pub invoice_number: Option<String>,
    pub order_id: Option<Uuid>,
    pub return_id: Option<Uuid>,
    pub amount: Money,
    /// What it took off the invoice's outstanding.
    pub applied: Money,
    /// Released from the invoice's payments and paid back (see `refunds`).
    pub refund: Money,
    /// Released and kept as the customer's credit.
    pub credit: Money,
    /// Released and settled outside OrderCRM.
    pub outside: Money,
    /// The refunds it made (the `outside` part's among them).
    pub refunds: Vec<Uuid>,
    pub reason: String,
    /// The day it counts from (aging, statements).
    pub effective_on: NaiveDate,
    pub created_by: String,
    pub void_reason: Option<String>,
    pub voided_by: Option<String>,
    pub voided_on: Option<NaiveDate>,
    pub voided_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A credit note, with what the caller may do to it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreditNoteView {
    #[serde(flatten)]
    pub data: CreditNoteData,
    /// `void` while it is issued and none of its refunds succeeded.
    pub allowed_actions: Vec<crate::model::CreditNoteAction>,
}

impl ordercrm_kernel::version::Versioned for CreditNoteView {
    fn version(&self) -> i64 {
        self.data.version
    }
}

/// Money going back to a customer from one payment: the event payload.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RefundData {
    pub id: Uuid,
    /// `RF-000042`.
    pub number: String,
    pub status: crate::model::RefundStatus,
    pub customer: OrderCustomer,
    pub payment_id: Uuid,
    pub payment_number: String,
    pub credit_note_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    pub amount: Money,
    pub method: PaymentMethod,
    /// Settled outside OrderCRM: recorded as done.
    pub outside: bool,
    /// Who paid it out and their id of it, once it succeeded.
    pub provider: Option<String>,
    pub reference: Option<String>,
    pub reason: Option<String>,
    pub failure_reason: Option<String>,
    pub requested_by: String,
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
    /// The day the money left (or, failed, came back).
    pub settled_on: Option<NaiveDate>,
    pub completed_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A refund, with what the caller may do to it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RefundView {
    #[serde(flatten)]
    pub data: RefundData,
    pub allowed_actions: Vec<crate::model::RefundAction>,
}

/// `POST /v1/payments/{id}/reverse`: why it was taken back.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "charge-back: goods not received"}))]
pub struct ReversePayment {
    /// A bounced transfer, a charge-back, and its reference.
    #[schema(required = true, nullable = false)]
    pub reason: Option<Text<500>>,
}

/// `POST /v1/payments/{id}/refunds`: pay back part of a payment's credit.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"amount": {"amount": 5000, "currency": "CNY"}, "reason": "overpaid"}))]
pub struct CreateRefund {
    /// In the payment's currency, at most what it has unallocated.
    pub amount: PaymentAmount,
    /// How it is paid back; default the payment's method.
    #[schema(value_type = Option<PaymentMethod>)]
    pub method: Option<Choice<PaymentMethod>>,
    pub reason: Option<Text<500>>,
}

/// `POST /v1/refunds/{id}/succeed`: the money left.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"provider": "alipay", "reference": "RF-2026-0001"}))]
pub struct SucceedRefund {
    /// Who paid it out.
    pub provider: Option<NonBlank<50>>,
    /// Their id of the refund.
    pub reference: Option<NonBlank<100>>,
}

/// `POST /v1/refunds/{id}/approve`, `/fail`: a note, or why.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "the account is closed"}))]
pub struct RefundReason {
    pub reason: Option<Text<500>>,
}

impl ordercrm_kernel::version::Versioned for RefundView {
    fn version(&self) -> i64 {
        self.data.version
    }
}

/// Which instalment row a notice is about, and what is overdue with it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct NoticeData {
    /// The row that passed its due date (`invoice.overdue`) or reached the
    /// reminder level (`invoice.reminder_due`).
    pub row_no: i32,
    pub due_on: NaiveDate,
    pub days_past_due: i64,
    /// The reminder level reached, in days past due; 0 for `invoice.overdue`.
    pub level_days: i64,
    /// Every row of the invoice past its due date and not settled, now: only those.
    pub overdue_rows: Vec<i32>,
}

/// An invoice overdue or due a reminder: the event payload, the invoice as every
/// reader sees it with the notice.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct InvoiceNotice {
    #[serde(flatten)]
    pub invoice: InvoiceData,
    pub notice: NoticeData,
}

/// What is owed, by how long past due: amounts in minor units of `currency`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct AgingBuckets {
    pub currency: String,
    /// Not yet due (due on the day asked about, or later).
    pub current: i64,
    pub days_1_30: i64,
    pub days_31_60: i64,
    pub days_61_90: i64,
    /// 91 days past due and more.
    pub days_over_90: i64,
    pub total: i64,
}

/// One customer's receivables by age.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CustomerAging {
    pub customer_id: Uuid,
    /// As on their invoices.
    pub customer_name: String,
    /// Invoices with something owed.
    pub invoices: u64,
    /// In the base currency (null when none is set); rows that cannot be converted
    /// are left out of it and counted in the report's `unconverted_rows`.
    pub base: Option<AgingBuckets>,
    /// In each invoice currency.
    pub by_currency: Vec<AgingBuckets>,
}

/// An instalment row with something owed on the day asked about.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AgingRowView {
    pub invoice_id: Uuid,
    pub invoice_number: Option<String>,
    pub row_no: i32,
    pub currency: String,
    pub due_on: Option<NaiveDate>,
    /// Days past due on `as_of`: 0 or less is current.
    pub days_past_due: i64,
    /// `current`, `1-30`, `31-60`, `61-90` or `91+`.
    pub bucket: String,
    /// What was owed on the row, in minor units of `currency`.
    pub outstanding: i64,
    /// The same at the invoice's rate, in the base currency; null when it cannot
    /// be converted.
    pub outstanding_base: Option<i64>,
}

/// `GET /v1/receivables/aging`: what customers owed on the day asked about.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AgingReport {
    pub as_of: NaiveDate,
    pub base_currency: Option<String>,
    /// Everyone's, in the base currency (null when none is set).
    pub total: Option<AgingBuckets>,
    /// Everyone's, in each invoice currency.
    pub by_currency: Vec<AgingBuckets>,
    /// Sums owed in another currency than the base by invoices with no rate to it
    /// (issued before the base currency was set or changed): in `by_currency`, not
    /// in `total`; 0 when everything converted.
    pub unconverted: u64,
    /// The customers who owed something, by name.
    pub customers: Vec<CustomerAging>,
    /// With `customer_id`: that customer's owed instalment rows, oldest due first.
    pub rows: Option<Vec<AgingRowView>>,
}

/// A line of a customer statement. `debit` raises what the customer owes
/// (invoices, refunds paid out, payments taken back, credit notes voided),
/// `credit` lowers it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct StatementEntry {
    pub date: NaiveDate,
    pub kind: crate::model::StatementKind,
    /// The invoice, payment, credit note or refund.
    pub document_id: Uuid,
    pub number: Option<String>,
    pub description: String,
    pub debit: i64,
    pub credit: i64,
    /// After this line.
    pub balance: i64,
}

/// `GET /v1/customers/{id}/statement`: a customer's account in one currency over a
/// period. A positive balance is owed by the customer, a negative one is theirs
/// (credit).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Statement {
    pub customer_id: Uuid,
    pub customer_name: String,
    pub currency: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Everything dated before `from`.
    pub opening_balance: i64,
    pub total_debit: i64,
    pub total_credit: i64,
    pub closing_balance: i64,
    pub entries: Vec<StatementEntry>,
}
