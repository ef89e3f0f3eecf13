//! The order's rules: its states and the one table of transitions (which both
//! enforces them and tells each caller what it may do next), and the totals, in
//! minor units, with one rounding rule.

use ordercrm_kernel::authz::{Action, Actor};
use ordercrm_kernel::string_enum;

string_enum! {
    /// Where an order is in its life. `completed` is set by the completion rule
    /// (delivered and paid) of later issues.
    pub OrderStatus {
        Draft = "draft",
        Approved = "approved",
        OnHold = "on_hold",
        Rejected = "rejected",
        Cancelled = "cancelled",
        Completed = "completed",
    }
}

string_enum! {
    /// Where the goods are, over the lines that ship (products that track stock):
    /// nothing shipped, some, all; some delivered, all delivered; some of what was
    /// delivered received back in returns, or all of it.
    pub FulfillmentStatus {
        Unfulfilled = "unfulfilled",
        PartiallyShipped = "partially_shipped",
        Shipped = "shipped",
        PartiallyDelivered = "partially_delivered",
        Delivered = "delivered",
        PartiallyReturned = "partially_returned",
        Returned = "returned",
    }
}

string_enum! {
    /// Where the money is: derived from prepayments now, from payments later.
    pub PaymentStatus {
        Unpaid = "unpaid",
        PartiallyPaid = "partially_paid",
        Paid = "paid",
    }
}

pub use ordercrm_kernel::authz::Channel;

string_enum! {
    /// When the customer pays: before shipping, on delivery, N days after the
    /// invoice, or N days after the end of the invoice's month.
    pub PaymentTerms {
        Prepaid = "prepaid",
        Cod = "cod",
        Net = "net",
        Eom = "eom",
    }
}

string_enum! {
    /// How a payment was made.
    pub PaymentMethod {
        BankTransfer = "bank_transfer",
        Online = "online",
        Cod = "cod",
        Cash = "cash",
        Card = "card",
        Other = "other",
    }
}

/// What the money settled (paid, or taken off by credit notes) says of an order:
/// paid in full, in part, or not. An order with nothing to pay (an exchange's
/// like-for-like replacement) is paid.
pub fn payment_status(settled: i64, grand_total: i64) -> PaymentStatus {
    if settled >= grand_total {
        PaymentStatus::Paid
    } else if settled > 0 {
        PaymentStatus::PartiallyPaid
    } else {
        PaymentStatus::Unpaid
    }
}

string_enum! {
    /// A review rule's finding: `hold` stops the order for a person to look at,
    /// `reject` ends it.
    pub VerdictKind {
        Pass = "pass",
        Hold = "hold",
        Reject = "reject",
    }
}

string_enum! {
    /// What a caller can do to an order, each one an action endpoint.
    pub OrderAction {
        Submit = "submit",
        Hold = "hold",
        Release = "release",
        Approve = "approve",
        Reject = "reject",
        Cancel = "cancel",
        /// `POST /v1/orders/{id}/edits` (and its preview).
        Edit = "edit",
    }
}

impl OrderAction {
    /// The permission this action needs besides seeing the order.
    pub fn needs(self) -> Action {
        match self {
            OrderAction::Approve => Action::OrdersApprove,
            _ => Action::OrdersWrite,
        }
    }
}

/// The transition table: the states `action` may start from. `submit` and
/// `release` run the review, which decides the state they end in.
pub fn starts_from(action: OrderAction) -> &'static [OrderStatus] {
    use OrderStatus::*;
    match action {
        OrderAction::Submit => &[Draft],
        OrderAction::Hold => &[Approved],
        OrderAction::Release => &[OnHold],
        OrderAction::Approve => &[OnHold],
        OrderAction::Reject => &[OnHold],
        // A draft nobody will submit is cancelled rather than left lying around.
        OrderAction::Cancel => &[Draft, Approved, OnHold],
        // What has not shipped: refused once everything that ships has left.
        OrderAction::Edit => &[Draft, Approved, OnHold],
    }
}

/// What the order's state says about `action`, whoever asks: `Err` with the
/// states it would need. `overridable` is whether the stored review holds the
/// order only for reasons a manager may override (not stock).
pub fn check(
    status: OrderStatus,
    action: OrderAction,
    overridable: bool,
) -> Result<(), &'static [OrderStatus]> {
    let from = starts_from(action);
    if !from.contains(&status) {
        return Err(from);
    }
    if action == OrderAction::Approve && !overridable {
        return Err(&[]);
    }
    Ok(())
}

/// The actions `actor` may take on an order in `status` now: exactly those the
/// commands would accept, because they ask the same two questions.
pub fn allowed_actions(
    actor: &Actor,
    status: OrderStatus,
    overridable: bool,
    shipped_out: bool,
) -> Vec<OrderAction> {
    OrderAction::ALL
        .iter()
        .copied()
        .filter(|a| {
            actor.may(a.needs())
                && check(status, *a, overridable).is_ok()
                && !(shipped_out && (ends(*a) || *a == OrderAction::Edit))
        })
        .collect()
}

/// Whether `action` ends the order (letting go of what has not shipped): refused
/// once everything that ships has left.
pub fn ends(action: OrderAction) -> bool {
    matches!(action, OrderAction::Cancel | OrderAction::Reject)
}

/// Quantities per line: the convention's bound.
pub const MAX_QUANTITY: i64 = 1_000_000_000;
/// Money per unit, discount or fee, in minor units: 10¹² (ten billion CNY).
pub const MAX_AMOUNT: i64 = 1_000_000_000_000;
/// Lines per order.
pub const MAX_LINES: usize = 200;
/// Tax rates are basis points (1300 = 13 %); products hold them within this.
const BPS: i128 = 10_000;

/// One line's money inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineMoney {
    pub quantity: i64,
    pub unit_price: i64,
    pub discount: i64,
    pub tax_rate_bps: i32,
}

/// One line's computed money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LineTotals {
    pub gross: i64,
    pub order_discount_share: i64,
    pub tax: i64,
    pub total: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Totals {
    pub lines: Vec<LineTotals>,
    pub subtotal: i64,
    pub discount: i64,
    pub tax: i64,
    pub shipping: i64,
    pub grand_total: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TotalsError {
    /// A line's discount is more than its quantity times its price.
    LineDiscount(usize),
    /// The order discount is more than the lines after their discounts.
    OrderDiscount,
    /// A sum does not fit in 64 bits.
    Overflow,
}

/// `n / d` rounded half away from zero (`d > 0`).
fn div_round(n: i128, d: i128) -> i128 {
    let q = n / d;
    let r = n % d;
    if r.abs() * 2 >= d { q + n.signum() } else { q }
}

/// The totals rule, the only one:
/// 1. a line's net is quantity × unit price − its discount;
/// 2. the order discount is shared over the lines in proportion to their nets, each
///    share rounded down and the units left over given one each to the lines with
///    the largest remainders (earlier lines first on ties), so the shares add up
///    exactly and no share exceeds its line;
/// 3. tax per line on what is left, rounded half away from zero: prices without tax
///    add `round(taxable × rate)`; prices with tax contain
///    `taxable − round(taxable ÷ (1 + rate))`;
/// 4. grand total = the lines' totals + shipping (shipping carries no tax).
pub fn totals(
    lines: &[LineMoney],
    order_discount: i64,
    shipping: i64,
    prices_include_tax: bool,
) -> Result<Totals, TotalsError> {
    let fit = |v: i128| i64::try_from(v).map_err(|_| TotalsError::Overflow);
    let mut nets = Vec::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        let gross = i128::from(l.quantity) * i128::from(l.unit_price);
        if i128::from(l.discount) > gross {
            return Err(TotalsError::LineDiscount(i));
        }
        nets.push((gross, gross - i128::from(l.discount)));
    }
    let net_sum: i128 = nets.iter().map(|(_, n)| n).sum();
    let order_discount = i128::from(order_discount);
    if order_discount > net_sum {
        return Err(TotalsError::OrderDiscount);
    }
    let mut shares: Vec<(i128, i128)> = nets
        .iter()
        .map(|(_, net)| {
            if net_sum == 0 {
                (0, 0)
            } else {
                let exact = order_discount * net;
                (exact / net_sum, exact % net_sum)
            }
        })
        .collect();
    let given: i128 = shares.iter().map(|(s, _)| s).sum();
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|a, b| {
        let ra = shares.get(*a).map_or(0, |s| s.1);
        let rb = shares.get(*b).map_or(0, |s| s.1);
        rb.cmp(&ra).then(a.cmp(b))
    });
    let left = usize::try_from(order_discount - given).unwrap_or(0);
    for i in order.into_iter().take(left) {
        if let Some(s) = shares.get_mut(i) {
            s.0 += 1;
        }
    }
    let mut out = Totals {
        shipping,
        ..Totals::default()
    };
    let (mut subtotal, mut discount, mut tax, mut lines_total) =
        (0i128, order_discount, 0i128, 0i128);
    for ((l, (gross, net)), (share, _)) in lines.iter().zip(nets).zip(shares) {
        let taxable = net - share;
        let rate = i128::from(l.tax_rate_bps);
        let (line_tax, line_total) = if prices_include_tax {
            let t = taxable - div_round(taxable * BPS, BPS + rate);
            (t, taxable)
        } else {
            let t = div_round(taxable * rate, BPS);
            (t, taxable + t)
        };
        subtotal += gross;
        discount += i128::from(l.discount);
        tax += line_tax;
        lines_total += line_total;
        out.lines.push(LineTotals {
            gross: fit(gross)?,
            order_discount_share: fit(share)?,
            tax: fit(line_tax)?,
            total: fit(line_total)?,
        });
    }
    out.subtotal = fit(subtotal)?;
    out.discount = fit(discount)?;
    out.tax = fit(tax)?;
    out.grand_total = fit(lines_total + i128::from(shipping))?;
    Ok(out)
}

/// Lower-cased text `q` searches: number, external id, customer name.
pub fn search_text(number: &str, external_id: Option<&str>, customer_name: &str) -> String {
    [Some(number), external_id, Some(customer_name)]
        .into_iter()
        .flatten()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(quantity: i64, unit_price: i64, discount: i64, bps: i32) -> LineMoney {
        LineMoney {
            quantity,
            unit_price,
            discount,
            tax_rate_bps: bps,
        }
    }

    #[test]
    fn tax_on_top_rounds_per_line() {
        // 3 × 3.33 at 13 %: 9.99 + 1.2987 → 1.30.
        let t = totals(&[line(3, 333, 0, 1300)], 0, 1000, false).unwrap();
        assert_eq!(
            (t.subtotal, t.tax, t.grand_total),
            (999, 130, 999 + 130 + 1000)
        );
    }

    #[test]
    fn tax_included_is_taken_out_of_the_price() {
        // 113.00 with 13 % inside: 100.00 net, 13.00 tax.
        let t = totals(&[line(1, 11300, 0, 1300)], 0, 0, true).unwrap();
        assert_eq!((t.tax, t.grand_total), (1300, 11300));
    }

    #[test]
    fn the_order_discount_is_shared_exactly_and_never_beyond_a_line() {
        // 1.00 off three lines of 1 unit: 0.33 + 0.33 + 0.34 would be wrong order;
        // the largest remainders get the extra units, earlier lines first.
        let lines = [line(1, 100, 0, 0), line(1, 100, 0, 0), line(1, 100, 0, 0)];
        let t = totals(&lines, 100, 0, false).unwrap();
        let shares: Vec<i64> = t.lines.iter().map(|l| l.order_discount_share).collect();
        assert_eq!(shares, vec![34, 33, 33]);
        assert_eq!(t.grand_total, 200);
        // A tiny line never gets more than its net.
        let lines = [line(1, 1, 0, 0), line(1, 1_000_000, 0, 0)];
        let t = totals(&lines, 1_000_000, 0, false).unwrap();
        assert!(t.lines.iter().all(|l| l.total >= 0), "{t:?}");
        assert_eq!(t.grand_total, 1);
    }

    #[test]
    fn discounts_beyond_the_price_are_refused() {
        assert_eq!(
            totals(&[line(1, 100, 101, 0)], 0, 0, false),
            Err(TotalsError::LineDiscount(0))
        );
        assert_eq!(
            totals(&[line(1, 100, 50, 0)], 51, 0, false),
            Err(TotalsError::OrderDiscount)
        );
    }

    #[test]
    fn sums_that_do_not_fit_are_refused_not_wrapped() {
        let big = line(MAX_QUANTITY, MAX_AMOUNT, 0, 0);
        assert_eq!(totals(&[big], 0, 0, false), Err(TotalsError::Overflow));
    }

    #[test]
    fn allowed_actions_follow_the_table() {
        assert_eq!(
            check(OrderStatus::Draft, OrderAction::Submit, false),
            Ok(())
        );
        assert!(check(OrderStatus::Approved, OrderAction::Submit, false).is_err());
        assert!(check(OrderStatus::OnHold, OrderAction::Approve, false).is_err());
        assert_eq!(
            check(OrderStatus::OnHold, OrderAction::Approve, true),
            Ok(())
        );
        assert!(check(OrderStatus::Cancelled, OrderAction::Cancel, true).is_err());
        let all = allowed_actions(&Actor::System, OrderStatus::OnHold, false, false);
        assert_eq!(
            all,
            vec![
                OrderAction::Release,
                OrderAction::Reject,
                OrderAction::Cancel,
                OrderAction::Edit
            ]
        );
    }
}
