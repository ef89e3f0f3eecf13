//! Reads. Every finder starts from `visible`, so no query can forget that a sales
//! rep sees only their own customers and a manager their team's.

use chrono::{DateTime, Utc};
use ordercrm_kernel::authz::{Action, Actor, Visibility};
use ordercrm_kernel::crypto::{FieldCipher, mask};
use ordercrm_kernel::pagination::{PageRequest, Seek};
use ordercrm_kernel::{Currency, Money, Page, Result};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, EntityTrait, Order, QueryFilter,
    QueryOrder, QuerySelect, Select,
};
use uuid::Uuid;

use crate::dto::{CustomerSort, CustomerView, ExternalRef, ListCustomers};
use crate::entity::{customer, external_ref};
use crate::error::CustomerError;
use crate::model::FollowUpStatusFilter;
use ordercrm_kernel::input::Text;

/// Customers `actor` may see.
pub(crate) fn visible(actor: &Actor) -> Select<customer::Entity> {
    customer::Entity::find().filter(actor.visibility().condition(customer::Column::OwnerId))
}

pub(crate) async fn find_visible(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> Result<customer::Model> {
    visible(actor)
        .filter(customer::COLUMN.id.eq(id))
        .one(conn)
        .await?
        .ok_or_else(|| CustomerError::NotFound(id.to_string()).into())
}

pub async fn get(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    cipher: &FieldCipher,
    id: Uuid,
) -> Result<CustomerView> {
    actor.require(Action::CustomersRead)?;
    let row = find_visible(conn, actor, id).await?;
    let mut views = views(conn, actor, cipher, vec![row]).await?;
    views
        .pop()
        .ok_or_else(|| CustomerError::NotFound(id.to_string()).into())
}

pub async fn list(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    cipher: &FieldCipher,
    query: ListCustomers,
) -> Result<Page<CustomerView>> {
    actor.require(Action::CustomersRead)?;
    let sort = query.sort.unwrap_or_default();
    let page = PageRequest::new(query.limit, query.cursor.as_deref(), sort.as_str())?;
    let c = customer::COLUMN;
    let mut select = visible(actor).filter(c.archived.eq(query.archived.unwrap_or(false)));
    if let Some(q) = Text::param(query.q.as_ref(), "q")? {
        select = select.filter(search(conn.get_database_backend(), q));
    }
    if let Some(tag) = Text::param(query.tag.as_ref(), "tag")? {
        select = select.filter(has_tag(conn.get_database_backend(), tag));
    }
    if let Some(owner) = query.owner_id {
        select = select.filter(c.owner_id.eq(owner));
    }
    if let Some(kind) = query.kind {
        select = select.filter(c.kind.eq(kind.as_str()));
    }
    if let Some(industry) = Text::param(query.industry.as_ref(), "industry")? {
        select = select.filter(c.industry.eq(industry));
    }
    if let Some(after) = query.created_after {
        select = select.filter(c.created_at.gte(after));
    }
    if let Some(before) = query.created_before {
        select = select.filter(c.created_at.lt(before));
    }
    if let Some(tier) = Text::param(query.tier.as_ref(), "tier")? {
        select = select.filter(c.tier.eq(tier));
    }
    let seek = sort.seek();
    let rows = seek.select(select, &page)?.all(conn).await?;
    let data = views(conn, actor, cipher, rows.clone()).await?;
    Ok(seek.page_of(&rows, &page, data))
}

impl CustomerSort {
    fn seek(self) -> Seek<customer::Entity> {
        use customer::Column::{CreatedAt, Id, Name};
        match self {
            CustomerSort::CreatedAtDesc => Seek::by(Order::Desc, [CreatedAt, Id]),
            CustomerSort::CreatedAt => Seek::by(Order::Asc, [CreatedAt, Id]),
            CustomerSort::Name => Seek::by(Order::Asc, [Name, Id]),
            CustomerSort::NameDesc => Seek::by(Order::Desc, [Name, Id]),
        }
    }
}

fn search(backend: DatabaseBackend, q: &str) -> sea_orm::sea_query::SimpleExpr {
    ordercrm_kernel::text::search_text_contains(backend, "customers", q)
}

fn has_tag(backend: DatabaseBackend, tag: &str) -> sea_orm::sea_query::SimpleExpr {
    let tag = tag.trim().to_owned();
    match backend {
        DatabaseBackend::Postgres => {
            Expr::cust_with_values("tags @> $1::jsonb", [serde_json::json!([tag]).to_string()])
        }
        _ => Expr::cust_with_values(
            "EXISTS (SELECT 1 FROM json_each(customers.tags) WHERE json_each.value = ?)",
            [tag],
        ),
    }
}

/// Rows as the API shows them to `actor`: external refs attached (one query for all),
/// the tax id decrypted and, unless the actor may see it, masked.
pub(crate) async fn views(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    cipher: &FieldCipher,
    rows: Vec<customer::Model>,
) -> Result<Vec<CustomerView>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let refs = if ids.is_empty() {
        Vec::new()
    } else {
        external_ref::Entity::find()
            .filter(external_ref::COLUMN.customer_id.is_in(ids.iter().copied()))
            .order_by(external_ref::Column::Channel, Order::Asc)
            .all(conn)
            .await?
    };
    let mut statistics = crate::statistics::of(conn, &ids).await?;
    let full = actor.may(Action::CustomersReadSensitive);
    rows.into_iter()
        .map(|r| {
            let tax_id = match &r.tax_id_encrypted {
                Some(sealed) => {
                    let plain = cipher.decrypt(sealed)?;
                    Some(if full { plain } else { mask(&plain) })
                }
                None => None,
            };
            let external_refs = refs
                .iter()
                .filter(|x| x.customer_id == r.id)
                .map(|x| ExternalRef::new(x.channel.clone(), x.external_id.clone()))
                .collect();
            let statistics = statistics.remove(&r.id);
            Ok(view(r, tax_id, external_refs, statistics))
        })
        .collect()
}

fn view(
    r: customer::Model,
    tax_id: Option<String>,
    external_refs: Vec<ExternalRef>,
    statistics: Option<crate::dto::CustomerStatistics>,
) -> CustomerView {
    let credit_limit = match (
        r.credit_limit_amount,
        r.credit_limit_currency
            .as_deref()
            .map(str::parse::<Currency>),
    ) {
        (Some(amount), Some(Ok(currency))) => Some(Money::new(amount, currency)),
        _ => None,
    };
    CustomerView {
        id: r.id,
        number: r.number,
        kind: r.kind,
        name: r.name,
        email: r.email,
        phone: r.phone,
        legal_name: r.legal_name,
        industry: r.industry,
        size_band: r.size_band,
        tax_id,
        birthday: r.birthday,
        preferred_language: r.preferred_language,
        preferred_currency: r.preferred_currency,
        tags: serde_json::from_value(r.tags).unwrap_or_default(),
        source_channel: r.source_channel,
        owner_id: r.owner_id,
        credit_limit,
        payment_terms_days: r.payment_terms_days,
        marketing_consent: r.marketing_consent,
        marketing_consent_at: r.marketing_consent_at,
        attributes: r.attributes,
        external_refs,
        archived: r.archived,
        archived_at: r.archived_at,
        merged_into_id: r.merged_into_id,
        erased_at: r.erased_at,
        tier: r.tier,
        tier_since: r.tier_since,
        statistics,
        version: r.version,
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

/// Customers sharing this one's normalised email or phone, among those `actor` sees.
pub async fn possible_duplicates(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    cipher: &FieldCipher,
    id: Uuid,
) -> Result<Vec<CustomerView>> {
    actor.require(Action::CustomersRead)?;
    let me = find_visible(conn, actor, id).await?;
    let mut any = sea_orm::Condition::any();
    if let Some(e) = &me.email_normalized {
        any = any.add(customer::COLUMN.email_normalized.eq(e.clone()));
    }
    if let Some(p) = &me.phone_normalized {
        any = any.add(customer::COLUMN.phone_normalized.eq(p.clone()));
    }
    if me.email_normalized.is_none() && me.phone_normalized.is_none() {
        return Ok(Vec::new());
    }
    let rows = visible(actor)
        .filter(any)
        .filter(customer::COLUMN.id.ne(id))
        .order_by(customer::Column::CreatedAt, Order::Asc)
        .limit(50)
        .all(conn)
        .await?;
    views(conn, actor, cipher, rows).await
}

/// A visible customer's contacts, primary first.
pub async fn contacts(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    customer_id: Uuid,
) -> Result<Page<crate::dto::ContactView>> {
    use crate::entity::contact;
    actor.require(Action::CustomersRead)?;
    find_visible(conn, actor, customer_id).await?;
    let rows = contact::Entity::find()
        .filter(contact::COLUMN.customer_id.eq(customer_id))
        .order_by(contact::Column::IsPrimary, Order::Desc)
        .order_by(contact::Column::CreatedAt, Order::Asc)
        .all(conn)
        .await?;
    Ok(Page {
        data: rows.into_iter().map(Into::into).collect(),
        next_cursor: None,
        has_more: false,
    })
}

/// A visible customer's addresses, defaults first.
pub async fn addresses(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    customer_id: Uuid,
) -> Result<Page<crate::dto::AddressView>> {
    use crate::entity::address;
    actor.require(Action::CustomersRead)?;
    find_visible(conn, actor, customer_id).await?;
    let rows = address::Entity::find()
        .filter(address::COLUMN.customer_id.eq(customer_id))
        .order_by(address::Column::Kind, Order::Asc)
        .order_by(address::Column::IsDefault, Order::Desc)
        .order_by(address::Column::CreatedAt, Order::Asc)
        .all(conn)
        .await?;
    Ok(Page {
        data: rows.into_iter().map(Into::into).collect(),
        next_cursor: None,
        has_more: false,
    })
}

/// A visible customer's notes, newest first.
pub async fn notes(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    customer_id: Uuid,
    query: crate::dto::ListNotes,
) -> Result<Page<crate::dto::NoteView>> {
    use crate::entity::note;
    actor.require(Action::CustomersRead)?;
    find_visible(conn, actor, customer_id).await?;
    let page = PageRequest::new(query.limit, query.cursor.as_deref(), "-occurred_at")?;
    let mut select = note::Entity::find().filter(note::COLUMN.customer_id.eq(customer_id));
    if let Some(kind) = query.kind {
        select = select.filter(note::COLUMN.kind.eq(kind.as_str()));
    }
    let seek = Seek::newest_first(note::Column::OccurredAt, note::Column::Id);
    let rows = seek.select(select, &page)?.all(conn).await?;
    Ok(seek.page(rows, &page, Into::into))
}

pub(crate) fn follow_up_view(
    m: crate::entity::follow_up::Model,
    now: DateTime<Utc>,
) -> crate::dto::FollowUpView {
    crate::dto::FollowUpView {
        overdue: m.status == "open" && m.due_at < now,
        id: m.id,
        customer_id: m.customer_id,
        title: m.title,
        details: m.details,
        due_at: m.due_at,
        assignee_id: m.assignee_id,
        status: m.status,
        closed_at: m.closed_at,
        version: m.version,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

/// Follow-ups the actor may see: those on visible customers, and their own.
fn visible_follow_ups(actor: &Actor) -> Select<crate::entity::follow_up::Entity> {
    use crate::entity::follow_up;
    let select = follow_up::Entity::find();
    match actor.visibility() {
        Visibility::All => select,
        Visibility::OwnedBy(ids) => {
            let customers = sea_orm::sea_query::Query::select()
                .column(customer::Column::Id)
                .from(customer::Entity)
                .and_where(Expr::col(customer::Column::OwnerId).is_in(ids.clone()))
                .to_owned();
            select.filter(
                sea_orm::Condition::any()
                    .add(follow_up::COLUMN.assignee_id.is_in(ids))
                    .add(follow_up::Column::CustomerId.in_subquery(customers)),
            )
        }
        Visibility::Nothing => select.filter(Expr::value(false)),
    }
}

pub(crate) async fn find_follow_up(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> Result<crate::entity::follow_up::Model> {
    use crate::entity::follow_up;
    visible_follow_ups(actor)
        .filter(follow_up::COLUMN.id.eq(id))
        .one(conn)
        .await?
        .ok_or_else(|| CustomerError::NotFound(format!("follow-up {id}")).into())
}

/// A to-do list: `assignee=me&due_before=…` is a rep's day.
pub async fn follow_ups(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    now: DateTime<Utc>,
    query: crate::dto::ListFollowUps,
) -> Result<Page<crate::dto::FollowUpView>> {
    use crate::entity::follow_up;
    actor.require(Action::CustomersRead)?;
    let page = PageRequest::new(query.limit, query.cursor.as_deref(), "due_at")?;
    let mut select = visible_follow_ups(actor);
    match query.assignee.as_deref() {
        None => {}
        Some("me") => {
            let me = actor.user_id().ok_or_else(|| {
                ordercrm_kernel::Error::invalid_field(
                    "assignee",
                    "invalid_value",
                    "`me` needs a signed-in user",
                )
            })?;
            select = select.filter(follow_up::COLUMN.assignee_id.eq(me));
        }
        Some(id) => {
            let id: Uuid = id.parse().map_err(|_| {
                ordercrm_kernel::Error::invalid_field(
                    "assignee",
                    "invalid_value",
                    "must be `me` or a user id",
                )
            })?;
            select = select.filter(follow_up::COLUMN.assignee_id.eq(id));
        }
    }
    match query.status.unwrap_or_default() {
        FollowUpStatusFilter::All => {}
        s => select = select.filter(follow_up::COLUMN.status.eq(s.as_str())),
    }
    if let Some(c) = query.customer_id {
        select = select.filter(follow_up::COLUMN.customer_id.eq(c));
    }
    if let Some(t) = query.due_before {
        select = select.filter(follow_up::COLUMN.due_at.lt(t));
    }
    if let Some(t) = query.due_after {
        select = select.filter(follow_up::COLUMN.due_at.gte(t));
    }
    let seek = Seek::by(
        Order::Asc,
        [follow_up::Column::DueAt, follow_up::Column::Id],
    );
    let rows = seek.select(select, &page)?.all(conn).await?;
    Ok(seek.page(rows, &page, |r| follow_up_view(r, now)))
}

/// Visible people whose birthday falls within the next `within_days` days (today
/// included), soonest first. February 29th is celebrated on the 28th in other years.
pub async fn birthdays(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    today: chrono::NaiveDate,
    query: crate::dto::ListBirthdays,
) -> Result<Page<crate::dto::BirthdayView>> {
    use chrono::Datelike;
    actor.require(Action::CustomersRead)?;
    let within = query.within_days.unwrap_or(7);
    if within > 366 {
        return Err(ordercrm_kernel::Error::invalid_field(
            "within_days",
            "range",
            "must be between 0 and 366",
        ));
    }
    let page = PageRequest::new(query.limit, query.cursor.as_deref(), "days_until")?;
    let md = |d: chrono::NaiveDate| i64::from(d.month() * 100 + d.day());
    let last = today + chrono::Duration::days(i64::from(within));
    let start = md(today);
    let mut end = md(last);
    // A 29 February birthday falls on the 28th in other years.
    if end == 228 && !last.leap_year() {
        end = 229;
    }
    // The birthday's month and day as MMDD, in SQL, so the database pages through
    // the calendar from today on and nothing is read into memory beyond a page.
    let month_day = match conn.get_database_backend() {
        DatabaseBackend::Postgres => {
            "CAST(EXTRACT(MONTH FROM customers.birthday) * 100 + EXTRACT(DAY FROM customers.birthday) AS BIGINT)"
        }
        _ => "CAST(strftime('%m%d', customers.birthday) AS INTEGER)",
    };
    // Birthdays still to come this year first (0), then those in the next (1).
    let wrapped = format!("(CASE WHEN {month_day} >= {start} THEN 0 ELSE 1 END)");
    let in_window = if within >= 365 {
        Condition::all()
    } else if end >= start {
        Condition::all()
            .add(Expr::cust(month_day).gte(start))
            .add(Expr::cust(month_day).lte(end))
    } else {
        Condition::any()
            .add(Expr::cust(month_day).gte(start))
            .add(Expr::cust(month_day).lte(end))
    };
    let mut select = visible(actor)
        .filter(customer::COLUMN.archived.eq(false))
        .filter(customer::COLUMN.kind.eq("person"))
        .filter(customer::COLUMN.birthday.is_not_null())
        .filter(in_window);
    if let Some(after) = &page.after {
        let (w, m): (i64, i64) = (after.key_at(0)?, after.key_at(1)?);
        let (name, id): (String, Uuid) = (after.key_at(2)?, after.key_at(3)?);
        let w_eq = Expr::cust(wrapped.clone()).eq(w);
        let m_eq = Expr::cust(month_day).eq(m);
        select = select.filter(
            Condition::any()
                .add(Expr::cust(wrapped.clone()).gt(w))
                .add(
                    Condition::all()
                        .add(w_eq.clone())
                        .add(Expr::cust(month_day).gt(m)),
                )
                .add(
                    Condition::all()
                        .add(w_eq.clone())
                        .add(m_eq.clone())
                        .add(customer::COLUMN.name.gt(name.clone())),
                )
                .add(
                    Condition::all()
                        .add(w_eq)
                        .add(m_eq)
                        .add(customer::COLUMN.name.eq(name))
                        .add(customer::COLUMN.id.gt(id)),
                ),
        );
    }
    let rows = select
        .order_by(Expr::cust(wrapped), Order::Asc)
        .order_by(Expr::cust(month_day), Order::Asc)
        .order_by(customer::Column::Name, Order::Asc)
        .order_by(customer::Column::Id, Order::Asc)
        .limit(page.fetch_limit())
        .all(conn)
        .await?;
    let next = |b: chrono::NaiveDate| {
        let on = |year: i32| {
            chrono::NaiveDate::from_ymd_opt(year, b.month(), b.day())
                .or_else(|| chrono::NaiveDate::from_ymd_opt(year, 2, 28))
        };
        on(today.year())
            .filter(|d| *d >= today)
            .or_else(|| on(today.year() + 1))
    };
    let key = |r: &customer::Model| {
        let m = r.birthday.map_or(0, md);
        vec![
            serde_json::json!(i64::from(m < start)),
            serde_json::json!(m),
            serde_json::json!(r.name),
            serde_json::json!(r.id),
        ]
    };
    let views = rows
        .iter()
        .map(|r| {
            let birthday = r.birthday.unwrap_or(today);
            let next_birthday = next(birthday).unwrap_or(today);
            crate::dto::BirthdayView {
                customer_id: r.id,
                name: r.name.clone(),
                birthday,
                next_birthday,
                days_until: u32::try_from((next_birthday - today).num_days()).unwrap_or(0),
                owner_id: r.owner_id,
            }
        })
        .collect();
    Ok(Page::from_batch(&rows, &page, key, views))
}

/// What an order needs to know of its customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderingCustomer {
    pub id: Uuid,
    pub name: String,
    pub owner_id: Option<Uuid>,
    pub archived: bool,
    pub erased: bool,
    /// The customer it was merged into (it is archived then).
    pub merged_into: Option<Uuid>,
    pub payment_terms_days: Option<i32>,
    pub credit_limit: Option<Money>,
}

/// The customer an order names, if `actor` may see it (orders follow customer
/// visibility); no `CustomersRead` needed: taking an order for a customer one
/// sees is part of ordering. `None`: no such customer for this caller.
pub async fn ordering_customer(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> Result<Option<OrderingCustomer>> {
    let Some(row) = visible(actor)
        .filter(customer::COLUMN.id.eq(id))
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    let credit_limit = row
        .credit_limit_amount
        .zip(row.credit_limit_currency.as_deref())
        .and_then(|(amount, code)| code.parse::<Currency>().ok().map(|c| Money::new(amount, c)));
    Ok(Some(OrderingCustomer {
        id: row.id,
        name: row.name,
        owner_id: row.owner_id,
        archived: row.archived,
        erased: row.erased_at.is_some(),
        merged_into: row.merged_into_id,
        payment_terms_days: row.payment_terms_days,
        credit_limit,
    }))
}
