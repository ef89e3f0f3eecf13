//! Reads. Every finder starts from `visible`: an order is seen by whoever sees its
//! customer now (a rep their customers', a manager their team's), and the warehouse
//! sees approved orders only.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use ordercrm_kernel::authz::{Action, Actor, Role, Visibility};
use ordercrm_kernel::input::{At, Choice, CursorParam, Day, Limit, Text};
use ordercrm_kernel::pagination::{PageRequest, Seek};
use ordercrm_kernel::{Currency, Error, Money, Page, Result};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::dto::{
    Address, Milestones, OrderCustomer, OrderData, OrderLineView, OrderView, PrepaymentView, Review,
};
use crate::entity::{order, order_line, payment_share, prepayment};
use crate::error::OrderError;
use crate::model::{
    self, Channel, FulfillmentStatus, OrderStatus, PaymentMethod, PaymentStatus, PaymentTerms,
    VerdictKind,
};

/// Orders `actor` may see.
pub(crate) fn visible(actor: &Actor) -> Select<order::Entity> {
    let mut select = seen_by(actor);
    if matches!(actor, Actor::User(u) if u.role == Role::Warehouse) {
        select = select.filter(order::COLUMN.status.eq(OrderStatus::Approved.as_str()));
    }
    select
}

/// Orders whose dispatch notes and shipments `actor` may see: as [`visible`], except
/// that the warehouse sees every order approved at least once (put on hold since, or
/// cancelled after a partial shipment).
pub(crate) fn visible_for_fulfillment(actor: &Actor) -> Select<order::Entity> {
    let mut select = seen_by(actor);
    if matches!(actor, Actor::User(u) if u.role == Role::Warehouse) {
        select = select.filter(order::COLUMN.approved_at.is_not_null());
    }
    select
}

/// The ids of the orders whose fulfillment `actor` may see, as a subquery, when that
/// is not every order (`None`): lets a lookup by other keys skip the subquery for
/// callers that see everything.
pub(crate) fn fulfillment_restriction(
    actor: &Actor,
) -> Option<sea_orm::sea_query::SelectStatement> {
    use sea_orm::{QuerySelect, QueryTrait};
    let everything = actor.visibility() == Visibility::All
        && actor.channel().is_none()
        && !matches!(actor, Actor::User(u) if u.role == Role::Warehouse);
    (!everything).then(|| {
        visible_for_fulfillment(actor)
            .select_only()
            .column(order::Column::Id)
            .into_query()
    })
}

/// An order's row, whoever asks (the caller checked what it may see).
pub(crate) async fn order_row(conn: &impl ConnectionTrait, id: Uuid) -> Result<order::Model> {
    order::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| OrderError::NotFound(id.to_string()).into())
}

/// Orders of the customers `actor` sees, of its channel when it is a bound key.
fn seen_by(actor: &Actor) -> Select<order::Entity> {
    let mut select = order::Entity::find();
    match actor.visibility() {
        Visibility::All => {}
        Visibility::Nothing => select = select.filter(Expr::value(false)),
        Visibility::OwnedBy(owners) => {
            let mut customers = Query::select();
            customers
                .column(Alias::new("id"))
                .from(Alias::new("customers"))
                .and_where(Expr::col(Alias::new("owner_id")).is_in(owners));
            select = select.filter(Expr::col(order::Column::CustomerId).in_subquery(customers));
        }
    }
    if let Some(binding) = actor.channel() {
        select = select.filter(order::COLUMN.channel.eq(binding.channel.as_str()));
        if !binding.name.is_empty() {
            select = select.filter(order::COLUMN.channel_name.eq(binding.name.clone()));
        }
    }
    select
}

pub(crate) async fn find_visible(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> Result<order::Model> {
    visible(actor)
        .filter(order::COLUMN.id.eq(id))
        .one(conn)
        .await?
        .ok_or_else(|| OrderError::NotFound(id.to_string()).into())
}

pub(crate) async fn lines_of(
    conn: &impl ConnectionTrait,
    order_id: Uuid,
) -> Result<Vec<order_line::Model>> {
    Ok(order_line::Entity::find()
        .filter(order_line::COLUMN.order_id.eq(order_id))
        .order_by_asc(order_line::Column::LineNo)
        .all(conn)
        .await?)
}

/// An order's rows besides its own: lines and the payments for it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Parts {
    pub lines: Vec<order_line::Model>,
    pub prepayments: Vec<OrderPayment>,
}

/// A payment made for an order (its `order_id`), or one that paid its invoices,
/// and how much of it is on the order (held for it or applied to its invoices).
#[derive(Debug, Clone)]
pub(crate) struct OrderPayment {
    pub payment: prepayment::Model,
    pub applied: i64,
}

pub(crate) async fn parts_of(conn: &impl ConnectionTrait, order_id: Uuid) -> Result<Parts> {
    let mut all = parts_of_many(conn, vec![order_id]).await?;
    Ok(all.remove(&order_id).unwrap_or_default())
}

/// Lines and payments of many orders: four queries in all.
async fn parts_of_many(
    conn: &impl ConnectionTrait,
    ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, Parts>> {
    let mut parts: HashMap<Uuid, Parts> = HashMap::new();
    for l in order_line::Entity::find()
        .filter(order_line::COLUMN.order_id.is_in(ids.clone()))
        .order_by_asc(order_line::Column::LineNo)
        .all(conn)
        .await?
    {
        parts.entry(l.order_id).or_default().lines.push(l);
    }
    // What each payment put on these orders.
    let shares: Vec<(Uuid, Option<Uuid>, i64)> = payment_share::Entity::find()
        .select_only()
        .column(payment_share::Column::PaymentId)
        .column(payment_share::Column::OrderId)
        .column_as(Expr::cust("CAST(SUM(amount) AS BIGINT)"), "applied")
        .filter(payment_share::COLUMN.order_id.is_in(ids.clone()))
        .group_by(payment_share::Column::PaymentId)
        .group_by(payment_share::Column::OrderId)
        .into_tuple()
        .all(conn)
        .await?;
    let mut applied: HashMap<(Uuid, Uuid), i64> = HashMap::new();
    for (payment_id, order_id, amount) in shares {
        if let Some(order_id) = order_id {
            applied.insert((order_id, payment_id), amount);
        }
    }
    let paying: Vec<Uuid> = applied
        .iter()
        .filter(|(_, a)| **a != 0)
        .map(|((_, p), _)| *p)
        .collect();
    let payments = prepayment::Entity::find()
        .filter(
            sea_orm::Condition::any()
                .add(prepayment::COLUMN.order_id.is_in(ids.clone()))
                .add(prepayment::COLUMN.id.is_in(paying)),
        )
        .order_by_asc(prepayment::Column::CreatedAt)
        .order_by_asc(prepayment::Column::Id)
        .all(conn)
        .await?;
    for order_id in &ids {
        for p in &payments {
            let share = applied.get(&(*order_id, p.id)).copied().unwrap_or(0);
            if p.order_id == Some(*order_id) || share != 0 {
                parts
                    .entry(*order_id)
                    .or_default()
                    .prepayments
                    .push(OrderPayment {
                        payment: p.clone(),
                        applied: share,
                    });
            }
        }
    }
    Ok(parts)
}

/// The orders `ids` as every reader sees them, with their lines: three queries.
pub(crate) async fn orders_with_parts(
    conn: &impl ConnectionTrait,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<HashMap<Uuid, OrderData>> {
    let mut ids: Vec<Uuid> = ids.into_iter().collect();
    ids.sort();
    ids.dedup();
    let rows = order::Entity::find()
        .filter(order::COLUMN.id.is_in(ids.clone()))
        .all(conn)
        .await?;
    let mut parts = parts_of_many(conn, ids).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let own = parts.remove(&row.id).unwrap_or_default();
            (row.id, data(&row, &own))
        })
        .collect())
}

pub(crate) fn currency(code: &str) -> Currency {
    code.parse().unwrap_or_else(|_| {
        Currency::all()
            .first()
            .copied()
            .unwrap_or_else(|| unreachable!("the currency table is not empty"))
    })
}

/// Whether the order is on hold by its review (not by a person: that hold carries
/// a `status_reason`) only for reasons a manager may override: it held, nothing
/// rejected, and stock was not short.
pub(crate) fn overridable(row: &order::Model) -> bool {
    if row.status != OrderStatus::OnHold.as_str() || row.status_reason.is_some() {
        return false;
    }
    let Some(review) = row
        .review
        .clone()
        .and_then(|r| serde_json::from_value::<Review>(r).ok())
    else {
        return false;
    };
    review.outcome == OrderStatus::OnHold
        && review
            .verdicts
            .iter()
            .any(|v| v.verdict == VerdictKind::Hold)
        && !review
            .verdicts
            .iter()
            .any(|v| v.verdict == VerdictKind::Reject || v.code == "insufficient_stock")
}

/// Whether everything that ships has left: nothing is left to cancel or reject (a
/// return brings goods back).
pub(crate) fn shipped_out(lines: &[order_line::Model]) -> bool {
    crate::fulfillment::model::shipped_state(lines) == crate::fulfillment::model::Shipped::All
}

pub(crate) fn data(row: &order::Model, parts: &Parts) -> OrderData {
    let lines = &parts.lines;
    let c = currency(&row.currency);
    let m = |amount: i64| Money::new(amount, c);
    OrderData {
        id: row.id,
        number: row.number.clone(),
        status: OrderStatus::parse(&row.status).unwrap_or(OrderStatus::Draft),
        fulfillment_status: FulfillmentStatus::parse(&row.fulfillment_status)
            .unwrap_or(FulfillmentStatus::Unfulfilled),
        payment_status: PaymentStatus::parse(&row.payment_status).unwrap_or(PaymentStatus::Unpaid),
        channel: Channel::parse(&row.channel).unwrap_or(Channel::Manual),
        channel_name: row.channel_name.clone(),
        external_id: row.external_id.clone(),
        customer: OrderCustomer {
            id: row.customer_id,
            name: row.customer_name.clone(),
        },
        currency: c,
        lines: lines
            .iter()
            .map(|l| OrderLineView {
                line_no: l.line_no,
                product_id: l.product_id,
                sku: l.sku.clone(),
                name: l.name.clone(),
                unit: l.unit.clone(),
                quantity: l.quantity,
                unit_price: m(l.unit_price_amount),
                discount: m(l.discount_amount),
                order_discount_share: m(l.order_discount_share),
                tax_rate_bps: l.tax_rate_bps,
                tax: m(l.tax_amount),
                total: m(l.total_amount),
                warehouse_code: l.warehouse_code.clone(),
                warehouse_id: l.warehouse_id,
                shipped_quantity: l.shipped_quantity,
                delivered_quantity: l.delivered_quantity,
                returned_quantity: l.returned_quantity,
            })
            .collect(),
        subtotal: m(row.subtotal_amount),
        discount_total: m(row.discount_amount),
        order_discount: m(row.order_discount_amount),
        tax_total: m(row.tax_amount),
        shipping_fee: m(row.shipping_amount),
        grand_total: m(row.grand_total_amount),
        prepaid: m(row.prepaid_amount),
        paid: m(row.paid_amount),
        credited: m(row.credited_amount),
        // Only in the view of callers who may read payments (see `view`): events
        // reach readers of orders, and payments have events of their own.
        prepayments: Vec::new(),
        prices_include_tax: row.prices_include_tax,
        grand_total_base: row
            .grand_total_base_amount
            .zip(row.base_currency.as_deref())
            .map(|(a, code)| Money::new(a, currency(code))),
        base_rate: row.base_rate.clone(),
        shipping_address: address(row.shipping_address.as_ref()),
        billing_address: address(row.billing_address.as_ref()),
        requested_delivery_on: row.requested_delivery_on,
        payment_terms: PaymentTerms::parse(&row.payment_terms).unwrap_or(PaymentTerms::Prepaid),
        payment_terms_days: row.payment_terms_days,
        notes: row.notes.clone(),
        tags: serde_json::from_value(row.tags.clone()).unwrap_or_default(),
        metadata: serde_json::from_value::<BTreeMap<String, String>>(row.metadata.clone())
            .unwrap_or_default(),
        review: row
            .review
            .clone()
            .and_then(|r| serde_json::from_value(r).ok()),
        status_reason: row.status_reason.clone(),
        reservation_id: row.reservation_id,
        replaces_return_id: row.replaces_return_id,
        submitted_at: row.submitted_at,
        milestones: Milestones {
            received_at: row.created_at,
            approved_at: row.approved_at,
            first_shipped_at: row.first_shipped_at,
            delivered_at: row.delivered_at,
            completed_at: row.completed_at,
        },
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

fn address(value: Option<&serde_json::Value>) -> Option<Address> {
    value.and_then(|v| serde_json::from_value(v.clone()).ok())
}

/// The order as `actor` gets it: with the actions it may take.
pub(crate) fn view(
    actor: &Actor,
    row: &order::Model,
    parts: &Parts,
    today: NaiveDate,
) -> OrderView {
    let mut order = data(row, parts);
    // The payments themselves (references, methods) are for those who read
    // payments (not keys bound to carriers), and for the channel the order came
    // from (the payments made for this order: not those of the customer's that
    // paid its invoices, which the channel does not see); everyone sees `paid`.
    let reads_money = actor.may(Action::PaymentsRead) && actor.carriers().is_none();
    if reads_money || actor.channel().is_some() {
        order.prepayments = parts
            .prepayments
            .iter()
            .filter(|p| actor.channel().is_none() || p.payment.order_id == Some(row.id))
            .map(
                |OrderPayment {
                     payment: p,
                     applied,
                 }| PrepaymentView {
                    id: p.id,
                    number: p.number.clone(),
                    amount: Money::new(p.amount, currency(&p.currency)),
                    applied: Money::new(*applied, currency(&p.currency)),
                    method: PaymentMethod::parse(&p.method).unwrap_or(PaymentMethod::Other),
                    provider: p.provider.clone(),
                    reference: p.reference.clone(),
                    received_on: p.received_on,
                },
            )
            .collect();
    }
    let delayed = crate::promise::is_delayed(row, &parts.lines, today);
    let allowed_actions = model::allowed_actions(
        actor,
        order.status,
        overridable(row),
        shipped_out(&parts.lines),
    );
    OrderView {
        order,
        delayed,
        allowed_actions,
    }
}

/// The order as `actor` sees it on `today` (what `delayed` is judged by).
pub async fn get(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    today: NaiveDate,
) -> Result<OrderView> {
    actor.require(Action::OrdersRead)?;
    let row = find_visible(conn, actor, id).await?;
    let parts = parts_of(conn, id).await?;
    Ok(view(actor, &row, &parts, today))
}

ordercrm_kernel::string_enum! {
    /// How an order list is ordered.
    #[derive(Default)]
    pub OrderSort {
        #[default]
        CreatedAtDesc = "-created_at",
        CreatedAt = "created_at",
        Number = "number",
        NumberDesc = "-number",
    }
}

impl OrderSort {
    fn seek(self) -> Seek<order::Entity> {
        use sea_orm::Order::{Asc, Desc};
        match self {
            OrderSort::CreatedAtDesc => {
                Seek::newest_first(order::Column::CreatedAt, order::Column::Id)
            }
            OrderSort::CreatedAt => Seek::by(Asc, [order::Column::CreatedAt, order::Column::Id]),
            OrderSort::Number => Seek::by(Asc, [order::Column::Number]),
            OrderSort::NumberDesc => Seek::by(Desc, [order::Column::Number]),
        }
    }
}

/// Query parameters of `GET /v1/orders`: newest first unless `sort` says otherwise.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListOrders {
    #[param(value_type = Option<OrderStatus>)]
    pub status: Option<Choice<OrderStatus>>,
    #[param(value_type = Option<FulfillmentStatus>)]
    pub fulfillment_status: Option<Choice<FulfillmentStatus>>,
    #[param(value_type = Option<PaymentStatus>)]
    pub payment_status: Option<Choice<PaymentStatus>>,
    #[param(value_type = Option<Channel>)]
    pub channel: Option<Choice<Channel>>,
    pub channel_name: Option<Text<50>>,
    pub customer_id: Option<Uuid>,
    /// Orders of the customers this user owns now.
    pub owner_id: Option<Uuid>,
    /// Orders created at or after this time.
    pub created_after: Option<At>,
    /// Orders created before this time.
    pub created_before: Option<At>,
    /// Requested delivery on or after this day.
    pub promised_from: Option<Day>,
    /// Requested delivery on or before this day.
    pub promised_until: Option<Day>,
    /// Only late orders (`true`: the requested day has passed, UTC, while approved or
    /// on hold and not fully shipped), or only the others (`false`).
    pub delayed: Option<bool>,
    /// Orders of the customers now in this tier (`standard`, or a tier of `customer_tiers`).
    pub customer_tier: Option<Text<50>>,
    /// Case-insensitive substring of the number, the external id or the customer's name.
    pub q: Option<Text<100>>,
    /// `-created_at` (default), `created_at`, `number` or `-number`.
    #[param(inline)]
    pub sort: Option<OrderSort>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<Limit>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<CursorParam>,
}

/// The checks [`list`] makes of its parameters, for a caller that must answer 400
/// before it starts streaming (the CSV export).
pub fn check_list(query: &ListOrders) -> Result<()> {
    let mut errors = Vec::new();
    Choice::check_opt(query.status.as_ref(), &mut errors, "status");
    Choice::check_opt(query.channel.as_ref(), &mut errors, "channel");
    Choice::check_opt(
        query.fulfillment_status.as_ref(),
        &mut errors,
        "fulfillment_status",
    );
    Choice::check_opt(query.payment_status.as_ref(), &mut errors, "payment_status");
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    Text::param(query.channel_name.as_ref(), "channel_name")?;
    Text::param(query.q.as_ref(), "q")?;
    Text::param(query.customer_tier.as_ref(), "customer_tier")?;
    let sort = query.sort.unwrap_or_default();
    PageRequest::new(query.limit, query.cursor.as_deref(), sort.as_str())?;
    Ok(())
}

/// A page of the orders `actor` sees, as of `today` (`delayed`).
pub async fn list(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    query: ListOrders,
    today: NaiveDate,
) -> Result<Page<OrderView>> {
    actor.require(Action::OrdersRead)?;
    let mut errors = Vec::new();
    let status = Choice::check_opt(query.status.as_ref(), &mut errors, "status");
    let channel = Choice::check_opt(query.channel.as_ref(), &mut errors, "channel");
    let fulfillment = Choice::check_opt(
        query.fulfillment_status.as_ref(),
        &mut errors,
        "fulfillment_status",
    );
    let payment = Choice::check_opt(query.payment_status.as_ref(), &mut errors, "payment_status");
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    let sort = query.sort.unwrap_or_default();
    let page = PageRequest::new(query.limit, query.cursor.as_deref(), sort.as_str())?;
    let mut select = visible(actor);
    if let Some(s) = status {
        select = select.filter(order::COLUMN.status.eq(s.as_str()));
    }
    if let Some(c) = channel {
        select = select.filter(order::COLUMN.channel.eq(c.as_str()));
    }
    if let Some(f) = fulfillment {
        select = select.filter(order::COLUMN.fulfillment_status.eq(f.as_str()));
    }
    if let Some(p) = payment {
        select = select.filter(order::COLUMN.payment_status.eq(p.as_str()));
    }
    if let Some(owner) = query.owner_id {
        let mut owned = Query::select();
        owned
            .column(Alias::new("id"))
            .from(Alias::new("customers"))
            .and_where(Expr::col(Alias::new("owner_id")).eq(owner));
        select = select.filter(Expr::col(order::Column::CustomerId).in_subquery(owned));
    }
    if let Some(name) = Text::param(query.channel_name.as_ref(), "channel_name")? {
        select = select.filter(order::COLUMN.channel_name.eq(name));
    }
    if let Some(c) = query.customer_id {
        select = select.filter(order::COLUMN.customer_id.eq(c));
    }
    if let Some(t) = query.created_after {
        select = select.filter(order::COLUMN.created_at.gte(t.0));
    }
    if let Some(t) = query.created_before {
        select = select.filter(order::COLUMN.created_at.lt(t.0));
    }
    if let Some(d) = query.promised_from {
        select = select.filter(order::COLUMN.requested_delivery_on.gte(d.0));
    }
    if let Some(d) = query.promised_until {
        select = select.filter(order::COLUMN.requested_delivery_on.lte(d.0));
    }
    match query.delayed {
        Some(true) => select = select.filter(crate::promise::delayed(today)),
        Some(false) => select = select.filter(crate::promise::delayed(today).not()),
        None => {}
    }
    if let Some(tier) = Text::param(query.customer_tier.as_ref(), "customer_tier")? {
        let mut customers = Query::select();
        customers
            .column(Alias::new("id"))
            .from(Alias::new("customers"))
            .and_where(Expr::col(Alias::new("tier")).eq(tier));
        select = select.filter(Expr::col(order::Column::CustomerId).in_subquery(customers));
    }
    if let Some(q) = Text::param(query.q.as_ref(), "q")? {
        select = select
            .filter(Expr::col(order::Column::SearchText).like(ordercrm_kernel::text::contains(q)));
    }
    let seek = sort.seek();
    let rows = seek.select(select, &page)?.all(conn).await?;
    let mut parts = parts_of_many(conn, rows.iter().map(|r| r.id).collect()).await?;
    Ok(seek.page(rows, &page, |row| {
        let own = parts.remove(&row.id).unwrap_or_default();
        view(actor, &row, &own, today)
    }))
}
