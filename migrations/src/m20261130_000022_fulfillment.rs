//! Fulfillment: a dispatch note per warehouse of an approved order (the
//! warehouse's queue, earliest promise first), shipments with their lines, how much
//! of each order line has shipped, and the order's milestone times. The CHECKs hold
//! what must never break: a line never ships more than was ordered, nor less than
//! nothing; a shipment line ships at least one unit.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::index;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        // Same statement on both engines; SQLite adds one column at a time and takes
        // a CHECK on an added column when the default satisfies it.
        conn.execute_unprepared(
            "ALTER TABLE order_lines ADD COLUMN shipped_quantity BIGINT NOT NULL DEFAULT 0 \
             CHECK (shipped_quantity >= 0 AND shipped_quantity <= quantity)",
        )
        .await?;
        conn.execute_unprepared(
            "ALTER TABLE order_lines ADD COLUMN delivered_quantity BIGINT NOT NULL DEFAULT 0 \
             CHECK (delivered_quantity >= 0 AND delivered_quantity <= shipped_quantity)",
        )
        .await?;
        // A logistics key may be bound to carrier codes (a JSON list).
        manager
            .alter_table(
                Table::alter()
                    .table("api_keys")
                    .add_column(json_binary_null("carriers"))
                    .to_owned(),
            )
            .await?;
        for column in [
            "approved_at",
            "first_shipped_at",
            "delivered_at",
            "completed_at",
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table("orders")
                        .add_column(timestamp_with_time_zone_null(column))
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table("dispatch_notes")
                    .col(uuid("id").primary_key())
                    .col(string_uniq("number"))
                    .col(uuid("order_id"))
                    .col(uuid("warehouse_id"))
                    .col(string("warehouse_code"))
                    .col(string("status"))
                    .col(json_binary_null("ship_to"))
                    .col(date_null("requested_delivery_on"))
                    // The queue's key: the requested day, or the approval day when
                    // the customer asked for none (as soon as possible).
                    .col(date("promised_on"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .check(Expr::cust(
                        "status IN ('open', 'partially_shipped', 'shipped', 'voided')",
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("dispatch_notes_order")
                            .from("dispatch_notes", "order_id")
                            .to("orders", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("dispatch_notes_warehouse")
                            .from("dispatch_notes", "warehouse_id")
                            .to("warehouses", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "dispatch_notes",
            "dispatch_notes_order_warehouse",
            &["order_id", "warehouse_id"],
            true,
        )
        .await?;
        index(
            manager,
            "dispatch_notes",
            "dispatch_notes_queue",
            &["warehouse_id", "status", "promised_on", "created_at", "id"],
            false,
        )
        .await?;
        index(
            manager,
            "dispatch_notes",
            "dispatch_notes_promised",
            &["promised_on", "created_at", "id"],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table("shipments")
                    .col(uuid("id").primary_key())
                    .col(uuid("order_id"))
                    .col(string("carrier"))
                    .col(string("tracking_number"))
                    .col(string("status"))
                    .col(json_binary_null("package"))
                    .col(text_null("cancel_reason"))
                    .col(timestamp_with_time_zone_null("cancelled_at"))
                    .col(timestamp_with_time_zone_null("delivered_at"))
                    .col(string_null("signed_by"))
                    .col(json_binary_null("proof"))
                    .col(string("created_by"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("shipments_order")
                            .from("shipments", "order_id")
                            .to("orders", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "shipments",
            "shipments_order",
            &["order_id", "created_at"],
            false,
        )
        .await?;
        index(
            manager,
            "shipments",
            "shipments_tracking",
            &["carrier", "tracking_number", "created_at"],
            false,
        )
        .await?;
        index(
            manager,
            "shipments",
            "shipments_created",
            &["created_at", "id"],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table("shipment_lines")
                    .col(uuid("id").primary_key())
                    .col(uuid("shipment_id"))
                    .col(integer("line_no"))
                    .col(uuid("order_line_id"))
                    .col(integer("order_line_no"))
                    .col(uuid("product_id"))
                    .col(string("sku"))
                    .col(string("name"))
                    .col(uuid("warehouse_id"))
                    .col(string("warehouse_code"))
                    .col(big_integer("quantity"))
                    .check(Expr::cust("quantity > 0"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("shipment_lines_shipment")
                            .from("shipment_lines", "shipment_id")
                            .to("shipments", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("shipment_lines_order_line")
                            .from("shipment_lines", "order_line_id")
                            .to("order_lines", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "shipment_lines",
            "shipment_lines_shipment",
            &["shipment_id", "line_no"],
            true,
        )
        .await?;

        // What carriers report, and sign-offs: one row per distinct event. Its
        // identity is its content (`fingerprint`: carrier, number, time, status,
        // place), and also the provider's id when it has one (per carrier and
        // number: some providers number each waybill's events 1, 2, 3 …).
        manager
            .create_table(
                Table::create()
                    .table("tracking_events")
                    .col(uuid("id").primary_key())
                    .col(uuid("shipment_id"))
                    .col(string("carrier"))
                    .col(string("tracking_number"))
                    .col(string_null("provider_event_id"))
                    .col(string_uniq("fingerprint"))
                    .col(string("status"))
                    .col(timestamp_with_time_zone("occurred_at"))
                    .col(string_null("location"))
                    .col(text_null("message"))
                    .col(string("source"))
                    .col(string("recorded_by"))
                    .col(timestamp_with_time_zone("recorded_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("tracking_events_shipment")
                            .from("tracking_events", "shipment_id")
                            .to("shipments", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "tracking_events",
            "tracking_events_provider",
            &["carrier", "tracking_number", "provider_event_id"],
            true,
        )
        .await?;
        index(
            manager,
            "tracking_events",
            "tracking_events_shipment",
            &["shipment_id", "occurred_at"],
            false,
        )
        .await?;
        backfill(manager).await
    }
}

/// Orders approved before this migration: their approval time (the submission, or
/// the last change for a manual hold, which only an approved order can be in), and
/// an open dispatch note per warehouse, so they ship like any other.
async fn backfill(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    for statement in backfill_statements(manager.get_database_backend()) {
        manager
            .get_connection()
            .execute_unprepared(&statement)
            .await?;
    }
    Ok(())
}

/// The backfill's statements, public for the test that runs them on old rows.
pub fn backfill_statements(backend: DatabaseBackend) -> [String; 2] {
    // Ids: a random UUID on PostgreSQL, 16 random bytes (how SQLite keeps a UUID) here.
    let (new_id, day) = match backend {
        DatabaseBackend::Postgres => ("gen_random_uuid()", "CAST(o.approved_at AS DATE)"),
        _ => ("randomblob(16)", "substr(o.approved_at, 1, 10)"),
    };
    [
        "UPDATE orders SET approved_at = COALESCE(submitted_at, updated_at) \
         WHERE approved_at IS NULL \
         AND (status = 'approved' OR (status = 'on_hold' AND status_reason IS NOT NULL))"
            .to_owned(),
        format!(
            "INSERT INTO dispatch_notes (id, number, order_id, warehouse_id, warehouse_code, status, \
             ship_to, requested_delivery_on, promised_on, version, created_at, updated_at) \
             SELECT {new_id}, o.number || '-' || l.warehouse_code, o.id, l.warehouse_id, \
             l.warehouse_code, 'open', o.shipping_address, o.requested_delivery_on, \
             COALESCE(o.requested_delivery_on, {day}), 1, o.approved_at, o.approved_at \
             FROM orders o JOIN (SELECT DISTINCT order_id, warehouse_id, warehouse_code \
             FROM order_lines WHERE warehouse_id IS NOT NULL) l ON l.order_id = o.id \
             WHERE o.approved_at IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM dispatch_notes d WHERE d.order_id = o.id)"
        ),
    ]
}
