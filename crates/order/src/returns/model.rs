//! The return's states, and the one refund rule.

use ordercrm_kernel::string_enum;

string_enum! {
    /// Where a return is: asked for, approved, goods (some or all) received,
    /// closed; or rejected (from requested or approved).
    pub ReturnStatus {
        Requested = "requested",
        Approved = "approved",
        Received = "received",
        Closed = "closed",
        Rejected = "rejected",
    }
}

string_enum! {
    /// What the customer wants for the goods.
    pub Resolution {
        Refund = "refund",
        Exchange = "exchange",
        Repair = "repair",
    }
}

string_enum! {
    /// What the warehouse does with units that arrived: back on the shelf
    /// (on-hand rises), scrapped (recorded in the ledger, on-hand unchanged), or,
    /// for a repair, held to be repaired and sent back (no stock movement: the
    /// goods stay the customer's).
    pub Disposition {
        Restock = "restock",
        Scrap = "scrap",
        Repair = "repair",
    }
}

string_enum! {
    /// What can be done to a return, each an action endpoint.
    pub ReturnAction {
        Approve = "approve",
        Reject = "reject",
        Receive = "receive",
        /// A repair's goods back to the customer: `POST /v1/returns/{id}/shipments`.
        ShipBack = "ship_back",
        Close = "close",
    }
}

/// The states `action` starts from.
pub fn starts_from(action: ReturnAction) -> &'static [ReturnStatus] {
    use ReturnStatus::*;
    match action {
        ReturnAction::Approve => &[Requested],
        ReturnAction::Reject => &[Requested, Approved],
        // Partial receipts: more may arrive after the first.
        ReturnAction::Receive => &[Approved, Received],
        ReturnAction::ShipBack => &[Received],
        ReturnAction::Close => &[Received],
    }
}

impl ReturnAction {
    /// The permission this action needs besides seeing the return.
    pub fn needs(self) -> ordercrm_kernel::authz::Action {
        use ordercrm_kernel::authz::Action;
        match self {
            ReturnAction::Receive => Action::ReturnsReceive,
            ReturnAction::ShipBack => Action::FulfillmentWrite,
            ReturnAction::Approve | ReturnAction::Reject | ReturnAction::Close => {
                Action::ReturnsApprove
            }
        }
    }
}

/// The actions `actor` may take on a return in `status`: exactly those the
/// commands accept, because they ask the same questions (only a repair ships
/// goods back).
pub fn allowed_actions(
    actor: &ordercrm_kernel::authz::Actor,
    status: ReturnStatus,
    resolution: Resolution,
) -> Vec<ReturnAction> {
    ReturnAction::ALL
        .iter()
        .copied()
        .filter(|a| {
            actor.may(a.needs())
                && starts_from(*a).contains(&status)
                && (*a != ReturnAction::ShipBack || resolution == Resolution::Repair)
        })
        .collect()
}

/// Lines per return request and per receipt.
pub const MAX_RETURN_LINES: usize = 200;

/// What `units` more units of a line are credited, when `credited` units of it
/// were credited `credited_amount` before: the line's total shared by units,
/// rounded down, except that the units that bring the line to its quantity take
/// what is left of its total, so a line returned in full refunds exactly what it
/// was charged. `None` when the numbers are out of range (a caller's bug).
pub fn credit(
    line_total: i64,
    line_quantity: i64,
    credited: i64,
    credited_amount: i64,
    units: i64,
) -> Option<i64> {
    if line_quantity <= 0 || units <= 0 || credited < 0 {
        return None;
    }
    let after = credited.checked_add(units)?;
    if after > line_quantity {
        return None;
    }
    if after == line_quantity {
        return line_total.checked_sub(credited_amount).filter(|a| *a >= 0);
    }
    let share = i128::from(line_total) * i128::from(units) / i128::from(line_quantity);
    i64::try_from(share).ok()
}

/// What `units` of a line are worth in its prices' terms (before tax when prices
/// exclude it, as list prices then do): the line's net after both discounts shared
/// by units, rounded down. What an exchange for a dearer product takes off.
pub fn value_in_price_terms(
    line_total: i64,
    line_tax: i64,
    prices_include_tax: bool,
    line_quantity: i64,
    units: i64,
) -> i64 {
    let net = if prices_include_tax {
        line_total
    } else {
        line_total.saturating_sub(line_tax)
    };
    if line_quantity <= 0 || units <= 0 {
        return 0;
    }
    let share = i128::from(net) * i128::from(std::cmp::min(units, line_quantity))
        / i128::from(line_quantity);
    i64::try_from(share).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_units_take_the_remainder() {
        // 10.00 over 3 units, returned one at a time: 3.33, 3.33, 3.34.
        let a = credit(1000, 3, 0, 0, 1).unwrap();
        let b = credit(1000, 3, 1, a, 1).unwrap();
        let c = credit(1000, 3, 2, a + b, 1).unwrap();
        assert_eq!((a, b, c), (333, 333, 334));
        // Two then one: 6.66, 3.34.
        let a = credit(1000, 3, 0, 0, 2).unwrap();
        assert_eq!((a, credit(1000, 3, 2, a, 1).unwrap()), (666, 334));
        // All at once: the whole total.
        assert_eq!(credit(1000, 3, 0, 0, 3), Some(1000));
    }

    #[test]
    fn out_of_range_is_refused_not_wrapped() {
        assert_eq!(credit(1000, 3, 2, 0, 2), None);
        assert_eq!(credit(1000, 0, 0, 0, 1), None);
        assert_eq!(credit(1000, 3, 0, 0, 0), None);
        assert_eq!(credit(1000, 3, i64::MAX, 0, 1), None);
        assert_eq!(credit(10, 3, 2, 11, 1), None);
        // The largest line fits: 10⁹ units at 10¹² each does not reach i64 by
        // itself, and the share is computed in 128 bits.
        assert_eq!(
            credit(i64::MAX, 1_000_000_000, 0, 0, 999_999_999),
            Some(i64::try_from(i128::from(i64::MAX) * 999_999_999 / 1_000_000_000).unwrap())
        );
    }
}
