//! When a customer's personal data is erased, their orders forget it too: the name
//! and addresses copied at intake (and onto dispatch notes), the notes, reasons
//! people typed, what their edits changed, and what `q` searched. The orders stay (numbers, lines, money,
//! shipments), so the books still add up.

use ordercrm_kernel::Result;
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter};
use uuid::Uuid;

use crate::entity::{dispatch_note, order, shipment, tracking_event};
use crate::model;

/// What an erased customer is called on their orders.
pub const ERASED_NAME: &str = "[erased]";

/// Take the personal data of `customers` out of their orders; how many changed.
pub async fn forget_customers(txn: &DatabaseTransaction, customers: &[Uuid]) -> Result<usize> {
    let mut orders = order::Entity::find()
        .filter(order::COLUMN.customer_id.is_in(customers.to_vec()))
        .all(txn)
        .await?;
    orders.sort_by_key(|o| o.id);
    let count = orders.len();
    let order_ids: Vec<Uuid> = orders.iter().map(|o| o.id).collect();
    let mut shipments = shipment::Entity::find()
        .filter(shipment::COLUMN.order_id.is_in(order_ids.clone()))
        .all(txn)
        .await?;
    // Who signed, the proof, and what carriers wrote about the door step: one
    // shipment at a time in id order, as tracking takes them.
    shipments.sort_by_key(|s| s.id);
    for s in &shipments {
        shipment::Entity::update_many()
            .col_expr(
                shipment::Column::CancelReason,
                sea_orm::sea_query::Expr::value(Option::<String>::None),
            )
            .col_expr(
                shipment::Column::SignedBy,
                sea_orm::sea_query::Expr::value(Option::<String>::None),
            )
            .col_expr(
                shipment::Column::Proof,
                sea_orm::sea_query::Expr::value(Option::<serde_json::Value>::None),
            )
            .filter(shipment::COLUMN.id.eq(s.id))
            .exec(txn)
            .await?;
    }
    // What edits changed and why: addresses and words people typed.
    crate::entity::order_edit::Entity::update_many()
        .col_expr(
            crate::entity::order_edit::Column::Change,
            sea_orm::sea_query::Expr::value(serde_json::json!({"erased": true})),
        )
        .col_expr(
            crate::entity::order_edit::Column::Reason,
            sea_orm::sea_query::Expr::value(Option::<String>::None),
        )
        .filter(
            crate::entity::order_edit::COLUMN
                .order_id
                .is_in(order_ids.clone()),
        )
        .exec(txn)
        .await?;
    // Why goods came back, and what people wrote deciding and receiving them.
    let returns: Vec<Uuid> = crate::entity::return_row::Entity::find()
        .filter(
            crate::entity::return_row::COLUMN
                .order_id
                .is_in(order_ids.clone()),
        )
        .all(txn)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    if !returns.is_empty() {
        crate::entity::return_row::Entity::update_many()
            .col_expr(
                crate::entity::return_row::Column::Reason,
                sea_orm::sea_query::Expr::value("(erased)"),
            )
            .col_expr(
                crate::entity::return_row::Column::DecisionNote,
                sea_orm::sea_query::Expr::value(Option::<String>::None),
            )
            .filter(
                crate::entity::return_row::COLUMN
                    .id
                    .is_in(returns.iter().copied()),
            )
            .exec(txn)
            .await?;
        crate::entity::return_receipt::Entity::update_many()
            .col_expr(
                crate::entity::return_receipt::Column::Note,
                sea_orm::sea_query::Expr::value(Option::<String>::None),
            )
            .filter(
                crate::entity::return_receipt::COLUMN
                    .return_id
                    .is_in(returns.iter().copied()),
            )
            .exec(txn)
            .await?;
        ordercrm_kernel::audit::entity::Entity::update_many()
            .col_expr(
                ordercrm_kernel::audit::entity::Column::Changes,
                sea_orm::sea_query::Expr::value(serde_json::json!({"erased": true})),
            )
            .filter(
                ordercrm_kernel::audit::entity::COLUMN
                    .entity_type
                    .eq("return"),
            )
            .filter(
                ordercrm_kernel::audit::entity::COLUMN
                    .entity_id
                    .is_in(returns.iter().map(Uuid::to_string)),
            )
            .exec(txn)
            .await?;
    }
    // The events keep their identity (a hash), so a carrier's next full-history push
    // is recognised as repeats and does not bring the erased words back.
    tracking_event::Entity::update_many()
        .col_expr(
            tracking_event::Column::Location,
            sea_orm::sea_query::Expr::value(Option::<String>::None),
        )
        .col_expr(
            tracking_event::Column::Message,
            sea_orm::sea_query::Expr::value(Option::<String>::None),
        )
        .filter(
            tracking_event::COLUMN
                .shipment_id
                .is_in(shipments.iter().map(|s| s.id)),
        )
        .exec(txn)
        .await?;
    ordercrm_kernel::audit::entity::Entity::update_many()
        .col_expr(
            ordercrm_kernel::audit::entity::Column::Changes,
            sea_orm::sea_query::Expr::value(serde_json::json!({"erased": true})),
        )
        .filter(
            ordercrm_kernel::audit::entity::COLUMN
                .entity_type
                .eq("shipment"),
        )
        .filter(
            ordercrm_kernel::audit::entity::COLUMN
                .entity_id
                .is_in(shipments.iter().map(|s| s.id.to_string())),
        )
        .exec(txn)
        .await?;
    // Reasons people typed into holds and cancellations may name the customer.
    let ids: Vec<String> = orders.iter().map(|o| o.id.to_string()).collect();
    ordercrm_kernel::audit::entity::Entity::update_many()
        .col_expr(
            ordercrm_kernel::audit::entity::Column::Changes,
            sea_orm::sea_query::Expr::value(serde_json::json!({"erased": true})),
        )
        .filter(
            ordercrm_kernel::audit::entity::COLUMN
                .entity_type
                .eq("order"),
        )
        .filter(ordercrm_kernel::audit::entity::COLUMN.entity_id.is_in(ids))
        .exec(txn)
        .await?;
    for o in orders {
        let search_text = model::search_text(&o.number, o.external_id.as_deref(), ERASED_NAME);
        let mut row = o.into_active_model();
        row.customer_name = Set(ERASED_NAME.to_owned());
        row.shipping_address = Set(None);
        row.billing_address = Set(None);
        row.notes = Set(None);
        row.status_reason = Set(None);
        row.tags = Set(serde_json::json!([]));
        row.metadata = Set(serde_json::json!({}));
        // The hash of the intake body would confirm who placed it to anyone who
        // guesses the body: a resend after erasure is a new conflict, not a match.
        row.intake_hash = Set(None);
        row.search_text = Set(search_text);
        row.update(txn).await?;
    }
    // Shipments, then orders, then notes: the order every change that takes more
    // than one of them follows, so an erasure and a cancelled shipment never wait
    // for each other in a circle.
    dispatch_note::Entity::update_many()
        .col_expr(
            dispatch_note::Column::ShipTo,
            sea_orm::sea_query::Expr::value(Option::<serde_json::Value>::None),
        )
        .filter(dispatch_note::COLUMN.order_id.is_in(order_ids))
        .exec(txn)
        .await?;
    Ok(count)
}
