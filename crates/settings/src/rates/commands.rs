//! Publishing and withdrawing rates.

use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::authz::Action;
use ordercrm_kernel::error::problems;
use ordercrm_kernel::{Ctx, Error, FieldError, Result, id::new_id};
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

use super::dto::{CreateExchangeRate, ExchangeRateView};
use super::entity::{self, COLUMN, Entity};
use super::{events, queries};

#[tracing::instrument(skip_all)]
pub async fn create(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    input: CreateExchangeRate,
) -> Result<ExchangeRateView> {
    ctx.actor.require(Action::ExchangeRatesWrite)?;
    let mut errors = Vec::new();
    let from = input.from.check(&mut errors, "from");
    let to = input.to.check(&mut errors, "to");
    let rate = input.rate.check(&mut errors, "rate");
    if let (Some(f), Some(t)) = (from, to)
        && f == t
    {
        errors.push(FieldError::new(
            "to",
            "same_currency",
            "must differ from `from`: a currency converts to itself at 1",
        ));
    }
    let (Some(from), Some(to), Some(rate), true) = (from, to, rate, errors.is_empty()) else {
        return Err(Error::validation(errors));
    };
    // Concurrent publishers of one pair and day take turns, so the second finds
    // the first and names it.
    ordercrm_kernel::db::lock_for_check(
        txn,
        &format!("exchange_rate:{from}:{to}:{}", input.effective_on.0),
    )
    .await?;
    let existing = Entity::find()
        .filter(COLUMN.from_currency.eq(from.code()))
        .filter(COLUMN.to_currency.eq(to.code()))
        .filter(COLUMN.effective_on.eq(input.effective_on.0))
        .one(txn)
        .await?;
    if let Some(row) = existing {
        // Two concurrent publishers of one pair and day: the unique index stops the
        // second, and the API maps that to the same problem.
        return Err(Error::new(
            problems::ALREADY_EXISTS,
            format!(
                "a {from}→{to} rate effective on {} exists; delete it to publish another",
                input.effective_on.0
            ),
        )
        .with_extension(
            "existing",
            json!({"id": row.id, "href": format!("/v1/exchange-rates/{}", row.id)}),
        ));
    }
    let row = entity::ActiveModel {
        id: Set(new_id()),
        from_currency: Set(from.code().to_owned()),
        to_currency: Set(to.code().to_owned()),
        rate: Set(rate.to_string()),
        effective_on: Set(input.effective_on.0),
        created_at: Set(ctx.now),
    }
    .insert(txn)
    .await?;
    let view = queries::view(row);
    events::record(txn, ctx, &events::CREATED, &view).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("exchange_rate.create", "exchange_rate", view.id).changes(json!({
            "from": view.from, "to": view.to, "rate": view.rate, "effective_on": view.effective_on
        })),
    )
    .await?;
    Ok(view)
}

/// Withdraw a rate. What converted with it keeps its own copy of the rate.
#[tracing::instrument(skip(txn, ctx))]
pub async fn delete(txn: &DatabaseTransaction, ctx: &Ctx, id: Uuid) -> Result<()> {
    ctx.actor.require(Action::ExchangeRatesWrite)?;
    let row = queries::find(txn, id).await?;
    let gone = Entity::delete_by_id(id).exec(txn).await?;
    if gone.rows_affected == 0 {
        // Deleted by a concurrent request since we read it.
        return Err(Error::not_found("exchange rate", id));
    }
    let view = queries::view(row);
    events::record(txn, ctx, &events::DELETED, &view).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("exchange_rate.delete", "exchange_rate", id).changes(json!({
            "from": view.from, "to": view.to, "rate": view.rate, "effective_on": view.effective_on
        })),
    )
    .await?;
    Ok(())
}
