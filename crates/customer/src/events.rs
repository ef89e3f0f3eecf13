//! Events this domain writes to the outbox.

use ordercrm_kernel::Ctx;
use ordercrm_kernel::crypto::mask;
use ordercrm_kernel::events::{self, Catalogued, EventType, NewEvent};
use sea_orm::{DatabaseTransaction, DbErr};

use crate::dto::{AddressView, ContactView, CustomerView, FollowUpView, NoteView};

pub const CREATED: EventType<CustomerView> = EventType::new(
    "customer.created",
    "A customer was created (one request or an import).",
)
    .example(r#"{"archived": false, "archived_at": null, "merged_into_id": null, "erased_at": null, "tax_id": "••••••••••••••234X", "kind": "company"}"#);
pub const UPDATED: EventType<CustomerView> =
    EventType::new("customer.updated", "A customer's profile changed.")
    .example(r#"{"archived": false, "archived_at": null, "merged_into_id": null, "erased_at": null, "tax_id": "••••••••••••••234X", "kind": "company"}"#);
pub const ARCHIVED: EventType<CustomerView> = EventType::new(
    "customer.archived",
    "A customer was archived: by hand, or as the duplicate in a merge (`merged_into_id` \
         then names the customer it was merged into, which gets `customer.merged`).",
)
    .example(r#"{"archived": true, "merged_into_id": null, "erased_at": null, "tax_id": "••••••••••••••234X", "kind": "company"}"#);
pub const MERGED: EventType<CustomerView> = EventType::new(
    "customer.merged",
    "A duplicate was merged into this customer (`data`): the duplicate is archived and \
     points here (`customer.archived`), its contacts, addresses and follow-ups moved here \
     (a `*.updated` each), and so did its notes, external references and orders (each \
     order a new version, without an event of its own: this one says they moved).",
)
    .example(r#"{"archived": false, "archived_at": null, "merged_into_id": null, "erased_at": null, "tax_id": "••••••••••••••234X", "kind": "company"}"#);
pub const ERASED: EventType<CustomerView> = EventType::new(
    "customer.erased",
    "A customer's personal data was erased; `data` is what remains. Its contacts and \
     addresses were deleted (`*.deleted` each), its follow-ups' text erased \
     (`follow_up.updated`), its notes' bodies too. Every earlier event about it and its \
     things keeps its shape with the personal data taken out: required text reads \
     `[erased]`, optional fields are null.",
)
    .example(r#"{"name": "Erased customer C-000123", "kind": "person", "email": null, "phone": null, "legal_name": null, "tax_id": null, "birthday": null, "tags": [], "attributes": {}, "external_refs": [], "archived": true, "merged_into_id": null}"#);
pub const TIER_CHANGED: EventType<CustomerView> = EventType::new(
    "customer.tier_changed",
    "A customer's tier changed (`tier`, `tier_since`): its recent orders crossed a rule of \
     `customer_tiers`, up or down, also by ageing out of the rule's window (found once a day). \
     Once per crossing.",
)
.example(r#"{"tier": "gold", "tier_since": "2026-11-20T10:30:01Z", "archived": false, "merged_into_id": null, "erased_at": null, "tax_id": "••••••••••••••234X", "kind": "company"}"#);

pub const CONTACT_CREATED: EventType<ContactView> = EventType::new(
    "contact.created",
    "A contact person was added to a customer.",
);
pub const CONTACT_UPDATED: EventType<ContactView> = EventType::new(
    "contact.updated",
    "A contact changed (also when another contact became primary and this one stopped being).",
);
pub const CONTACT_DELETED: EventType<ContactView> = EventType::new(
    "contact.deleted",
    "A contact was removed; `data` is the contact as it was.",
);
pub const ADDRESS_CREATED: EventType<AddressView> =
    EventType::new("address.created", "An address was added to a customer.");
pub const ADDRESS_UPDATED: EventType<AddressView> = EventType::new(
    "address.updated",
    "An address changed (also when it gained or lost being the default of its kind).",
);
pub const ADDRESS_DELETED: EventType<AddressView> = EventType::new(
    "address.deleted",
    "An address was removed; `data` is the address as it was.",
);
pub const NOTE_CREATED: EventType<NoteView> = EventType::new(
    "note.created",
    "An interaction (call, visit, email, …) was logged on a customer.",
);
pub const FOLLOW_UP_CREATED: EventType<FollowUpView> = EventType::new(
    "follow_up.created",
    "A follow-up with a customer was planned.",
)
.example(r#"{"status": "open", "closed_at": null}"#);
pub const FOLLOW_UP_UPDATED: EventType<FollowUpView> = EventType::new(
    "follow_up.updated",
    "A follow-up changed: rescheduled, reassigned, done or cancelled (see `status`).",
)
.example(r#"{"status": "done", "overdue": false}"#);

/// Every event type this domain writes.
pub fn catalogue() -> Vec<Catalogued> {
    vec![
        CREATED.entry(),
        UPDATED.entry(),
        ARCHIVED.entry(),
        MERGED.entry(),
        ERASED.entry(),
        TIER_CHANGED.entry(),
        CONTACT_CREATED.entry(),
        CONTACT_UPDATED.entry(),
        CONTACT_DELETED.entry(),
        ADDRESS_CREATED.entry(),
        ADDRESS_UPDATED.entry(),
        ADDRESS_DELETED.entry(),
        NOTE_CREATED.entry(),
        FOLLOW_UP_CREATED.entry(),
        FOLLOW_UP_UPDATED.entry(),
    ]
}

/// Something a customer has (a contact, an address, a note, a follow-up): the event
/// belongs to that customer, so erasure finds and scrubs it.
async fn of_customer<P: serde::Serialize>(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event_type: &EventType<P>,
    resource_type: &str,
    (id, version, customer_id): (uuid::Uuid, i64, uuid::Uuid),
    data: &P,
) -> Result<(), DbErr> {
    let event = NewEvent::about(event_type, resource_type, (id, version), data);
    events::record(txn, ctx, event.customer(customer_id))
        .await
        .map(drop)
}

pub(crate) async fn contact(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event_type: &EventType<ContactView>,
    contact: &ContactView,
) -> Result<(), DbErr> {
    let key = (contact.id, contact.version, contact.customer_id);
    of_customer(txn, ctx, event_type, "contact", key, contact).await
}

pub(crate) async fn address(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event_type: &EventType<AddressView>,
    address: &AddressView,
) -> Result<(), DbErr> {
    let key = (address.id, address.version, address.customer_id);
    of_customer(txn, ctx, event_type, "address", key, address).await
}

/// Notes are never edited: their version is always 1.
pub(crate) async fn note(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event_type: &EventType<NoteView>,
    note: &NoteView,
) -> Result<(), DbErr> {
    let key = (note.id, 1, note.customer_id);
    of_customer(txn, ctx, event_type, "note", key, note).await
}

pub(crate) async fn follow_up(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event_type: &EventType<FollowUpView>,
    follow_up: &FollowUpView,
) -> Result<(), DbErr> {
    let key = (follow_up.id, follow_up.version, follow_up.customer_id);
    of_customer(txn, ctx, event_type, "follow_up", key, follow_up).await
}

/// The event view of a customer: as a full-access reader sees it, the tax id masked
/// whoever made the change.
pub fn view(customer: &CustomerView) -> CustomerView {
    let mut data = customer.clone();
    data.tax_id = data.tax_id.as_deref().map(mask);
    data
}

pub(crate) async fn record(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    event_type: &EventType<CustomerView>,
    customer: &CustomerView,
) -> Result<(), DbErr> {
    let data = view(customer);
    let event = NewEvent::about(
        event_type,
        "customer",
        (customer.id, customer.version),
        &data,
    );
    events::record(txn, ctx, event.customer(customer.id))
        .await
        .map(drop)
}
