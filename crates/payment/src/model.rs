//! The invoice's rules: its stored states and the one table of transitions, its
//! derived payment status, due dates from payment terms, and the split of a total
//! into instalments that add up exactly.

use chrono::{Datelike, Days, NaiveDate};
use ordercrm_kernel::authz::{Action, Actor};
use ordercrm_kernel::string_enum;
pub use ordercrm_order::model::{PaymentMethod, PaymentStatus, PaymentTerms};

string_enum! {
    /// What an invoice is: `draft` (being put together, no number), `open` (issued
    /// with its number, no longer editable), `void` (cancelled; what it took of its
    /// order may be invoiced again) or `uncollectible` (written off). Whether it is
    /// paid or overdue is derived, never stored.
    pub InvoiceStatus {
        Draft = "draft",
        Open = "open",
        Void = "void",
        Uncollectible = "uncollectible",
    }
}

string_enum! {
    /// What a caller can do to an invoice, each an action endpoint.
    pub InvoiceAction {
        /// `PATCH /v1/invoices/{id}`: a draft's notes and schedule.
        Edit = "edit",
        Issue = "issue",
        Void = "void",
        MarkUncollectible = "mark_uncollectible",
    }
}

string_enum! {
    /// When orders are invoiced (the `invoice_policy` setting).
    pub InvoicePolicy {
        Manual = "manual",
        Approval = "approval",
        Shipment = "shipment",
        Delivery = "delivery",
    }
}

string_enum! {
    /// The state a payment is in: `received`, or `reversed` (a bounced transfer, a
    /// charge-back: what it paid is owed again, and it is nobody's credit).
    pub PaymentState {
        Received = "received",
        Reversed = "reversed",
    }
}

string_enum! {
    /// What a statement line records, in the order lines of one day are listed:
    /// an invoice issued, voided or written off; a payment received or taken back
    /// (a bounced transfer, a charge-back); a credit note issued or voided; a
    /// refund paid out (or settled outside).
    pub StatementKind {
        Invoice = "invoice",
        InvoiceVoided = "invoice_voided",
        WriteOff = "write_off",
        Payment = "payment",
        PaymentReversed = "payment_reversed",
        CreditNote = "credit_note",
        CreditNoteVoided = "credit_note_voided",
        Refund = "refund",
    }
}

string_enum! {
    /// A credit note is `issued` (it stands: the invoice is worth its amount less)
    /// or `void` (withdrawn: the invoice owes what it owed before).
    pub CreditNoteStatus {
        Issued = "issued",
        Void = "void",
    }
}

string_enum! {
    /// What a caller can do to a credit note.
    pub CreditNoteAction {
        Void = "void",
    }
}

string_enum! {
    /// Where a refund is: waiting for a manager's approval (at or above the
    /// `refund_approval_threshold`), approved and waiting for the money to leave
    /// (`pending`), done (`succeeded`), or `failed` (the money is the customer's
    /// credit again). A settlement outside OrderCRM is recorded `succeeded`.
    pub RefundStatus {
        PendingApproval = "pending_approval",
        Pending = "pending",
        Succeeded = "succeeded",
        Failed = "failed",
    }
}

string_enum! {
    /// What a caller can do to a refund, each an action endpoint.
    pub RefundAction {
        /// A manager who did not ask for it (`refunds.approve`).
        Approve = "approve",
        /// The money left: whoever pays it out says so (`payments.write`).
        Succeed = "succeed",
        Fail = "fail",
    }
}

/// The states refund `action` starts from.
pub fn refund_starts_from(action: RefundAction) -> &'static [RefundStatus] {
    use RefundStatus::*;
    match action {
        RefundAction::Approve => &[PendingApproval],
        RefundAction::Succeed => &[Pending],
        RefundAction::Fail => &[PendingApproval, Pending],
    }
}

/// What `actor` may do to a refund in `status` that `requested_by` asked for.
pub fn refund_actions(
    actor: &Actor,
    status: RefundStatus,
    requested_by: &str,
) -> Vec<RefundAction> {
    RefundAction::ALL
        .iter()
        .copied()
        .filter(|a| refund_starts_from(*a).contains(&status))
        .filter(|a| match a {
            RefundAction::Approve => {
                actor.may(Action::RefundsApprove) && actor.principal() != requested_by
            }
            RefundAction::Succeed | RefundAction::Fail => actor.may(Action::PaymentsWrite),
        })
        .collect()
}

/// The states `action` starts from. A paid invoice is not voided: its payments
/// would have nothing to stand on (credit notes, part 2, undo payments).
pub fn starts_from(action: InvoiceAction) -> &'static [InvoiceStatus] {
    use InvoiceStatus::*;
    match action {
        InvoiceAction::Edit | InvoiceAction::Issue => &[Draft],
        InvoiceAction::Void => &[Draft, Open],
        InvoiceAction::MarkUncollectible => &[Open],
    }
}

pub fn needs(_action: InvoiceAction) -> Action {
    Action::PaymentsWrite
}

/// What `actor` may do to an invoice in `status` with `paid` applied.
pub fn allowed_actions(
    actor: &Actor,
    status: InvoiceStatus,
    paid: i64,
    total: i64,
) -> Vec<InvoiceAction> {
    InvoiceAction::ALL
        .iter()
        .copied()
        .filter(|a| actor.may(needs(*a)) && starts_from(*a).contains(&status))
        .filter(|a| match a {
            InvoiceAction::Void => paid == 0,
            InvoiceAction::MarkUncollectible => paid < total,
            InvoiceAction::Issue | InvoiceAction::Edit => true,
        })
        .collect()
}

/// Paid in full (a zero invoice is), in part, or not at all.
pub fn payment_status(paid: i64, total: i64) -> PaymentStatus {
    if paid >= total {
        PaymentStatus::Paid
    } else if paid > 0 {
        PaymentStatus::PartiallyPaid
    } else {
        PaymentStatus::Unpaid
    }
}

/// When an invoice issued on `issued` under `terms` is due: `net` N days after,
/// `eom` N days after the end of its month, `prepaid` and `cod` at once.
pub fn due_on(terms: PaymentTerms, days: Option<i32>, issued: NaiveDate) -> NaiveDate {
    let days = u64::try_from(days.unwrap_or(0)).unwrap_or(0);
    let base = match terms {
        PaymentTerms::Eom => end_of_month(issued),
        _ => issued,
    };
    match terms {
        PaymentTerms::Net | PaymentTerms::Eom => {
            base.checked_add_days(Days::new(days)).unwrap_or(base)
        }
        PaymentTerms::Prepaid | PaymentTerms::Cod => issued,
    }
}

fn end_of_month(day: NaiveDate) -> NaiveDate {
    let (y, m) = if day.month() == 12 {
        (day.year() + 1, 1)
    } else {
        (day.year(), day.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|first| first.pred_opt())
        .unwrap_or(day)
}

/// Basis points in a whole.
pub const WHOLE_BPS: i32 = 10_000;
/// Most instalment rows an invoice may have.
pub const MAX_INSTALMENTS: usize = 24;
/// Most days after issue an instalment (or payment terms) may fall due.
pub const MAX_DUE_DAYS: i64 = 3650;
/// The largest amount a payment may carry, in minor units (10¹⁴).
pub const MAX_PAYMENT: i64 = 100_000_000_000_000;
/// Most allocations one request may name.
pub const MAX_ALLOCATIONS: usize = 200;

/// `total` split by `shares` (basis points adding up to 10,000): each row rounded
/// down, the last row taking what is left, so the rows add up to `total` exactly.
pub fn split(total: i64, shares: &[i32]) -> Vec<i64> {
    let mut out = Vec::with_capacity(shares.len());
    let mut given: i64 = 0;
    for (i, s) in shares.iter().enumerate() {
        if i + 1 == shares.len() {
            out.push(total - given);
        } else {
            let part = i128::from(total) * i128::from(*s) / i128::from(WHOLE_BPS);
            let part = i64::try_from(part).unwrap_or(0);
            given += part;
            out.push(part);
        }
    }
    out
}

/// What of `paid` each row (in due order) has: the earliest rows are paid first.
pub fn rows_paid(amounts: &[i64], paid: i64) -> Vec<i64> {
    let mut left = paid;
    amounts
        .iter()
        .map(|a| {
            let p = left.clamp(0, *a);
            left -= p;
            p
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_30_70_split_adds_up_exactly() {
        assert_eq!(split(100_001, &[3000, 7000]), vec![30_000, 70_001]);
        assert_eq!(split(100, &[3333, 3333, 3334]), vec![33, 33, 34]);
        assert_eq!(split(0, &[5000, 5000]), vec![0, 0]);
    }

    #[test]
    fn due_dates_follow_the_terms() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default();
        assert_eq!(
            due_on(PaymentTerms::Net, Some(30), d(2026, 1, 15)),
            d(2026, 2, 14)
        );
        assert_eq!(
            due_on(PaymentTerms::Eom, Some(10), d(2026, 1, 15)),
            d(2026, 2, 10)
        );
        assert_eq!(
            due_on(PaymentTerms::Eom, Some(0), d(2026, 12, 3)),
            d(2026, 12, 31)
        );
        assert_eq!(
            due_on(PaymentTerms::Prepaid, None, d(2026, 2, 28)),
            d(2026, 2, 28)
        );
    }

    #[test]
    fn earlier_rows_are_paid_first() {
        assert_eq!(rows_paid(&[300, 700], 500), vec![300, 200]);
        assert_eq!(rows_paid(&[300, 700], 0), vec![0, 0]);
        assert_eq!(rows_paid(&[300, 700], 1000), vec![300, 700]);
    }
}
