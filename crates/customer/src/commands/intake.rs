//! The customer of an order from an integration that does not know our ids: found
//! by the channel's reference, then by email, or created when the caller may write
//! customers. Concurrent orders naming the same new customer make one customer.

use ordercrm_kernel::crypto::FieldCipher;
use ordercrm_kernel::input::Email;
use ordercrm_kernel::{Ctx, FieldError, Result};
use sea_orm::{DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::dto::{CreateCustomer, IntakeCustomer};
use crate::entity::{customer, external_ref};
use crate::model::{self, CustomerKind, Tags};
use crate::queries;

/// The customer `input` names, or a new one; `None` with `errors` saying why not.
pub async fn find_or_create(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    cipher: &FieldCipher,
    input: IntakeCustomer,
    errors: &mut Vec<FieldError>,
) -> Result<Option<Uuid>> {
    let before = errors.len();
    if input.external_ref.is_none() && input.email.is_none() {
        errors.push(FieldError::new(
            "customer",
            "required",
            "give external_ref or email (or send customer_id instead)",
        ));
    }
    if let Some(r) = &input.external_ref
        && !r.is_well_formed()
    {
        errors.push(FieldError::new(
            "customer.external_ref",
            "invalid",
            "channel is 1 to 50 characters and external_id 1 to 200",
        ));
    }
    let email = Email::check(input.email.clone(), errors, "customer.email");
    if errors.len() > before {
        return Ok(None);
    }
    // Finding customers is reading them: a key that may only write orders names
    // customers by id, and learns nothing from a reference or an email.
    if !ctx.actor.may(ordercrm_kernel::authz::Action::CustomersRead) {
        errors.push(unknown());
        return Ok(None);
    }
    // Concurrent intakes of one buyer take turns on every key they could meet on.
    if let Some(r) = &input.external_ref {
        let key = format!(
            "customer-ref:{}:{}",
            r.channel.0.trim(),
            r.external_id.0.trim()
        );
        ordercrm_kernel::db::lock_for_check(txn, &key).await?;
    }
    if let Some(e) = &email {
        let key = format!("customer-email:{}", model::normalize_email(e));
        ordercrm_kernel::db::lock_for_check(txn, &key).await?;
    }

    if let Some(r) = &input.external_ref {
        let linked = external_ref::Entity::find()
            .filter(external_ref::COLUMN.channel.eq(r.channel.0.trim()))
            .filter(external_ref::COLUMN.external_id.eq(r.external_id.0.trim()))
            .one(txn)
            .await?;
        if let Some(link) = linked {
            return match queries::visible(&ctx.actor)
                .filter(customer::COLUMN.id.eq(link.customer_id))
                .one(txn)
                .await?
            {
                Some(c) => Ok(Some(c.id)),
                None => {
                    errors.push(unknown());
                    Ok(None)
                }
            };
        }
    }
    if let Some(e) = &email {
        let found = queries::visible(&ctx.actor)
            .filter(
                customer::COLUMN
                    .email_normalized
                    .eq(model::normalize_email(e)),
            )
            .filter(customer::COLUMN.merged_into_id.is_null())
            .filter(customer::COLUMN.erased_at.is_null())
            .filter(customer::COLUMN.archived.eq(false))
            .order_by_asc(customer::Column::CreatedAt)
            .one(txn)
            .await?;
        if let Some(c) = found {
            return Ok(Some(c.id));
        }
    }
    if !ctx
        .actor
        .may(ordercrm_kernel::authz::Action::CustomersWrite)
    {
        errors.push(unknown());
        return Ok(None);
    }
    let Some(name) = input.name else {
        errors.push(FieldError::new(
            "customer.name",
            "required",
            "no customer has this reference or email: give a name to create one",
        ));
        return Ok(None);
    };
    let created = crate::commands::create(
        txn,
        ctx,
        cipher,
        CreateCustomer {
            kind: input
                .kind
                .unwrap_or_else(|| CustomerKind::Person.as_str().into()),
            name,
            email: input.email,
            phone: input.phone,
            legal_name: None,
            industry: None,
            size_band: None,
            tax_id: None,
            birthday: None,
            preferred_language: None,
            preferred_currency: None,
            tags: Tags::default(),
            source_channel: input
                .external_ref
                .as_ref()
                .map(|r| ordercrm_kernel::input::Text(r.channel.0.clone())),
            owner_id: None,
            credit_limit: None,
            payment_terms_days: None,
            marketing_consent: false,
            attributes: None,
            external_refs: input.external_ref.into_iter().collect(),
        },
        false,
    )
    .await?;
    Ok(Some(created.id))
}

fn unknown() -> FieldError {
    FieldError::new(
        "customer",
        "unknown_customer",
        "no such customer, or not one of yours",
    )
}
