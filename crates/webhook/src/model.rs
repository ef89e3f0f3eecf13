//! What an endpoint subscribes to: exact event types or patterns (`order.*`),
//! matched when an event is delivered, so types added later match; and the
//! integration profiles that preselect patterns.

use ordercrm_kernel::Actor;
use ordercrm_kernel::authz::Action;

ordercrm_kernel::string_enum! {
    /// An integration profile: preselects the event types such an integration wants.
    pub Profile {
        /// Orders, fulfillment, returns and payments.
        Ecommerce = "ecommerce",
        /// Dispatch notes and shipments.
        Logistics = "logistics",
        /// Orders, stock, invoices and payments.
        Erp = "erp",
    }
}

ordercrm_kernel::string_enum! {
    /// What a delivery's `data` holds.
    pub PayloadStyle {
        /// The resource's event view, as the `webhooks` map documents it.
        Full = "full",
        /// Only `{"resource", "id", "version"}`: for receivers with body limits, which
        /// read the resource itself when they need it.
        Thin = "thin",
    }
}

ordercrm_kernel::string_enum! {
    /// Where a delivery stands.
    pub DeliveryStatus {
        /// Waiting for its next attempt (or being sent, while leased).
        Pending = "pending",
        /// Waiting its turn: its endpoint is turned off (kept until it is turned on
        /// again), or catching up and this one is further down the line.
        Paused = "paused",
        /// A receiver answered 2xx.
        Succeeded = "succeeded",
        /// Every attempt failed, or the receiver is gone: kept for a redelivery or a
        /// recovery.
        Failed = "failed",
    }
}

impl Profile {
    pub fn patterns(self) -> &'static [&'static str] {
        match self {
            Profile::Ecommerce => &["order.*", "shipment.*", "return.*", "payment.*", "refund.*"],
            Profile::Logistics => &["dispatch_note.*", "shipment.*"],
            Profile::Erp => &[
                "order.*",
                "stock_level.*",
                "invoice.*",
                "payment.*",
                "refund.*",
            ],
        }
    }
}

/// Resources whose events are announced but not written yet: a pattern for them is
/// accepted now (and matches once they exist), a typo is not.
pub const PLANNED_RESOURCES: &[&str] = &["refund", "credit_note", "contract", "ticket", "visit"];

/// Whether `actor` may subscribe to `entry`: people who manage webhooks may
/// subscribe to anything; an API key to the resources its scopes let it read (never
/// `*`, people, keys or other endpoints). The dispatcher checks again per event.
pub fn permitted(actor: &Actor, entry: &str) -> bool {
    let Actor::ApiKey(key) = actor else {
        return true;
    };
    let resource = entry.split_once('.').map_or(entry, |(r, _)| r);
    let has =
        |scope: Option<&str>| scope.is_some_and(|scope| key.scopes.iter().any(|s| s == scope));
    // A logistics key bound to carriers reads its carriers' shipments, nothing picked.
    if matches!(resource, "dispatch_note" | "return" | "invoice" | "payment")
        && !key.carriers.is_empty()
    {
        return false;
    }
    if matches!(resource, "shipment" | "dispatch_note") {
        return has(Action::OrdersRead.scope()) || has(Action::FulfillmentRead.scope());
    }
    if resource == "return" {
        return has(Action::OrdersRead.scope()) || has(Action::ReturnsRead.scope());
    }
    let needs = match resource {
        "order" => Action::OrdersRead.scope(),
        "reservation" | "stock_level" | "product" | "warehouse" | "supplier" | "purchase_order" => {
            Action::InventoryRead.scope()
        }
        "customer" | "contact" | "address" | "note" | "follow_up" => Action::CustomersRead.scope(),
        "setting" | "exchange_rate" => Action::SettingsRead.scope(),
        "invoice" | "payment" | "refund" => Some("payments:read"),
        // Its own endpoints' (the key that registered them): failing, disabled.
        "webhook_endpoint" => Action::WebhooksRead.scope(),
        _ => None,
    };
    has(needs)
}

/// Most entries an endpoint's `event_types` may hold.
pub const MAX_EVENT_TYPES: usize = 50;

/// Why an entry of `event_types` was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    UnknownType,
    UnknownResource,
    Malformed,
}

/// An entry as stored: `*`, `resource.*`, or a type in `known` (the catalogue).
pub fn check_entry(entry: &str, known: &[&str]) -> Result<String, Refused> {
    if entry == "*" {
        return Ok(entry.to_owned());
    }
    if let Some(resource) = entry.strip_suffix(".*") {
        if !resource_name(resource) {
            return Err(Refused::Malformed);
        }
        let exists = known
            .iter()
            .any(|t| t.split_once('.').is_some_and(|(r, _)| r == resource))
            || PLANNED_RESOURCES.contains(&resource);
        return if exists {
            Ok(entry.to_owned())
        } else {
            Err(Refused::UnknownResource)
        };
    }
    match entry.split_once('.') {
        Some((r, name)) if resource_name(r) && resource_name(name) => {
            if known.contains(&entry) {
                Ok(entry.to_owned())
            } else {
                Err(Refused::UnknownType)
            }
        }
        _ => Err(Refused::Malformed),
    }
}

fn resource_name(s: &str) -> bool {
    (1..=40).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        && !s.starts_with('_')
}

/// Whether an event of `event_type` goes to an endpoint subscribed to `entries`.
pub fn subscribed(entries: &[String], event_type: &str) -> bool {
    entries.iter().any(|e| {
        e == "*"
            || e == event_type
            || e.strip_suffix(".*").is_some_and(|resource| {
                event_type
                    .split_once('.')
                    .is_some_and(|(r, _)| r == resource)
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[&str] = &[
        "order.created",
        "order.approved",
        "return.requested",
        "invoice.paid",
        "payment.received",
        "stock_level.low",
        "shipment.created",
        "dispatch_note.created",
    ];

    fn key(scopes: &[&str], carriers: &[&str]) -> Actor {
        Actor::ApiKey(ordercrm_kernel::authz::KeyActor {
            id: uuid::Uuid::nil(),
            name: "k".into(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            default_owner: None,
            channel: None,
            carriers: carriers.iter().map(|s| (*s).to_owned()).collect(),
        })
    }

    #[test]
    fn keys_read_shipments_by_orders_or_fulfillment_and_carriers_no_notes() {
        let wms = key(&["fulfillment:read"], &[]);
        assert!(permitted(&wms, "shipment.*"));
        assert!(permitted(&wms, "dispatch_note.created"));
        assert!(!permitted(&wms, "order.*"));
        let shop = key(&["orders:read"], &[]);
        assert!(permitted(&shop, "shipment.delivered"));
        let carrier = key(&["fulfillment:read"], &["sf"]);
        assert!(permitted(&carrier, "shipment.*"));
        assert!(!permitted(&carrier, "dispatch_note.*"));
        assert!(!permitted(&key(&["tracking:write"], &[]), "shipment.*"));
    }

    #[test]
    fn patterns_match_types_added_later() {
        let entries = vec!["order.*".to_owned(), "stock_level.low".to_owned()];
        assert!(subscribed(&entries, "order.approved"));
        assert!(subscribed(&entries, "order.shipped"), "a type added later");
        assert!(subscribed(&entries, "stock_level.low"));
        assert!(!subscribed(&entries, "stock_level.received"));
        assert!(!subscribed(&entries, "orders.created"));
        assert!(!subscribed(&entries, "order"));
        assert!(subscribed(&["*".to_owned()], "customer.created"));
    }

    #[test]
    fn entries_are_known_types_or_patterns_of_known_or_planned_resources() {
        assert_eq!(check_entry("order.*", KNOWN), Ok("order.*".into()));
        assert_eq!(check_entry("shipment.*", KNOWN), Ok("shipment.*".into()));
        assert_eq!(
            check_entry("order.created", KNOWN),
            Ok("order.created".into())
        );
        assert_eq!(check_entry("ordr.*", KNOWN), Err(Refused::UnknownResource));
        assert_eq!(
            check_entry("order.creatd", KNOWN),
            Err(Refused::UnknownType)
        );
        for bad in [
            "order",
            "order.",
            ".*",
            "Order.*",
            "order.**",
            "a.b.c",
            "order.*.x",
            "",
        ] {
            assert_eq!(check_entry(bad, KNOWN), Err(Refused::Malformed), "{bad}");
        }
        for profile in Profile::ALL {
            for p in profile.patterns() {
                assert!(check_entry(p, KNOWN).is_ok(), "{p}");
            }
        }
    }
}
