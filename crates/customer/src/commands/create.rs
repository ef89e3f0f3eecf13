use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::authz::{self, Action, Actor, Role};
use ordercrm_kernel::crypto::FieldCipher;
use ordercrm_kernel::{Ctx, Result, id::new_id, numbers};
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, DatabaseTransaction, EntityTrait};

use super::{check_duplicate, check_refs};
use crate::dto::{CreateCustomer, CustomerView};
use crate::entity::{customer, external_ref};
use crate::error::CustomerError;
use crate::model::CustomerKind;
use crate::{events, model, queries};
use ordercrm_kernel::input::{Attributes, Choice, Email, Phone, Text};

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
    let kind = input.kind.check(&mut errors, "kind");
    let name = input.name.check(&mut errors, "name");
    let email = Email::check(input.email, &mut errors, "email");
    let phone = Phone::check(input.phone, &mut errors, "phone");
    let legal_name = Text::check(input.legal_name, &mut errors, "legal_name");
    let industry = Text::check(input.industry, &mut errors, "industry");
    let size_band = Choice::check_opt(input.size_band.as_ref(), &mut errors, "size_band");
    let tax_id = Text::check(input.tax_id, &mut errors, "tax_id");
    let preferred_language =
        Text::check(input.preferred_language, &mut errors, "preferred_language");
    let preferred_currency = Choice::check_opt(
        input.preferred_currency.as_ref(),
        &mut errors,
        "preferred_currency",
    );
    let tags = input.tags.check(&mut errors, "tags");
    let source_channel = Text::check(input.source_channel, &mut errors, "source_channel");
    let credit_limit = input
        .credit_limit
        .map(|m| m.check(&mut errors, "credit_limit"));
    let payment_terms_days = input
        .payment_terms_days
        .map(|d| d.check_i32(&mut errors, "payment_terms_days"));
    Attributes::check(input.attributes.as_ref(), &mut errors);
    if input.birthday.is_some() && kind == Some(CustomerKind::Company) {
        errors.push(ordercrm_kernel::FieldError::new(
            "birthday",
            "not_applicable",
            "companies have no birthday",
        ));
    }
    // A rep's customers are theirs unless they say otherwise; an integration's are its
    // key's default owner's.
    let owner = input.owner_id.or(match &ctx.actor {
        Actor::User(u) if matches!(u.role, Role::Sales | Role::Manager) => Some(u.id),
        Actor::ApiKey(key) => key.default_owner,
        _ => None,
    });
    // The key's default owner, when it is what failed, is named as such: the caller
    // sent no owner_id.
    let owner_field = if input.owner_id.is_some() {
        "owner_id"
    } else {
        "default_owner_id"
    };
    authz::check_assignable(txn, &ctx.actor, owner_field, owner, &mut errors).await?;
    check_refs(txn, &ctx.actor, &input.external_refs, None, &mut errors).await?;
    let Some(kind) = kind.filter(|_| errors.is_empty()) else {
        return Err(ordercrm_kernel::Error::validation(errors));
    };
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

    let prefix =
        ordercrm_settings::queries::number_prefix(txn, "customer_number_prefix", DEFAULT_PREFIX)
            .await?;
    let number = numbers::format(&prefix, numbers::next(txn, NUMBERS).await?);
    let id = new_id();
    let row = customer::ActiveModel {
        id: Set(id),
        search_text: Set(model::search_text(
            &[
                Some(&name),
                Some(&number),
                email.as_deref(),
                phone.as_deref(),
                phone_normalized.as_deref(),
                legal_name.as_deref(),
            ],
            &tags,
        )),
        number: Set(number),
        kind: Set(kind.as_str().to_owned()),
        name: Set(name),
        email: Set(email),
        email_normalized: Set(email_normalized),
        phone: Set(phone),
        phone_normalized: Set(phone_normalized),
        legal_name: Set(legal_name),
        industry: Set(industry),
        size_band: Set(size_band.map(|b| b.as_str().to_owned())),
        tax_id_encrypted: Set(tax_id.as_deref().map(|t| cipher.encrypt(t)).transpose()?),
        birthday: Set(input.birthday.map(Into::into)),
        preferred_language: Set(preferred_language),
        preferred_currency: Set(preferred_currency.map(|c| c.code().to_owned())),
        tags: Set(serde_json::json!(tags)),
        source_channel: Set(source_channel),
        owner_id: Set(owner),
        credit_limit_amount: Set(credit_limit.map(|m| m.amount)),
        credit_limit_currency: Set(credit_limit.map(|m| m.currency.code().to_owned())),
        payment_terms_days: Set(payment_terms_days),
        marketing_consent: Set(input.marketing_consent),
        marketing_consent_at: Set(input.marketing_consent.then_some(ctx.now)),
        attributes: Set(Attributes::or_empty(input.attributes)),
        archived: Set(false),
        archived_at: Set(None),
        merged_into_id: Set(None),
        erased_at: Set(None),
        tier: Set(ordercrm_settings::model::TierRule::STANDARD.to_owned()),
        tier_since: Set(None),
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
    if let Some(fields) = logged.as_object_mut() {
        fields.insert(
            "tax_id".into(),
            serde_json::json!(view.tax_id.as_ref().map(|_| "set")),
        );
    }
    audit::record(
        txn,
        ctx,
        Entry::new("customer.create", "customer", id)
            .changes(audit::diff(&serde_json::Value::Null, &logged)),
    )
    .await?;
    Ok(view)
}
