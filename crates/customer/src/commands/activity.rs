//! The activity timeline: notes of past interactions and planned follow-ups.

use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::authz::{self, Action};
use ordercrm_kernel::version::unless_unchanged;
use ordercrm_kernel::{Ctx, FieldError, Result, id::new_id};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::parent_for_write;
use crate::dto::{CreateFollowUp, CreateNote, FollowUpView, NoteView, UpdateFollowUp};
use crate::entity::{customer, follow_up, note};
use crate::error::CustomerError;
use crate::events;
use crate::model::{FollowUpStatus, NoteKind};
use crate::queries;
use ordercrm_kernel::input::{Choice, Text};

pub async fn add_note(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    customer_id: Uuid,
    input: CreateNote,
) -> Result<NoteView> {
    parent_for_write(txn, &ctx.actor, customer_id).await?;
    let mut errors = Vec::new();
    let kind = input.kind.check(&mut errors, "kind");
    let body = input.body.check(&mut errors, "body");
    if input
        .occurred_at
        .is_some_and(|t| t > ctx.now + chrono::Duration::minutes(5))
    {
        errors.push(FieldError::new(
            "occurred_at",
            "in_future",
            "a note records something that happened",
        ));
    }
    if !errors.is_empty() {
        return Err(ordercrm_kernel::Error::validation(errors));
    }
    let row = note::ActiveModel {
        id: Set(new_id()),
        customer_id: Set(customer_id),
        kind: Set(kind.map_or("", NoteKind::as_str).to_owned()),
        body: Set(body),
        occurred_at: Set(input.occurred_at.unwrap_or(ctx.now)),
        author: Set(ctx.actor.principal()),
        created_at: Set(ctx.now),
    }
    .insert(txn)
    .await?;
    let view = NoteView::from(row);
    events::note(txn, ctx, &events::NOTE_CREATED, &view).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("customer.note_add", "customer", customer_id)
            .changes(serde_json::json!({"note_id": view.id, "kind": view.kind})),
    )
    .await?;
    Ok(view)
}

pub async fn add_follow_up(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    customer_id: Uuid,
    input: CreateFollowUp,
) -> Result<FollowUpView> {
    parent_for_write(txn, &ctx.actor, customer_id).await?;
    let mut errors = Vec::new();
    let title = input.title.check(&mut errors, "title");
    let details = Text::check(input.details, &mut errors, "details");
    let assignee = input.assignee_id.or(ctx.actor.user_id());
    if assignee.is_some() {
        authz::check_assignable(txn, &ctx.actor, "assignee_id", assignee, &mut errors).await?;
    } else {
        errors.push(FieldError::new(
            "assignee_id",
            "required",
            "an API key must name the assignee",
        ));
    }
    let (Some(assignee), true) = (assignee, errors.is_empty()) else {
        return Err(ordercrm_kernel::Error::validation(errors));
    };
    let row = follow_up::ActiveModel {
        id: Set(new_id()),
        customer_id: Set(customer_id),
        title: Set(title),
        details: Set(details),
        due_at: Set(input.due_at),
        assignee_id: Set(assignee),
        status: Set(FollowUpStatus::Open.as_str().to_owned()),
        closed_at: Set(None),
        version: Set(1),
        created_at: Set(ctx.now),
        updated_at: Set(ctx.now),
    }
    .insert(txn)
    .await?;
    let view = queries::follow_up_view(row, ctx.now);
    events::follow_up(txn, ctx, &events::FOLLOW_UP_CREATED, &view).await?;
    audit::record(
        txn,
        ctx,
        Entry::new("customer.follow_up_add", "customer", customer_id)
            .changes(serde_json::json!({"follow_up_id": view.id, "assignee_id": view.assignee_id, "due_at": view.due_at})),
    )
    .await?;
    Ok(view)
}

pub async fn update_follow_up(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
    patch: UpdateFollowUp,
) -> Result<FollowUpView> {
    ctx.actor.require(Action::CustomersWrite)?;
    let found = queries::find_follow_up(txn, &ctx.actor, id).await?;
    // Its customer may be one the assignee cannot see; erased is erased either way.
    if let Some(parent) = customer::Entity::find_by_id(found.customer_id)
        .one(txn)
        .await?
    {
        super::refuse_erased(&parent)?;
    }
    let changed = unless_unchanged(txn, async |txn| {
        let current = ordercrm_kernel::version::claim(
            txn,
            follow_up::Entity::update_many()
                .col_expr(follow_up::COLUMN.updated_at, Expr::value(ctx.now))
                .filter(follow_up::COLUMN.id.eq(id)),
            follow_up::Entity::find_by_id(id),
            follow_up::Column::Version,
            if_match,
            |_| CustomerError::NotFound(format!("follow-ups/{id}")).into(),
        )
        .await?;
        let mut errors = Vec::new();
        let title = patch.title.as_ref().map(|t| t.check(&mut errors, "title"));
        let details = patch
            .details
            .clone()
            .map(|d| Text::check(d, &mut errors, "details"));
        if let Some(a) = patch.assignee_id {
            authz::check_assignable(txn, &ctx.actor, "assignee_id", Some(a), &mut errors).await?;
        }
        let status = Choice::check_opt(patch.status.as_ref(), &mut errors, "status");
        if !errors.is_empty() {
            return Err(ordercrm_kernel::Error::validation(errors));
        }
        let closed_at = match status {
            Some(FollowUpStatus::Open) => Set(None),
            Some(s) if s.as_str() != current.status => Set(Some(ctx.now)),
            _ => NotSet,
        };
        let row = follow_up::ActiveModel {
            id: Set(id),
            title: title.map_or(NotSet, Set),
            details: details.map_or(NotSet, Set),
            due_at: patch.due_at.map_or(NotSet, Set),
            assignee_id: patch.assignee_id.map_or(NotSet, Set),
            status: status.map_or(NotSet, |s| Set(s.as_str().to_owned())),
            closed_at,
            updated_at: Set(ctx.now),
            ..Default::default()
        };
        follow_up::Entity::update_many()
            .set(row)
            .filter(follow_up::COLUMN.id.eq(id))
            .exec(txn)
            .await?;
        let updated = follow_up::Entity::find_by_id(id)
            .one(txn)
            .await?
            .ok_or_else(|| CustomerError::NotFound(id.to_string()))?;
        Ok((
            queries::follow_up_view(current.clone(), ctx.now),
            queries::follow_up_view(updated, ctx.now),
        ))
    })
    .await?;
    let Some((before, view)) = changed else {
        return queries::find_follow_up(txn, &ctx.actor, id)
            .await
            .map(|f| queries::follow_up_view(f, ctx.now));
    };
    events::follow_up(txn, ctx, &events::FOLLOW_UP_UPDATED, &view).await?;
    let before = serde_json::to_value(&before).unwrap_or_default();
    audit::record(
        txn,
        ctx,
        Entry::new("customer.follow_up_update", "follow_up", id).changes(audit::diff(
            &before,
            &serde_json::to_value(&view).unwrap_or_default(),
        )),
    )
    .await?;
    Ok(view)
}

impl From<note::Model> for NoteView {
    fn from(m: note::Model) -> Self {
        Self {
            id: m.id,
            customer_id: m.customer_id,
            kind: m.kind,
            body: m.body,
            occurred_at: m.occurred_at,
            author: m.author,
            created_at: m.created_at,
        }
    }
}
