//! Tracking in: what carriers report, late, repeated, out of order, sometimes as a
//! whole history without ids every time. Each event is kept once (its identity is
//! its content, and the provider's id when it has one); a shipment's status is what
//! its whole history says (`model::derive_status`), so it never depends on the
//! order events arrived in. A sign-off is one more event, `delivered`.
//!
//! Per shipment the row is taken first (then its order's, when a delivery changes
//! it), so two requests about one shipment run one after the other.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use ordercrm_kernel::audit::{self, Entry};
use ordercrm_kernel::authz::{Action, Actor};
use ordercrm_kernel::id::new_id;
use ordercrm_kernel::input::Text;
use ordercrm_kernel::{Ctx, Error, FieldError, Result};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{Condition, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::dto::{
    DeliverShipment, Proof, RecordTracking, ShipmentView, TrackingOutcome, TrackingResult,
    TrackingResults, TrackingUpdate,
};
use super::error::FulfillmentError;
use super::events;
use super::model::{MAX_TRACKING_EVENTS, ShipmentStatus, TrackingStatus, derive_status};
use super::queries;
use crate::entity::{shipment, tracking_event};
use crate::model::OrderStatus;

/// How far ahead of the server's clock a carrier's time may be.
const FUTURE_SKEW_HOURS: i64 = 24;
/// How old an event may be: a year covers any parcel's life and keeps the
/// milestones sane.
const PAST_DAYS: i64 = 366;

/// One event to record, checked.
#[derive(Debug, Clone)]
struct Reported {
    index: usize,
    carrier: String,
    tracking_number: String,
    provider_event_id: Option<String>,
    status: TrackingStatus,
    occurred_at: DateTime<Utc>,
    location: Option<String>,
    message: Option<String>,
    fingerprint: String,
}

/// The event's identity without a provider id: its carrier, number, time, status
/// and place. Times are normalised to UTC microseconds (what both engines keep).
fn fingerprint(
    carrier: &str,
    number: &str,
    at: DateTime<Utc>,
    status: TrackingStatus,
    location: Option<&str>,
) -> String {
    let canonical = json!([
        carrier,
        number,
        at.timestamp_micros(),
        status.as_str(),
        location.map(|l| l.to_lowercase())
    ]);
    let digest = Sha256::digest(canonical.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// `POST /v1/tracking-events`: every event checked first (one bad one refuses the
/// request and changes nothing), then recorded per shipment.
#[tracing::instrument(skip_all)]
pub async fn record(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    input: RecordTracking,
) -> Result<TrackingResults> {
    ctx.actor.require(Action::TrackingWrite)?;
    let mut errors = Vec::new();
    if !(1..=MAX_TRACKING_EVENTS).contains(&input.events.len()) {
        errors.push(FieldError::new(
            "events",
            "length",
            format!("must have 1 to {MAX_TRACKING_EVENTS} events"),
        ));
    }
    let latest = ctx.now + chrono::Duration::hours(FUTURE_SKEW_HOURS);
    let earliest = ctx.now - chrono::Duration::days(PAST_DAYS);
    let mut reported = Vec::with_capacity(input.events.len());
    for (index, e) in input.events.into_iter().enumerate() {
        let f = |name: &str| format!("events[{index}].{name}");
        let carrier = e.carrier.check(&mut errors, &f("carrier"));
        let tracking_number = e.tracking_number.check(&mut errors, &f("tracking_number"));
        let provider_event_id = Text::check(e.event_id, &mut errors, &f("event_id"));
        let status = e.status.check(&mut errors, &f("status"));
        let location = Text::check(e.location, &mut errors, &f("location"));
        let message = Text::check(e.message, &mut errors, &f("message"));
        if e.occurred_at.0 < earliest {
            errors.push(FieldError::new(
                f("occurred_at"),
                "range",
                format!("is more than {PAST_DAYS} days ago"),
            ));
        }
        if e.occurred_at.0 > latest {
            errors.push(FieldError::new(
                f("occurred_at"),
                "in_future",
                format!("is more than {FUTURE_SKEW_HOURS} hours ahead of the server's clock"),
            ));
        }
        if let (Some(carrier), Some(status)) = (carrier, status) {
            let occurred_at = e.occurred_at.0;
            reported.push(Reported {
                index,
                fingerprint: fingerprint(
                    &carrier,
                    &tracking_number,
                    occurred_at,
                    status,
                    location.as_deref(),
                ),
                carrier,
                tracking_number,
                provider_event_id,
                status,
                occurred_at,
                location,
                message,
            });
        }
    }
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }

    let count = reported.len();
    let targets = find_shipments(txn, &ctx.actor, &reported).await?;
    let mut results: Vec<TrackingResult> = (0..count)
        .map(|index| TrackingResult {
            index,
            result: TrackingOutcome::NotFound,
            shipment_id: None,
            shipment_status: None,
        })
        .collect();
    let mut per_shipment: BTreeMap<Uuid, Vec<Reported>> = BTreeMap::new();
    for r in reported {
        if let Some(id) = targets.get(&(r.carrier.clone(), r.tracking_number.clone())) {
            per_shipment.entry(*id).or_default().push(r);
        }
    }
    // Every shipment first, in id order, then the orders whose deliveries changed, in
    // id order: whatever else takes shipments and orders takes them in that order, so
    // two requests never wait for each other in a circle.
    let mut orders = std::collections::BTreeSet::new();
    for (id, items) in per_shipment {
        let Some(row) = take(txn, id, None, &[ShipmentStatus::Cancelled]).await? else {
            continue;
        };
        let applied = apply(txn, ctx, row, items, Source::Carrier).await?;
        orders.extend(applied.settle);
        for (index, outcome) in applied.outcomes {
            if let Some(r) = results.get_mut(index) {
                r.result = outcome;
                r.shipment_id = Some(id);
                r.shipment_status = Some(applied.shipment.status);
            }
        }
    }
    for order_id in orders {
        settle(txn, ctx, order_id).await?;
    }
    Ok(TrackingResults { results })
}

/// The shipment each (carrier, number) names: the most recent one not cancelled,
/// among those the caller may see.
async fn find_shipments(
    txn: &DatabaseTransaction,
    actor: &Actor,
    reported: &[Reported],
) -> Result<HashMap<(String, String), Uuid>> {
    let carriers: HashSet<&str> = reported.iter().map(|r| r.carrier.as_str()).collect();
    let numbers: HashSet<&str> = reported
        .iter()
        .map(|r| r.tracking_number.as_str())
        .collect();
    let mut select = shipment::Entity::find()
        .filter(shipment::COLUMN.carrier.is_in(carriers))
        .filter(shipment::COLUMN.tracking_number.is_in(numbers))
        .filter(
            shipment::COLUMN
                .status
                .ne(ShipmentStatus::Cancelled.as_str()),
        );
    if let Some(carriers) = actor.carriers() {
        select = select.filter(shipment::COLUMN.carrier.is_in(carriers.iter().cloned()));
    }
    if let Some(visible) = crate::queries::fulfillment_restriction(actor) {
        select = select.filter(Expr::col(shipment::Column::OrderId).in_subquery(visible));
    }
    let mut found: HashMap<(String, String), (DateTime<Utc>, Uuid)> = HashMap::new();
    for s in select.all(txn).await? {
        let key = (s.carrier, s.tracking_number);
        let newer = found
            .get(&key)
            .is_none_or(|(at, id)| (s.created_at, s.id) > (*at, *id));
        if newer {
            found.insert(key, (s.created_at, s.id));
        }
    }
    Ok(found.into_iter().map(|(k, (_, id))| (k, id)).collect())
}

/// Where an event came from.
#[derive(Debug, Clone)]
enum Source {
    Carrier,
    SignOff {
        signed_by: Option<String>,
        proof: Option<Proof>,
    },
}

impl Source {
    fn as_str(&self) -> &'static str {
        match self {
            Source::Carrier => "carrier",
            Source::SignOff { .. } => "sign_off",
        }
    }
}

struct Applied {
    outcomes: Vec<(usize, TrackingOutcome)>,
    shipment: ShipmentView,
    /// The order, when this changed what of it is delivered.
    settle: Option<Uuid>,
}

/// Take shipment `id`'s row for this transaction (its version unchanged until
/// something is recorded), unless it is in one of `not_in`, or at another version
/// than `if_match`. `None`: it is not (any more) in a state to take.
async fn take(
    txn: &DatabaseTransaction,
    id: Uuid,
    if_match: Option<i64>,
    not_in: &[ShipmentStatus],
) -> Result<Option<shipment::Model>> {
    let mut update = shipment::Entity::update_many()
        .col_expr(
            shipment::Column::Version,
            Expr::col(shipment::Column::Version),
        )
        .filter(shipment::COLUMN.id.eq(id))
        .filter(
            shipment::COLUMN
                .status
                .is_not_in(not_in.iter().map(|s| s.as_str())),
        );
    if let Some(version) = if_match {
        update = update.filter(shipment::COLUMN.version.eq(version));
    }
    if update.exec(txn).await?.rows_affected != 1 {
        return Ok(None);
    }
    Ok(shipment::Entity::find_by_id(id).one(txn).await?)
}

/// The order's fulfillment after deliveries changed. A completed order stays as it
/// was: what comes back after completion is a return's business.
async fn settle(txn: &DatabaseTransaction, ctx: &Ctx, order_id: Uuid) -> Result<()> {
    // Checked in the statement that takes the order: one completed meanwhile (by a
    // delivery racing this one) is left alone.
    let claimed = ordercrm_kernel::version::try_claim(
        txn,
        crate::entity::order::Entity::update_many()
            .col_expr(
                crate::entity::order::Column::UpdatedAt,
                Expr::value(ctx.now),
            )
            .filter(crate::entity::order::COLUMN.id.eq(order_id))
            .filter(
                crate::entity::order::COLUMN
                    .status
                    .ne(OrderStatus::Completed.as_str()),
            ),
        crate::entity::order::Column::Version,
        None,
    )
    .await?;
    match claimed {
        Some(claimed) => super::commands::settle_order(txn, ctx, claimed).await,
        None => Ok(()),
    }
}

/// Record `items` on shipment `id`: take its row, keep the new events, derive its
/// status from the whole history, write one `shipment.tracking_updated` per new
/// event (and `shipment.exception_reported` for exceptions), and when its delivery
/// changed, the order's. `None`: the shipment was cancelled meanwhile.
async fn apply(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    row: shipment::Model,
    items: Vec<Reported>,
    source: Source,
) -> Result<Applied> {
    let id = row.id;
    let history = tracking_event::Entity::find()
        .filter(tracking_event::COLUMN.shipment_id.eq(id))
        .order_by_asc(tracking_event::Column::OccurredAt)
        .all(txn)
        .await?;
    let mut seen: HashSet<String> = history.iter().map(|e| e.fingerprint.clone()).collect();
    let mut seen_ids: HashSet<String> = history
        .iter()
        .filter_map(|e| e.provider_event_id.clone())
        .collect();
    // Events another shipment with the same number (an older one) already holds.
    let fingerprints: Vec<String> = items
        .iter()
        .filter(|i| !seen.contains(&i.fingerprint))
        .map(|i| i.fingerprint.clone())
        .collect();
    let ids: Vec<String> = items
        .iter()
        .filter_map(|i| i.provider_event_id.clone())
        .filter(|p| !seen_ids.contains(p))
        .collect();
    if !fingerprints.is_empty() || !ids.is_empty() {
        for e in tracking_event::Entity::find()
            .filter(
                Condition::any()
                    .add(tracking_event::COLUMN.fingerprint.is_in(fingerprints))
                    .add(
                        Condition::all()
                            .add(tracking_event::COLUMN.carrier.eq(row.carrier.clone()))
                            .add(
                                tracking_event::COLUMN
                                    .tracking_number
                                    .eq(row.tracking_number.clone()),
                            )
                            .add(tracking_event::COLUMN.provider_event_id.is_in(ids)),
                    ),
            )
            .all(txn)
            .await?
        {
            seen.insert(e.fingerprint);
            if let Some(p) = e.provider_event_id {
                seen_ids.insert(p);
            }
        }
    }

    let mut latest = history.iter().map(|e| e.occurred_at).max();
    let mut outcomes = Vec::with_capacity(items.len());
    let mut fresh: Vec<tracking_event::Model> = Vec::new();
    for item in items {
        let repeated = seen.contains(&item.fingerprint)
            || item
                .provider_event_id
                .as_ref()
                .is_some_and(|p| seen_ids.contains(p));
        if repeated {
            outcomes.push((item.index, TrackingOutcome::Duplicate));
            continue;
        }
        seen.insert(item.fingerprint.clone());
        if let Some(p) = &item.provider_event_id {
            seen_ids.insert(p.clone());
        }
        let stale = latest.is_some_and(|at| item.occurred_at < at);
        latest = Ord::max(latest, Some(item.occurred_at));
        outcomes.push((
            item.index,
            if stale {
                TrackingOutcome::Stale
            } else {
                TrackingOutcome::Applied
            },
        ));
        fresh.push(tracking_event::Model {
            id: new_id(),
            shipment_id: id,
            carrier: item.carrier,
            tracking_number: item.tracking_number,
            provider_event_id: item.provider_event_id,
            fingerprint: item.fingerprint,
            status: item.status.as_str().to_owned(),
            occurred_at: item.occurred_at,
            location: item.location,
            message: item.message,
            source: source.as_str().to_owned(),
            recorded_by: ctx.actor.principal(),
            recorded_at: ctx.now,
        });
    }
    let before = ShipmentStatus::parse(&row.status).unwrap_or(ShipmentStatus::Pending);
    if fresh.is_empty() {
        let lines = queries::lines_of_shipment(txn, id).await?;
        let order_number = queries::order_number(txn, row.order_id).await?;
        return Ok(Applied {
            outcomes,
            shipment: queries::shipment_view(&row, &lines, &order_number),
            settle: None,
        });
    }
    tracking_event::Entity::insert_many(
        fresh
            .iter()
            .map(|e| tracking_event::ActiveModel::from(e.clone())),
    )
    .exec_without_returning(txn)
    .await?;

    // The status after each new event, for its own event; the last one stays.
    let mut all: Vec<(DateTime<Utc>, TrackingStatus, String)> = history
        .iter()
        .map(|e| {
            (
                e.occurred_at,
                TrackingStatus::parse(&e.status).unwrap_or(TrackingStatus::InTransit),
                e.fingerprint.clone(),
            )
        })
        .collect();
    let lines = queries::lines_of_shipment(txn, id).await?;
    let order = crate::queries::order_row(txn, row.order_id).await?;
    let mut current = row.clone();
    for e in &fresh {
        let status = TrackingStatus::parse(&e.status).unwrap_or(TrackingStatus::InTransit);
        all.push((e.occurred_at, status, e.fingerprint.clone()));
        let derived = derive_status(all.iter().map(|(at, s, f)| (*at, *s, f.as_str())));
        current.status = derived.map_or(before, |s| s.shipment()).as_str().to_owned();
        current.delivered_at = delivered_since(&all, derived);
        current.version += 1;
        current.updated_at = ctx.now;
        let mut update = TrackingUpdate {
            shipment: queries::shipment_view(&current, &lines, &order.number),
            event: queries::tracking_event_view(e),
        };
        events::tracking(
            txn,
            ctx,
            &events::SHIPMENT_TRACKING_UPDATED,
            &update,
            order.customer_id,
        )
        .await?;
        if status.is_exception() {
            // Its own version: every event about a shipment is a newer one.
            current.version += 1;
            update.shipment.version = current.version;
            events::tracking(
                txn,
                ctx,
                &events::SHIPMENT_EXCEPTION_REPORTED,
                &update,
                order.customer_id,
            )
            .await?;
        }
    }
    let delivered_at = current.delivered_at;
    let became_delivered = delivered_at.is_some() && row.delivered_at.is_none();
    let delivery_changed = delivered_at.is_some() != row.delivered_at.is_some();
    if became_delivered {
        current.version += 1;
    }
    let mut update = shipment::Entity::update_many()
        .col_expr(
            shipment::Column::Status,
            Expr::value(current.status.clone()),
        )
        .col_expr(shipment::Column::Version, Expr::value(current.version))
        .col_expr(shipment::Column::DeliveredAt, Expr::value(delivered_at))
        .col_expr(shipment::Column::UpdatedAt, Expr::value(ctx.now))
        .filter(shipment::COLUMN.id.eq(id));
    if let Source::SignOff { signed_by, proof } = &source {
        let proof = proof.as_ref().map(|p| json!(p));
        update = update
            .col_expr(shipment::Column::SignedBy, Expr::value(signed_by.clone()))
            .col_expr(shipment::Column::Proof, Expr::value(proof.clone()));
        current.signed_by = signed_by.clone();
        current.proof = proof;
    }
    update.exec(txn).await?;
    let shipment = queries::shipment_view(&current, &lines, &order.number);
    if became_delivered {
        events::shipment(
            txn,
            ctx,
            &events::SHIPMENT_DELIVERED,
            &shipment,
            order.customer_id,
        )
        .await?;
    }
    audit::record(
        txn,
        ctx,
        Entry::new(
            if matches!(source, Source::SignOff { .. }) {
                "shipment.deliver"
            } else {
                "shipment.track"
            },
            "shipment",
            id,
        )
        .changes(json!({"events": fresh.len(), "status": shipment.status,
            "delivered_at": shipment.delivered_at})),
    )
    .await?;
    // A completed order stays as it was: what comes back after completion is a
    // return's business (the shipment's own status and exception event say so).
    let settle =
        (delivery_changed && order.status != OrderStatus::Completed.as_str()).then_some(order.id);
    Ok(Applied {
        outcomes,
        shipment,
        settle,
    })
}

/// When a delivered shipment was delivered: its first `delivered` event (the later
/// ones change nothing). `None` unless `status` is delivered.
fn delivered_since(
    all: &[(DateTime<Utc>, TrackingStatus, String)],
    status: Option<TrackingStatus>,
) -> Option<DateTime<Utc>> {
    (status == Some(TrackingStatus::Delivered))
        .then(|| {
            all.iter()
                .filter(|(_, s, _)| *s == TrackingStatus::Delivered)
                .map(|(at, _, _)| *at)
                .min()
        })
        .flatten()
}

/// `POST /v1/shipments/{id}/deliver`: a sign-off, recorded as the shipment's
/// `delivered` event with who signed and the proof.
#[tracing::instrument(skip(txn, ctx, input))]
pub async fn deliver(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    id: Uuid,
    if_match: Option<i64>,
    input: DeliverShipment,
) -> Result<ShipmentView> {
    ctx.actor.require(Action::TrackingWrite)?;
    let mut errors = Vec::new();
    let signed_by = Text::check(input.signed_by, &mut errors, "signed_by");
    let proof = input.proof.map(|p| {
        p.kind.check(&mut errors, "proof.kind");
        let reference = p.reference.check(&mut errors, "proof.reference");
        Proof {
            kind: p.kind,
            reference: ordercrm_kernel::input::NonBlank(reference),
        }
    });
    if signed_by.is_none() && proof.is_none() {
        errors.push(FieldError::new(
            "signed_by",
            "required",
            "name who signed, or give a proof (or both)",
        ));
    }
    let at = input.delivered_at.map_or(ctx.now, |a| a.0);
    if at > ctx.now {
        errors.push(FieldError::new(
            "delivered_at",
            "in_future",
            "must not be in the future",
        ));
    }
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    let not_found = || -> Error { FulfillmentError::ShipmentNotFound(id.to_string()).into() };
    queries::find_shipment(txn, &ctx.actor, id).await?;
    // The check and the taking are one statement: of two sign-offs at once, or one
    // at a version no longer current, exactly one goes through.
    let final_states = [
        ShipmentStatus::Cancelled,
        ShipmentStatus::Delivered,
        ShipmentStatus::ReturnedToSender,
    ];
    let Some(row) = take(txn, id, if_match, &final_states).await? else {
        let now = shipment::Entity::find_by_id(id)
            .one(txn)
            .await?
            .ok_or_else(not_found)?;
        if if_match.is_some_and(|v| v != now.version) {
            return Err(Error::precondition_failed(now.version));
        }
        let status = ShipmentStatus::parse(&now.status).unwrap_or(ShipmentStatus::Pending);
        return Err(FulfillmentError::NotDeliverable(status).into());
    };
    if at < row.created_at {
        return Err(Error::invalid_field(
            "delivered_at",
            "range",
            "is before the shipment was made",
        ));
    }
    let item = Reported {
        index: 0,
        fingerprint: fingerprint(
            &row.carrier,
            &row.tracking_number,
            at,
            TrackingStatus::Delivered,
            None,
        ),
        carrier: row.carrier.clone(),
        tracking_number: row.tracking_number.clone(),
        provider_event_id: None,
        status: TrackingStatus::Delivered,
        occurred_at: at,
        location: None,
        message: signed_by.as_ref().map(|s| format!("signed by {s}")),
    };
    let source = Source::SignOff { signed_by, proof };
    let applied = apply(txn, ctx, row, vec![item], source).await?;
    if let Some(order_id) = applied.settle {
        settle(txn, ctx, order_id).await?;
    }
    Ok(applied.shipment)
}
