use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::authz::Action;
use ordercrm_kernel::authz::Actor;
use ordercrm_kernel::crypto::FieldCipher;
use ordercrm_kernel::version::unless_unchanged;
use ordercrm_kernel::{Ctx, FieldError, Result};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{DatabaseTransaction, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::{check_duplicate, check_owner};
use crate::dto::{CustomerView, UpdateCustomer};
use crate::entity::customer;
use crate::error::CustomerError;
use crate::{events, model, queries};

fn set<T: Into<sea_orm::Value>>(v: Option<T>) -> sea_orm::ActiveValue<T> {
    match v {
        Some(v) => Set(v),
        None => NotSet,
    }
}

/// Whether an update changed anything is judged on the unmasked view: a tax id
/// that changes only where the caller's view masks it is still a change.
const FULL_VIEW: Actor = Actor::System;

#[tracing::instrument(skip_all, fields(%id))]
pub async fn update(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    cipher: &FieldCipher,
    id: Uuid,
    if_match: Option<i64>,
    patch: UpdateCustomer,
) -> Result<CustomerView> {
    // Lacking the permission at all is 403; a customer you may not see is 404.
    ctx.actor.require(Action::CustomersWrite)?;
    let changed = unless_unchanged(txn, async |txn| {
        let current = super::claim_for_write(txn, ctx, id, if_match).await?;
        let mut errors = Vec::new();
        let email = patch
            .email
            .clone()
            .map(|e| e.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty()));
        let phone = patch
            .phone
            .clone()
            .map(|p| p.map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()));
        model::check(
            &mut errors,
            None,
            patch.name.as_deref(),
            email.clone().flatten().as_deref(),
            phone.clone().flatten().as_deref(),
            patch.size_band.clone().flatten().as_deref(),
            patch.preferred_currency.clone().flatten().as_deref(),
            patch.tags.as_deref(),
            patch.attributes.as_ref(),
            patch.payment_terms_days.flatten(),
        );
        if patch.birthday.flatten().is_some() && current.kind == "company" {
            errors.push(FieldError::new(
                "birthday",
                "not_applicable",
                "companies have no birthday",
            ));
        }
        if patch
            .credit_limit
            .flatten()
            .is_some_and(|m| m.is_negative())
        {
            errors.push(FieldError::new(
                "credit_limit.amount",
                "range",
                "must not be negative",
            ));
        }
        if let Some(owner) = patch.owner_id {
            check_owner(&ctx.actor, owner, &mut errors);
        }
        if !errors.is_empty() {
            return Err(CustomerError::Invalid(errors).into());
        }
        let email_normalized = email
            .clone()
            .map(|e| e.as_deref().map(model::normalize_email));
        let phone_normalized = phone
            .clone()
            .map(|p| p.as_deref().map(model::normalize_phone));
        let new_email = email_normalized
            .clone()
            .flatten()
            .filter(|e| Some(e) != current.email_normalized.as_ref());
        let new_phone = phone_normalized
            .clone()
            .flatten()
            .filter(|p| Some(p) != current.phone_normalized.as_ref());
        check_duplicate(
            txn,
            &ctx.actor,
            new_email.as_deref(),
            new_phone.as_deref(),
            Some(id),
        )
        .await?;

        let before =
            queries::views(txn, &FULL_VIEW, cipher, vec![super::as_read(&current)]).await?;
        let tags = patch.tags.map(|t| {
            t.into_iter()
                .map(|t| t.trim().to_owned())
                .collect::<Vec<_>>()
        });
        let name = patch.name.map(|n| n.trim().to_owned());
        let mut row = customer::ActiveModel {
            id: Set(id),
            name: set(name.clone()),
            email: set(email.clone()),
            email_normalized: set(email_normalized),
            phone: set(phone.clone()),
            phone_normalized: set(phone_normalized.clone()),
            legal_name: set(patch.legal_name.clone()),
            industry: set(patch.industry),
            size_band: set(patch.size_band),
            tax_id_encrypted: set(patch
                .tax_id
                .map(|t| t.map(|t| cipher.encrypt(t.trim())).transpose())
                .transpose()?),
            birthday: set(patch.birthday),
            preferred_language: set(patch.preferred_language),
            preferred_currency: set(patch.preferred_currency),
            tags: set(tags.clone().map(|t| serde_json::json!(t))),
            owner_id: set(patch.owner_id),
            credit_limit_amount: set(patch.credit_limit.map(|m| m.map(|m| m.amount))),
            credit_limit_currency: set(patch
                .credit_limit
                .map(|m| m.map(|m| m.currency.code().to_owned()))),
            payment_terms_days: set(patch.payment_terms_days),
            attributes: set(patch.attributes),
            updated_at: Set(ctx.now),
            ..Default::default()
        };
        if let Some(consent) = patch.marketing_consent
            && consent != current.marketing_consent
        {
            row.marketing_consent = Set(consent);
            row.marketing_consent_at = Set(consent.then_some(ctx.now));
        }
        let merged_tags: Vec<String> = tags
            .unwrap_or_else(|| serde_json::from_value(current.tags.clone()).unwrap_or_default());
        let pick =
            |new: Option<Option<String>>, old: &Option<String>| new.unwrap_or_else(|| old.clone());
        let legal = pick(patch.legal_name, &current.legal_name);
        let email_v = pick(email, &current.email);
        let phone_v = pick(phone, &current.phone);
        let phone_n = pick(phone_normalized, &current.phone_normalized);
        let name_v = name.unwrap_or_else(|| current.name.clone());
        row.search_text = Set(model::search_text(
            &[
                Some(&name_v),
                Some(&current.number),
                email_v.as_deref(),
                phone_v.as_deref(),
                phone_n.as_deref(),
                legal.as_deref(),
            ],
            &merged_tags,
        ));
        // The row is this transaction's since the claim: no one else's write is lost.
        customer::Entity::update_many()
            .set(row)
            .filter(customer::COLUMN.id.eq(id))
            .exec(txn)
            .await?;
        // Read back without the visibility filter: a rep who hands the customer to
        // someone else no longer sees it, but is still told what they did.
        let updated = customer::Entity::find_by_id(id)
            .one(txn)
            .await?
            .ok_or_else(|| CustomerError::NotFound(id.to_string()))?;
        let view = queries::views(txn, &FULL_VIEW, cipher, vec![updated])
            .await?
            .pop()
            .ok_or_else(|| CustomerError::NotFound(id.to_string()))?;
        let before = before
            .into_iter()
            .next()
            .ok_or_else(|| CustomerError::NotFound(id.to_string()))?;
        Ok((before, view))
    })
    .await?;
    let Some((before, view)) = changed else {
        return queries::get(txn, &ctx.actor, cipher, id).await;
    };
    events::record(txn, ctx, &events::UPDATED, &view).await?;
    let mut b = serde_json::to_value(&before).unwrap_or_default();
    let mut a = serde_json::to_value(&view).unwrap_or_default();
    for v in [&mut b, &mut a] {
        if !v["tax_id"].is_null() {
            v["tax_id"] = serde_json::json!("set");
        }
    }
    audit::record(
        txn,
        ctx,
        Entry::new("customer.update", "customer", id).changes(audit::diff(&b, &a)),
    )
    .await?;
    // The caller's view of the result (a tax id masked unless they may see it),
    // without the visibility filter: a rep who hands the customer to someone else
    // no longer sees it, but is still told what they did.
    let updated = customer::Entity::find_by_id(id)
        .one(txn)
        .await?
        .ok_or_else(|| CustomerError::NotFound(id.to_string()))?;
    queries::views(txn, &ctx.actor, cipher, vec![updated])
        .await?
        .pop()
        .ok_or_else(|| CustomerError::NotFound(id.to_string()).into())
}
