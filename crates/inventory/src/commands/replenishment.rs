//! Turning chosen suggestions into draft purchase orders, one per supplier and
//! warehouse.

use std::collections::BTreeMap;

use ordercrm_kernel::authz::Action;
use ordercrm_kernel::{Ctx, FieldError, Result};
use sea_orm::{DatabaseTransaction, EntityTrait};
use uuid::Uuid;

use super::levels;
use super::purchase_orders::{NewLine, insert_draft, unit_cost};
use crate::dto::{CreateFromSuggestions, CreatedPurchaseOrders, SuggestionQuery};
use crate::entity::supplier;
use crate::error::InventoryError;
use crate::{model, queries};

#[tracing::instrument(skip_all)]
pub async fn create_purchase_orders(
    txn: &DatabaseTransaction,
    ctx: &Ctx,
    input: CreateFromSuggestions,
) -> Result<CreatedPurchaseOrders> {
    ctx.actor.require(Action::PurchasingWrite)?;
    let mut errors = Vec::new();
    model::check_lines(&mut errors, input.lines.len());
    let suggestions = queries::replenishment::compute(
        txn,
        ctx.now,
        SuggestionQuery {
            window_days: input.window_days.map(|w| w.0),
            ..Default::default()
        },
    )
    .await?;
    let pairs: Vec<(String, &str, &str)> = input
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            (
                format!("lines[{i}]."),
                l.sku.as_str(),
                l.warehouse_code.as_str(),
            )
        })
        .collect();
    let places = levels::resolve(txn, &pairs, &mut errors).await?;
    // (supplier, warehouse) → lines; BTreeMap for a stable order of the new orders.
    let mut groups: BTreeMap<(Uuid, Uuid), Vec<(usize, NewLine)>> = BTreeMap::new();
    for (i, (chosen, place)) in input.lines.iter().zip(places.iter()).enumerate() {
        let Some(place) = place else { continue };
        let suggestion = suggestions
            .data
            .iter()
            .find(|s| s.product_id == place.product.id && s.warehouse_id == place.warehouse.id);
        let quantity = match (chosen.quantity, suggestion) {
            (Some(q), _) => q,
            (None, Some(s)) => s.suggested_quantity,
            (None, None) => {
                errors.push(FieldError::state(
                    format!("lines[{i}]"),
                    "no_suggestion",
                    format!(
                        "nothing to reorder for {} at {}; give quantity to order anyway",
                        place.product.sku, place.warehouse.code
                    ),
                ));
                continue;
            }
        };
        model::check_positive(&mut errors, &format!("lines[{i}].quantity"), quantity);
        let Some(supplier_id) = place.product.supplier_id else {
            errors.push(FieldError::new(
                format!("lines[{i}].sku"),
                "no_supplier",
                format!("'{}' has no supplier to order from", place.product.sku),
            ));
            continue;
        };
        groups
            .entry((supplier_id, place.warehouse.id))
            .or_default()
            .push((
                i,
                NewLine {
                    product: place.product.clone(),
                    quantity,
                    unit_cost: 0,
                },
            ));
    }
    let mut orders = Vec::new();
    let mut drafts = Vec::new();
    for ((supplier_id, warehouse_id), mut lines) in groups {
        let supplier = supplier::Entity::find_by_id(supplier_id)
            .one(txn)
            .await?
            .ok_or_else(|| InventoryError::not_found("supplier", supplier_id))?;
        for (i, line) in &mut lines {
            line.unit_cost = unit_cost(
                &mut errors,
                &format!("lines[{i}].sku"),
                &line.product,
                None,
                &supplier.currency,
            );
        }
        let warehouse = places
            .iter()
            .flatten()
            .find(|p| p.warehouse.id == warehouse_id)
            .map(|p| p.warehouse.clone())
            .ok_or_else(|| InventoryError::not_found("warehouse", warehouse_id))?;
        drafts.push((
            supplier,
            warehouse,
            lines.into_iter().map(|(_, l)| l).collect::<Vec<_>>(),
        ));
    }
    if !errors.is_empty() {
        return Err(ordercrm_kernel::Error::validation(errors));
    }
    for (supplier, warehouse, lines) in drafts {
        orders.push(
            insert_draft(
                txn,
                ctx,
                &supplier,
                &warehouse,
                lines,
                Some(
                    (ctx.now + chrono::Duration::days(i64::from(supplier.lead_time_days)))
                        .date_naive(),
                ),
                Some("from replenishment suggestions".to_owned()),
            )
            .await?,
        );
    }
    Ok(CreatedPurchaseOrders {
        purchase_orders: orders,
    })
}
