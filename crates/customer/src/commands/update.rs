use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::authz::Actor;
use ordercrm_kernel::authz::{self, Action};
use ordercrm_kernel::crypto::FieldCipher;
use ordercrm_kernel::version::unless_unchanged;
use ordercrm_kernel::{Ctx, FieldError, Result};
use sea_orm::ActiveValue::Set;
use sea_orm::{DatabaseTransaction, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::check_duplicate;
use crate::dto::{CustomerView, UpdateCustomer};
use crate::entity::customer;
use crate::error::CustomerError;
use crate::model::CustomerKind;
use crate::{events, model, queries};
use ordercrm_kernel::input::{Attributes, Choice, Email, Phone, Text};

use ordercrm_kernel::patch::set;

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
        let e = &mut errors;
        let name = patch.name.as_ref().map(|n| n.check(e, "name"));
        let email = patch.email.map(|v| Email::check(v, e, "email"));
        let phone = patch.phone.map(|v| Phone::check(v, e, "phone"));
        let legal_name = patch.legal_name.map(|v| Text::check(v, e, "legal_name"));
        let industry = patch.industry.map(|v| Text::check(v, e, "industry"));
        let size_band = patch
            .size_band
            .map(|v| Choice::check_opt(v.as_ref(), e, "size_band").map(|b| b.as_str().to_owned()));
        let tax_id = patch.tax_id.map(|v| Text::check(v, e, "tax_id"));
        let preferred_language = patch
            .preferred_language
            .map(|v| Text::check(v, e, "preferred_language"));
        let preferred_currency = patch.preferred_currency.map(|v| {
            Choice::check_opt(v.as_ref(), e, "preferred_currency").map(|c| c.code().to_owned())
        });
        let tags = patch.tags.as_ref().map(|t| t.check(e, "tags"));
        let credit_limit = patch
            .credit_limit
            .map(|v| v.map(|m| m.check(e, "credit_limit")));
        let payment_terms_days = patch
            .payment_terms_days
            .map(|v| v.map(|d| d.check_i32(e, "payment_terms_days")));
        Attributes::check(patch.attributes.as_ref(), e);
        if patch.birthday.flatten().is_some() && current.kind == CustomerKind::Company.as_str() {
            errors.push(FieldError::new(
                "birthday",
                "not_applicable",
                "companies have no birthday",
            ));
        }
        if let Some(owner) = patch.owner_id {
            authz::check_assignable(txn, &ctx.actor, "owner_id", owner, &mut errors).await?;
        }
        if !errors.is_empty() {
            return Err(ordercrm_kernel::Error::validation(errors));
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
        let mut row = customer::ActiveModel {
            id: Set(id),
            name: set(name.clone()),
            email: set(email.clone()),
            email_normalized: set(email_normalized),
            phone: set(phone.clone()),
            phone_normalized: set(phone_normalized.clone()),
            legal_name: set(legal_name.clone()),
            industry: set(industry),
            size_band: set(size_band),
            tax_id_encrypted: set(tax_id
                .map(|t| t.map(|t| cipher.encrypt(&t)).transpose())
                .transpose()?),
            birthday: set(patch.birthday.map(|b| b.map(Into::into))),
            preferred_language: set(preferred_language),
            preferred_currency: set(preferred_currency),
            tags: set(tags.clone().map(|t| serde_json::json!(t))),
            owner_id: set(patch.owner_id),
            credit_limit_amount: set(credit_limit.map(|m| m.map(|m| m.amount))),
            credit_limit_currency: set(
                credit_limit.map(|m| m.map(|m| m.currency.code().to_owned()))
            ),
            payment_terms_days: set(payment_terms_days),
            attributes: set(patch.attributes.map(|a| a.0)),
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
        let legal = pick(legal_name, &current.legal_name);
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
