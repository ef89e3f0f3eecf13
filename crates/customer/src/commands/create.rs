use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::authz::{Action, Actor, Role};
use ordercrm_kernel::crypto::FieldCipher;
use ordercrm_kernel::{Ctx, Result, id::new_id, numbers};
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, DatabaseTransaction, EntityTrait};

use super::{check_duplicate, check_owner, check_refs};
use crate::dto::{CreateCustomer, CustomerView};
use crate::entity::{customer, external_ref};
use crate::error::CustomerError;
use crate::{events, model, queries};

pub const DEFAULT_PREFIX: &str = "C-";
/// Customer numbers may have gaps (a create that rolls back uses its number up).
pub const NUMBERS: numbers::Kind = numbers::Kind::sequence("customer");

#[tracing::instrument(skip_all)]
pub async fn create(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    cipher: &FieldCipher,
    input: CreateCustomer,
    allow_duplicate: bool,
) -> Result<CustomerView> {
    ctx.actor.require(Action::CustomersWrite)?;
    let mut errors = Vec::new();
    model::check(
        &mut errors,
        Some(&input.kind),
        Some(&input.name),
        input.email.as_deref(),
        input.phone.as_deref(),
        input.size_band.as_deref(),
        input.preferred_currency.as_deref(),
        Some(&input.tags),
        input.attributes.as_ref(),
        input.payment_terms_days,
    );
    if input.birthday.is_some() && input.kind == "company" {
        errors.push(ordercrm_kernel::FieldError::new(
            "birthday",
            "not_applicable",
            "companies have no birthday",
        ));
    }
    if input.credit_limit.is_some_and(|m| m.is_negative()) {
        errors.push(ordercrm_kernel::FieldError::new(
            "credit_limit.amount",
            "range",
            "must not be negative",
        ));
    }
    // A rep's customers are theirs unless they say otherwise.
    let owner = input.owner_id.or(match &ctx.actor {
        Actor::User(u) if matches!(u.role, Role::Sales | Role::Manager) => Some(u.id),
        _ => None,
    });
    check_owner(&ctx.actor, owner, &mut errors);
    check_refs(txn, &ctx.actor, &input.external_refs, None, &mut errors).await?;
    if !errors.is_empty() {
        return Err(CustomerError::Invalid(errors).into());
    }
    let email = input
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_owned);
    let phone = input
        .phone
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned);
    let email_normalized = email.as_deref().map(model::normalize_email);
    let phone_normalized = phone.as_deref().map(model::normalize_phone);
    if !allow_duplicate {
        check_duplicate(
            txn,
            &ctx.actor,
            email_normalized.as_deref(),
            phone_normalized.as_deref(),
            None,
        )
        .await?;
    }

    let prefix = ordercrm_settings::queries::value(txn, "customer_number_prefix")
        .await?
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| DEFAULT_PREFIX.to_owned());
    let number = numbers::format(&prefix, numbers::next(txn, NUMBERS).await?);
    let tags: Vec<String> = input.tags.iter().map(|t| t.trim().to_owned()).collect();
    let id = new_id();
    let row = customer::ActiveModel {
        id: Set(id),
        search_text: Set(model::search_text(
            &[
                Some(&input.name),
                Some(&number),
                email.as_deref(),
                phone.as_deref(),
                phone_normalized.as_deref(),
                input.legal_name.as_deref(),
            ],
            &tags,
        )),
        number: Set(number),
        kind: Set(input.kind),
        name: Set(input.name.trim().to_owned()),
        email: Set(email),
        email_normalized: Set(email_normalized),
        phone: Set(phone),
        phone_normalized: Set(phone_normalized),
        legal_name: Set(input.legal_name),
        industry: Set(input.industry),
        size_band: Set(input.size_band),
        tax_id_encrypted: Set(input
            .tax_id
            .as_deref()
            .map(|t| cipher.encrypt(t.trim()))
            .transpose()?),
        birthday: Set(input.birthday),
        preferred_language: Set(input.preferred_language),
        preferred_currency: Set(input.preferred_currency),
        tags: Set(serde_json::json!(tags)),
        source_channel: Set(input.source_channel),
        owner_id: Set(owner),
        credit_limit_amount: Set(input.credit_limit.map(|m| m.amount)),
        credit_limit_currency: Set(input.credit_limit.map(|m| m.currency.code().to_owned())),
        payment_terms_days: Set(input.payment_terms_days),
        marketing_consent: Set(input.marketing_consent),
        marketing_consent_at: Set(input.marketing_consent.then_some(ctx.now)),
        attributes: Set(input.attributes.unwrap_or_else(|| serde_json::json!({}))),
        archived: Set(false),
        archived_at: Set(None),
        merged_into_id: Set(None),
        erased_at: Set(None),
        version: Set(1),
        created_at: Set(ctx.now),
        updated_at: Set(ctx.now),
    }
    .insert(txn)
    .await?;
    if !input.external_refs.is_empty() {
        external_ref::Entity::insert_many(input.external_refs.iter().map(|r| {
            external_ref::ActiveModel {
                customer_id: Set(id),
                channel: Set(r.channel.trim().to_owned()),
                external_id: Set(r.external_id.trim().to_owned()),
            }
        }))
        .exec(txn)
        .await?;
    }
    let view = queries::views(txn, &ctx.actor, cipher, vec![row])
        .await?
        .pop()
        .ok_or_else(|| CustomerError::NotFound(id.to_string()))?;
    events::record(txn, ctx, &events::CREATED, &view).await?;
    let mut logged = serde_json::to_value(&view).unwrap_or_default();
    logged["tax_id"] = serde_json::json!(view.tax_id.as_ref().map(|_| "set"));
    audit::record(
        txn,
        ctx,
        Entry::new("customer.create", "customer", id)
            .changes(audit::diff(&serde_json::Value::Null, &logged)),
    )
    .await?;
    Ok(view)
}
