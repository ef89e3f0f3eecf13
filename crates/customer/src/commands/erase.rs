//! The right to be forgotten: personal data is removed for good while the row (its
//! id and number) stays, so invoices and orders still add up. Duplicates merged into
//! the customer are the same person, so they are erased with it.

use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::authz::Action;
use ordercrm_kernel::crypto::FieldCipher;
use ordercrm_kernel::{Ctx, Result};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{DatabaseTransaction, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::dto::CustomerView;
use crate::entity::{address, contact, customer, external_ref, follow_up, note};
use crate::{events, queries};

/// What an erasure did: the customer as it remains, and every customer erased (it
/// and the duplicates merged into it), so the caller can forget what it kept of them.
pub struct Erasure {
    pub customer: CustomerView,
    pub erased_ids: Vec<Uuid>,
}

pub async fn erase(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    cipher: &FieldCipher,
    id: Uuid,
) -> Result<Erasure> {
    ctx.actor.require(Action::CustomersErase)?;
    let current = queries::find_visible(txn, &ctx.actor, id).await?;
    let mut erased_ids = Vec::new();
    // The customer, then whatever was merged into it, and into those, ...
    let mut due = vec![current];
    while let Some(row) = due.pop() {
        // A cycle of merges (possible before merges claimed their rows) ends here.
        if erased_ids.contains(&row.id) {
            continue;
        }
        due.extend(
            customer::Entity::find()
                .filter(customer::COLUMN.merged_into_id.eq(row.id))
                .all(txn)
                .await?,
        );
        erased_ids.push(row.id);
        if row.erased_at.is_none() {
            erase_one(txn, ctx, cipher, row).await?;
        }
    }
    Ok(Erasure {
        customer: queries::get(txn, &ctx.actor, cipher, id).await?,
        erased_ids,
    })
}

async fn erase_one(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    cipher: &FieldCipher,
    current: customer::Model,
) -> Result<()> {
    let id = current.id;
    let row = customer::ActiveModel {
        id: Set(id),
        name: Set(format!("Erased customer {}", current.number)),
        email: Set(None),
        email_normalized: Set(None),
        phone: Set(None),
        phone_normalized: Set(None),
        legal_name: Set(None),
        tax_id_encrypted: Set(None),
        birthday: Set(None),
        tags: Set(serde_json::json!([])),
        attributes: Set(serde_json::json!({})),
        marketing_consent: Set(false),
        marketing_consent_at: Set(None),
        search_text: Set(current.number.to_lowercase()),
        archived: Set(true),
        archived_at: Set(current.archived_at.or(Some(ctx.now))),
        erased_at: Set(Some(ctx.now)),
        updated_at: Set(ctx.now),
        ..Default::default()
    };
    ordercrm_kernel::version::try_claim(
        txn,
        customer::Entity::update_many()
            .set(row)
            .filter(customer::COLUMN.id.eq(id)),
        customer::Column::Version,
        None,
    )
    .await?;
    // People, places and free text about them go; the fact that notes existed stays.
    // Each change is its resource's event (their payloads are redacted below, with
    // every earlier one).
    let contacts = contact::Entity::find()
        .filter(contact::COLUMN.customer_id.eq(id))
        .all(txn)
        .await?;
    contact::Entity::delete_many()
        .filter(contact::COLUMN.customer_id.eq(id))
        .exec(txn)
        .await?;
    for c in contacts {
        let gone = contact::Model {
            version: c.version + 1,
            ..c
        };
        events::contact(txn, ctx, &events::CONTACT_DELETED, &gone.into()).await?;
    }
    let addresses = address::Entity::find()
        .filter(address::COLUMN.customer_id.eq(id))
        .all(txn)
        .await?;
    address::Entity::delete_many()
        .filter(address::COLUMN.customer_id.eq(id))
        .exec(txn)
        .await?;
    for a in addresses {
        let gone = address::Model {
            version: a.version + 1,
            ..a
        };
        events::address(txn, ctx, &events::ADDRESS_DELETED, &gone.into()).await?;
    }
    external_ref::Entity::delete_many()
        .filter(external_ref::COLUMN.customer_id.eq(id))
        .exec(txn)
        .await?;
    note::Entity::update_many()
        .col_expr(note::COLUMN.body, Expr::value("[erased]"))
        .filter(note::COLUMN.customer_id.eq(id))
        .exec(txn)
        .await?;
    // Nobody can act on a call-back to someone erased: open ones are cancelled, in
    // the same version as the scrub below (one event each).
    follow_up::Entity::update_many()
        .col_expr(follow_up::COLUMN.status, Expr::value("cancelled"))
        .col_expr(follow_up::COLUMN.closed_at, Expr::value(ctx.now))
        .filter(follow_up::COLUMN.customer_id.eq(id))
        .filter(follow_up::COLUMN.status.eq("open"))
        .exec(txn)
        .await?;
    let follow_ups = ordercrm_kernel::version::bump_all_returning(
        txn,
        follow_up::Entity::update_many()
            .col_expr(follow_up::COLUMN.title, Expr::value("[erased]"))
            .col_expr(
                follow_up::COLUMN.details,
                Expr::value(Option::<String>::None),
            )
            .col_expr(follow_up::COLUMN.updated_at, Expr::value(ctx.now))
            .filter(follow_up::COLUMN.customer_id.eq(id)),
        follow_up::Column::Version,
    )
    .await?;
    for f in follow_ups {
        let view = queries::follow_up_view(f, ctx.now);
        events::follow_up(txn, ctx, &events::FOLLOW_UP_UPDATED, &view).await?;
    }
    // Earlier audit rows and outbox payloads carried the same personal data.
    ordercrm_kernel::audit::entity::Entity::update_many()
        .col_expr(
            ordercrm_kernel::audit::entity::COLUMN.changes,
            Expr::value(serde_json::json!({"redacted": "customer erased"})),
        )
        .filter(
            ordercrm_kernel::audit::entity::COLUMN
                .entity_type
                .eq("customer"),
        )
        .filter(
            ordercrm_kernel::audit::entity::COLUMN
                .entity_id
                .eq(id.to_string()),
        )
        .exec(txn)
        .await?;
    // Every event about the customer and its things keeps its shape (ids, versions,
    // times: a reader's schema still holds) with the personal data taken out.
    let outbox = ordercrm_kernel::events::entity::COLUMN;
    let about = ordercrm_kernel::events::entity::Entity::find()
        .filter(
            sea_orm::Condition::any()
                .add(outbox.customer_id.eq(id))
                .add(
                    sea_orm::Condition::all()
                        .add(outbox.resource_type.eq("customer"))
                        .add(outbox.resource_id.eq(id.to_string())),
                ),
        )
        .all(txn)
        .await?;
    for event in about {
        let mut payload = event.payload;
        redact(&mut payload);
        ordercrm_kernel::events::entity::Entity::update_many()
            .col_expr(outbox.payload, Expr::value(payload))
            .filter(outbox.seq.eq(event.seq))
            .exec(txn)
            .await?;
    }
    let view = queries::get(txn, &ctx.actor, cipher, id).await?;
    events::record(txn, ctx, &events::ERASED, &view).await?;
    // The audit row names what was erased, never the values.
    audit::record(
        txn,
        ctx,
        Entry::new("customer.erase", "customer", id)
            .changes(serde_json::json!({"erased": ["name", "email", "phone", "legal_name", "tax_id", "birthday",
                "tags", "attributes", "contacts", "addresses", "external_refs", "note bodies",
                "follow-up titles and details"]})),
    )
    .await?;
    Ok(())
}

/// Take personal data out of an event's `data`, keeping its shape: required text
/// becomes `[erased]`, optional fields null, lists and maps empty; ids, numbers,
/// versions, flags and times stay. An order's notes and addresses go too; its lines
/// (products, not people) stay.
fn redact(value: &mut serde_json::Value) {
    use serde_json::Value;
    const REQUIRED_TEXT: &[&str] = &[
        "name", "line1", "city", "body", "title", "message", "reason",
    ];
    const OPTIONAL: &[&str] = &[
        "email",
        "phone",
        "legal_name",
        "recipient",
        "line2",
        "region",
        "postal_code",
        "details",
        "birthday",
        "tax_id",
        "notes",
        "shipping_address",
        "billing_address",
        "status_reason",
        "ship_to",
        "cancel_reason",
        "signed_by",
        "proof",
        "location",
        "decision_note",
    ];
    match value {
        Value::Object(fields) => {
            for (key, field) in fields.iter_mut() {
                let key = key.as_str();
                if REQUIRED_TEXT.contains(&key) && field.is_string() {
                    *field = Value::from("[erased]");
                } else if OPTIONAL.contains(&key) {
                    *field = Value::Null;
                } else if key == "tags" || key == "external_refs" {
                    *field = Value::Array(Vec::new());
                } else if key == "attributes" || key == "metadata" {
                    *field = Value::Object(serde_json::Map::new());
                } else if key == "lines" {
                    // An order's or reservation's lines are products, not people.
                } else {
                    redact(field);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}
