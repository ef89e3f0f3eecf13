//! Reads.

use chrono::NaiveDate;
use ordercrm_kernel::authz::Action;
use ordercrm_kernel::input::Choice;
use ordercrm_kernel::pagination::{PageRequest, Seek};
use ordercrm_kernel::rate::Rate;
use ordercrm_kernel::{Actor, Currency, Error, FieldError, Page, Result};
use sea_orm::{ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::dto::{EffectiveRateQuery, ExchangeRateView, ListExchangeRates};
use super::entity::{self, COLUMN, Column, Entity};

pub(crate) fn view(row: entity::Model) -> ExchangeRateView {
    ExchangeRateView {
        id: row.id,
        // Written only from checked values; an unreadable row would be a bug.
        from: row.from_currency.parse().unwrap_or_else(|_| fallback()),
        to: row.to_currency.parse().unwrap_or_else(|_| fallback()),
        rate: Rate::parse(&row.rate).unwrap_or(Rate::ONE),
        effective_on: row.effective_on,
        created_at: row.created_at,
    }
}

fn fallback() -> Currency {
    Currency::all()
        .first()
        .copied()
        .unwrap_or_else(|| unreachable!())
}

pub async fn get(conn: &impl ConnectionTrait, actor: &Actor, id: Uuid) -> Result<ExchangeRateView> {
    actor.require(Action::ExchangeRatesRead)?;
    find(conn, id).await.map(view)
}

pub(crate) async fn find(conn: &impl ConnectionTrait, id: Uuid) -> Result<entity::Model> {
    Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| Error::not_found("exchange rate", id))
}

pub async fn list(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    query: ListExchangeRates,
) -> Result<Page<ExchangeRateView>> {
    actor.require(Action::ExchangeRatesRead)?;
    let mut errors = Vec::new();
    let from = Choice::check_opt(query.from.as_ref(), &mut errors, "from");
    let to = Choice::check_opt(query.to.as_ref(), &mut errors, "to");
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    let page = PageRequest::new(query.limit, query.cursor.as_deref(), "-effective_on")?;
    let mut select = Entity::find();
    if let Some(from) = from {
        select = select.filter(COLUMN.from_currency.eq(from.code()));
    }
    if let Some(to) = to {
        select = select.filter(COLUMN.to_currency.eq(to.code()));
    }
    if let Some(on) = query.effective_from {
        select = select.filter(COLUMN.effective_on.gte(on.0));
    }
    if let Some(on) = query.effective_until {
        select = select.filter(COLUMN.effective_on.lte(on.0));
    }
    let seek = Seek::new([
        (Column::EffectiveOn, Order::Desc),
        (Column::Id, Order::Desc),
    ]);
    let rows = seek.select(select, &page)?.all(conn).await?;
    Ok(seek.page(rows, &page, view))
}

/// The rate in force for `from` → `to` on `on`: the one with the latest effective
/// date not after it. 404 when none is; 400 for a currency to itself.
pub async fn effective(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    query: EffectiveRateQuery,
    today: NaiveDate,
) -> Result<ExchangeRateView> {
    actor.require(Action::ExchangeRatesRead)?;
    let mut errors = Vec::new();
    let from = query.from.check(&mut errors, "from");
    let to = query.to.check(&mut errors, "to");
    if let (Some(f), Some(t)) = (from, to)
        && f == t
    {
        errors.push(FieldError::new(
            "to",
            "same_currency",
            "differs from `from`: a currency converts to itself at 1",
        ));
    }
    let (Some(from), Some(to), true) = (from, to, errors.is_empty()) else {
        return Err(Error::validation(errors));
    };
    let on = query.on.map_or(today, |d| d.0);
    in_force(conn, from, to, on)
        .await?
        .map(view)
        .ok_or_else(|| {
            Error::not_found(
                "exchange rate",
                format!("{from}→{to} effective on or before {on}"),
            )
        })
}

async fn in_force(
    conn: &impl ConnectionTrait,
    from: Currency,
    to: Currency,
    on: NaiveDate,
) -> Result<Option<entity::Model>> {
    Ok(Entity::find()
        .filter(COLUMN.from_currency.eq(from.code()))
        .filter(COLUMN.to_currency.eq(to.code()))
        .filter(COLUMN.effective_on.lte(on))
        .order_by_desc(Column::EffectiveOn)
        .one(conn)
        .await?)
}

/// For other domains (an order converting to the base currency): the rate in force
/// on `on`, 1 for a currency to itself, `None` when none is published.
pub async fn rate_on(
    conn: &impl ConnectionTrait,
    from: Currency,
    to: Currency,
    on: NaiveDate,
) -> Result<Option<Rate>> {
    if from == to {
        return Ok(Some(Rate::ONE));
    }
    Ok(in_force(conn, from, to, on)
        .await?
        .and_then(|row| Rate::parse(&row.rate)))
}
