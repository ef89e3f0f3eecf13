//! Invoices' and payments' events: one per transition, each carrying the customer
//! and (when there is one) the order, so an order's timeline, per-order ordering
//! and channel filtering find them.

use ordercrm_kernel::Ctx;
use ordercrm_kernel::events::{self, Catalogued, EventType, NewEvent};
use sea_orm::{DatabaseTransaction, DbErr};

use crate::dto::{CreditNoteData, InvoiceData, InvoiceNotice, PaymentData, RefundData};

pub const INVOICE_CREATED: EventType<InvoiceData> = EventType::new(
    "invoice.created",
    "An invoice was put together (a draft: no number yet), from an order's lines.",
)
.example(r#"{"status": "draft"}"#);
pub const INVOICE_UPDATED: EventType<InvoiceData> = EventType::new(
    "invoice.updated",
    "A draft's notes or instalment schedule changed.",
)
.example(r#"{"status": "draft"}"#);
pub const INVOICE_ISSUED: EventType<InvoiceData> = EventType::new(
    "invoice.issued",
    "The invoice was issued: it has its gap-free number, its due dates and its rate to the base \
     currency, and no longer changes. Money held for its order was applied to it.",
)
.example(r#"{"status": "open", "number": "INV-000042"}"#);
pub const INVOICE_VOIDED: EventType<InvoiceData> = EventType::new(
    "invoice.voided",
    "The invoice was cancelled (nothing was paid on it): what it took of its order may be invoiced \
     again. An issued invoice keeps its number.",
)
.example(r#"{"status": "void"}"#);
pub const INVOICE_MARKED_UNCOLLECTIBLE: EventType<InvoiceData> = EventType::new(
    "invoice.marked_uncollectible",
    "What is still owed on the invoice was written off.",
)
.example(r#"{"status": "uncollectible"}"#);
pub const INVOICE_PARTIALLY_PAID: EventType<InvoiceData> = EventType::new(
    "invoice.partially_paid",
    "The invoice's first money arrived and it is not paid in full: `payment_status` moved from \
     `unpaid` to `partially_paid`.",
)
.example(r#"{"payment_status": "partially_paid"}"#);
pub const INVOICE_PAID: EventType<InvoiceData> = EventType::new(
    "invoice.paid",
    "Allocations cover the invoice's total: `payment_status` is `paid`. Once per time it becomes paid.",
)
.example(r#"{"payment_status": "paid"}"#);

pub const INVOICE_OVERDUE: EventType<InvoiceNotice> = EventType::new(
    "invoice.overdue",
    "An instalment row of an open invoice passed its due date unsettled: once per row. `notice` \
     names the row and every row overdue with it. We send nothing to the customer; integrations \
     act on this.",
)
.example(r#"{"notice": {"row_no": 1, "days_past_due": 1, "level_days": 0, "overdue_rows": [1]}}"#);
pub const INVOICE_REMINDER_DUE: EventType<InvoiceNotice> = EventType::new(
    "invoice.reminder_due",
    "An overdue row is still unsettled at a reminder level (`reminder_days`, default 3, 10 and 30 \
     days past due): once per row and level. `notice.overdue_rows` names only the rows overdue \
     now (a row settled by a payment or credit note is not named).",
)
.example(r#"{"notice": {"row_no": 2, "days_past_due": 3, "level_days": 3, "overdue_rows": [2]}}"#);

pub const PAYMENT_RECEIVED: EventType<PaymentData> = EventType::new(
    "payment.received",
    "Money from a customer was recorded, with the allocations made with it (to invoices, or held \
     for an order); what is left is the customer's credit. A provider's notification sent again \
     writes nothing.",
)
.example(r#"{"status": "received"}"#);
pub const PAYMENT_ALLOCATED: EventType<PaymentData> = EventType::new(
    "payment.allocated",
    "A payment recorded earlier was allocated further: its credit applied to invoices, or money \
     held for an order moved onto the order's invoice when it was issued; or a credit note \
     released money from an invoice (or, voided, applied it again).",
)
.example(r#"{"status": "received"}"#);

pub const PAYMENT_REVERSED: EventType<PaymentData> = EventType::new(
    "payment.reversed",
    "The bank or card scheme took the payment back (a bounced transfer, a charge-back): what it paid \
     on invoices is owed again and what it held for orders is no longer held (its `allocations` end \
     in the rows that took them off), its refunds not paid out failed, and the orders' \
     `payment_status` followed.",
)
.example(r#"{"status": "reversed"}"#);

pub const CREDIT_NOTE_ISSUED: EventType<CreditNoteData> = EventType::new(
    "credit_note.issued",
    "A credit note was issued against an invoice: `applied` came off what the invoice owed; what \
     was paid beyond that was released from its payments and split into `refund`, `credit` and \
     `outside`. The invoice (`credited`, `outstanding`) and its order changed with it.",
)
.example(r#"{"status": "issued", "number": "CN-000001"}"#);
pub const CREDIT_NOTE_VOIDED: EventType<CreditNoteData> = EventType::new(
    "credit_note.voided",
    "A credit note was withdrawn: the invoice owes what it owed before, the money it released is \
     applied to the invoice again, and its refunds not paid out failed.",
)
.example(r#"{"status": "void"}"#);

pub const REFUND_REQUESTED: EventType<RefundData> = EventType::new(
    "refund.requested",
    "Money is to go back to a customer from a payment: `pending_approval` (at or above the \
     `refund_approval_threshold`, for a manager) or `pending` (for whoever pays it out).",
)
.example(r#"{"status": "pending"}"#);
pub const REFUND_APPROVED: EventType<RefundData> = EventType::new(
    "refund.approved",
    "A manager who did not ask for the refund approved it: `pending`, for whoever pays it out.",
)
.example(r#"{"status": "pending"}"#);
pub const REFUND_SUCCEEDED: EventType<RefundData> = EventType::new(
    "refund.succeeded",
    "The money left: a refund paid out, or a settlement outside OrderCRM recorded (`outside`).",
)
.example(r#"{"status": "succeeded"}"#);
pub const REFUND_FAILED: EventType<RefundData> = EventType::new(
    "refund.failed",
    "The refund did not happen (refused, bounced, or its credit note was voided): the money is \
     the payment's unallocated credit again.",
)
.example(r#"{"status": "failed"}"#);

pub fn catalogue() -> Vec<Catalogued> {
    vec![
        INVOICE_CREATED.entry(),
        INVOICE_UPDATED.entry(),
        INVOICE_ISSUED.entry(),
        INVOICE_VOIDED.entry(),
        INVOICE_MARKED_UNCOLLECTIBLE.entry(),
        INVOICE_PARTIALLY_PAID.entry(),
        INVOICE_PAID.entry(),
        INVOICE_OVERDUE.entry(),
        INVOICE_REMINDER_DUE.entry(),
        PAYMENT_RECEIVED.entry(),
        PAYMENT_ALLOCATED.entry(),
        PAYMENT_REVERSED.entry(),
        CREDIT_NOTE_ISSUED.entry(),
        CREDIT_NOTE_VOIDED.entry(),
        REFUND_REQUESTED.entry(),
        REFUND_APPROVED.entry(),
        REFUND_SUCCEEDED.entry(),
        REFUND_FAILED.entry(),
    ]
}

pub(crate) async fn invoice(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event_type: &EventType<InvoiceData>,
    data: &InvoiceData,
) -> Result<(), DbErr> {
    let mut event = NewEvent::about(event_type, "invoice", (data.id, data.version), data)
        .customer(data.customer.id);
    if let Some(order) = data.order_id {
        event = event.order(order);
    }
    events::record(txn, ctx, event).await.map(drop)
}

pub(crate) async fn payment(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event_type: &EventType<PaymentData>,
    data: &PaymentData,
) -> Result<(), DbErr> {
    let mut event = NewEvent::about(event_type, "payment", (data.id, data.version), data)
        .customer(data.customer.id);
    if let Some(order) = data.order_id {
        event = event.order(order);
    }
    events::record(txn, ctx, event).await.map(drop)
}

pub(crate) async fn credit_note(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event_type: &EventType<CreditNoteData>,
    data: &CreditNoteData,
) -> Result<(), DbErr> {
    let mut event = NewEvent::about(event_type, "credit_note", (data.id, data.version), data)
        .customer(data.customer.id);
    if let Some(order) = data.order_id {
        event = event.order(order);
    }
    events::record(txn, ctx, event).await.map(drop)
}

pub(crate) async fn refund(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event_type: &EventType<RefundData>,
    data: &RefundData,
) -> Result<(), DbErr> {
    let mut event = NewEvent::about(event_type, "refund", (data.id, data.version), data)
        .customer(data.customer.id);
    if let Some(order) = data.order_id {
        event = event.order(order);
    }
    events::record(txn, ctx, event).await.map(drop)
}

pub(crate) async fn notice(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event_type: &EventType<InvoiceNotice>,
    data: &InvoiceNotice,
) -> Result<(), DbErr> {
    let invoice = &data.invoice;
    let mut event = NewEvent::about(event_type, "invoice", (invoice.id, invoice.version), data)
        .customer(invoice.customer.id);
    if let Some(order) = invoice.order_id {
        event = event.order(order);
    }
    events::record(txn, ctx, event).await.map(drop)
}
