//! Schema migrations, one file per change, applied in order at startup and by
//! `ordercrm migrate`. A migration never imports a domain crate: an old migration
//! must not change meaning when an entity does.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_platform;
mod m20261123_000002_identity;
mod m20261123_000003_customers;
mod m20261123_000004_customer_activity;
mod m20261123_000005_customer_lifecycle;
mod m20261123_000006_customer_search;
mod m20261125_000007_inventory;
mod m20261128_000008_security;
mod m20261128_000009_quantity_checks;
mod m20261128_000010_import_staging;
mod m20261128_000011_import_mirrors;
mod m20261128_000012_outbox_order;
mod m20261128_000013_outbox_visibility;
mod m20261129_000014_warehouse_priority;
mod m20261129_000015_api_key_default_owner;
mod m20261129_000016_exchange_rates;
mod m20261129_000017_orders;
mod m20261129_000018_order_prepayments;
mod m20261129_000019_order_bindings;
mod m20261129_000020_webhook_endpoints;
mod m20261129_000021_webhook_deliveries;
mod m20261130_000022_fulfillment;
mod m20261201_000023_webhook_operations;
mod m20261202_000024_webhook_backlog;
mod m20261202_000025_order_delays;
mod m20261203_000026_customer_statistics;
mod m20261203_000027_order_edits;
mod m20261204_000028_returns;
mod m20261205_000029_payments;
mod m20261206_000030_invoice_issuer;
mod m20261207_000031_credit_notes;

pub use m20261130_000022_fulfillment::backfill_statements as fulfillment_backfill;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_platform::Migration),
            Box::new(m20261123_000002_identity::Migration),
            Box::new(m20261123_000003_customers::Migration),
            Box::new(m20261123_000004_customer_activity::Migration),
            Box::new(m20261123_000005_customer_lifecycle::Migration),
            Box::new(m20261123_000006_customer_search::Migration),
            Box::new(m20261125_000007_inventory::Migration),
            Box::new(m20261128_000008_security::Migration),
            Box::new(m20261128_000009_quantity_checks::Migration),
            Box::new(m20261128_000010_import_staging::Migration),
            Box::new(m20261128_000011_import_mirrors::Migration),
            Box::new(m20261128_000012_outbox_order::Migration),
            Box::new(m20261128_000013_outbox_visibility::Migration),
            Box::new(m20261129_000014_warehouse_priority::Migration),
            Box::new(m20261129_000015_api_key_default_owner::Migration),
            Box::new(m20261129_000016_exchange_rates::Migration),
            Box::new(m20261129_000017_orders::Migration),
            Box::new(m20261129_000018_order_prepayments::Migration),
            Box::new(m20261129_000019_order_bindings::Migration),
            Box::new(m20261129_000020_webhook_endpoints::Migration),
            Box::new(m20261129_000021_webhook_deliveries::Migration),
            Box::new(m20261130_000022_fulfillment::Migration),
            Box::new(m20261201_000023_webhook_operations::Migration),
            Box::new(m20261202_000024_webhook_backlog::Migration),
            Box::new(m20261202_000025_order_delays::Migration),
            Box::new(m20261203_000026_customer_statistics::Migration),
            Box::new(m20261203_000027_order_edits::Migration),
            Box::new(m20261204_000028_returns::Migration),
            Box::new(m20261205_000029_payments::Migration),
            Box::new(m20261206_000030_invoice_issuer::Migration),
            Box::new(m20261207_000031_credit_notes::Migration),
        ]
    }
}

/// Names of the migrations this build knows, oldest first.
pub fn known_versions() -> Vec<String> {
    Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect()
}

/// An index on `cols` of `table`, unique or not: the one shape most migrations need.
pub(crate) async fn index(
    manager: &SchemaManager<'_>,
    table: &'static str,
    name: &str,
    cols: &[&'static str],
    unique: bool,
) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(table);
    if unique {
        index.unique();
    }
    for c in cols {
        index.col(*c);
    }
    manager.create_index(index.to_owned()).await
}
