//! Catalog and inventory: products, warehouses, suppliers, stock levels, the
//! movement ledger, reservations, low-stock alerts and purchase orders.
//! Quantities are whole base units (`BIGINT`); the level's `on_hand` and `reserved`
//! can never go negative (CHECK), whatever a buggy caller sends.

use sea_orm_migration::prelude::*;

use crate::index;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn fk(
    name: &str,
    from: (&'static str, &'static str),
    to: &'static str,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to, "id")
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("suppliers")
                    .col(uuid("id").primary_key())
                    .col(string("name"))
                    .col(string_null("contact_name"))
                    .col(string_null("email"))
                    .col(string_null("phone"))
                    .col(integer("lead_time_days"))
                    .col(string("currency"))
                    .col(boolean("active"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "suppliers",
            "suppliers_name",
            &["name", "id"],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table("products")
                    .col(uuid("id").primary_key())
                    .col(string("sku"))
                    // Lower-cased: SKUs are unique regardless of case.
                    .col(string_uniq("sku_normalized"))
                    .col(string("name"))
                    .col(text_null("description"))
                    .col(string_null("category"))
                    .col(string("unit"))
                    .col(string_null("barcode"))
                    .col(big_integer("list_price_amount"))
                    .col(string("list_price_currency"))
                    .col(big_integer_null("cost_amount"))
                    .col(string_null("cost_currency"))
                    .col(integer("tax_rate_bps"))
                    .col(integer_null("warranty_days"))
                    .col(boolean("tracks_inventory"))
                    .col(boolean("active"))
                    .col(json_binary("attributes"))
                    .col(uuid_null("supplier_id"))
                    .col(text("search_text"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk(
                        "products_supplier",
                        ("products", "supplier_id"),
                        "suppliers",
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "products",
            "products_created",
            &["created_at", "id"],
            false,
        )
        .await?;
        index(manager, "products", "products_name", &["name", "id"], false).await?;
        index(manager, "products", "products_barcode", &["barcode"], false).await?;
        index(
            manager,
            "products",
            "products_category",
            &["category", "id"],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table("product_external_refs")
                    .col(uuid("product_id"))
                    .col(string("channel"))
                    .col(string("external_id"))
                    .primary_key(Index::create().col("channel").col("external_id"))
                    .foreign_key(&mut fk(
                        "product_external_refs_product",
                        ("product_external_refs", "product_id"),
                        "products",
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "product_external_refs",
            "product_external_refs_product",
            &["product_id"],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table("warehouses")
                    .col(uuid("id").primary_key())
                    .col(string("code"))
                    .col(string_uniq("code_normalized"))
                    .col(string("name"))
                    .col(json_binary_null("address"))
                    .col(boolean("active"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("stock_levels")
                    .col(uuid("product_id"))
                    .col(uuid("warehouse_id"))
                    .col(big_integer("on_hand"))
                    .col(big_integer("reserved"))
                    .col(big_integer("reorder_point"))
                    .col(big_integer("reorder_quantity"))
                    .col(big_integer("safety_stock"))
                    // An open low-stock alert exists: alerts fire once per crossing.
                    .col(boolean("low_stock"))
                    // The newest WMS count applied; older counts are ignored.
                    .col(timestamp_with_time_zone_null("counted_at"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .primary_key(Index::create().col("product_id").col("warehouse_id"))
                    .check(Expr::cust("on_hand >= 0"))
                    .check(Expr::cust("reserved >= 0"))
                    .foreign_key(&mut fk(
                        "stock_levels_product",
                        ("stock_levels", "product_id"),
                        "products",
                    ))
                    .foreign_key(&mut fk(
                        "stock_levels_warehouse",
                        ("stock_levels", "warehouse_id"),
                        "warehouses",
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "stock_levels",
            "stock_levels_warehouse",
            &["warehouse_id", "product_id"],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table("stock_movements")
                    .col(uuid("id").primary_key())
                    .col(uuid("product_id"))
                    .col(uuid("warehouse_id"))
                    .col(string("kind"))
                    // Units the movement is about (always positive) and the signed
                    // change to on-hand (0 for a scrapped return).
                    .col(big_integer("units"))
                    .col(big_integer("quantity"))
                    .col(big_integer("on_hand_after"))
                    .col(string_null("reason"))
                    .col(string_null("reference"))
                    .col(uuid_null("transfer_id"))
                    .col(uuid_null("reservation_id"))
                    .col(uuid_null("purchase_order_id"))
                    .col(string("actor"))
                    .col(string_null("request_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk(
                        "stock_movements_product",
                        ("stock_movements", "product_id"),
                        "products",
                    ))
                    .foreign_key(&mut fk(
                        "stock_movements_warehouse",
                        ("stock_movements", "warehouse_id"),
                        "warehouses",
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "stock_movements",
            "stock_movements_level",
            &["product_id", "warehouse_id", "created_at"],
            false,
        )
        .await?;
        index(
            manager,
            "stock_movements",
            "stock_movements_kind",
            &["kind", "created_at"],
            false,
        )
        .await?;
        index(
            manager,
            "stock_movements",
            "stock_movements_created",
            &["created_at", "id"],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table("reservations")
                    .col(uuid("id").primary_key())
                    .col(string_null("reference"))
                    .col(string("status"))
                    .col(timestamp_with_time_zone_null("expires_at"))
                    .col(string("actor"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "reservations",
            "reservations_expiry",
            &["status", "expires_at"],
            false,
        )
        .await?;
        index(
            manager,
            "reservations",
            "reservations_created",
            &["created_at", "id"],
            false,
        )
        .await?;
        index(
            manager,
            "reservations",
            "reservations_reference",
            &["reference"],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table("reservation_lines")
                    .col(uuid("id").primary_key())
                    .col(uuid("reservation_id"))
                    .col(integer("line_no"))
                    .col(uuid("product_id"))
                    .col(uuid("warehouse_id"))
                    .col(big_integer("quantity"))
                    .col(big_integer("consumed"))
                    .col(big_integer("released"))
                    .check(Expr::cust("consumed + released <= quantity"))
                    .foreign_key(&mut fk(
                        "reservation_lines_reservation",
                        ("reservation_lines", "reservation_id"),
                        "reservations",
                    ))
                    .foreign_key(&mut fk(
                        "reservation_lines_product",
                        ("reservation_lines", "product_id"),
                        "products",
                    ))
                    .foreign_key(&mut fk(
                        "reservation_lines_warehouse",
                        ("reservation_lines", "warehouse_id"),
                        "warehouses",
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "reservation_lines",
            "reservation_lines_reservation",
            &["reservation_id", "line_no"],
            false,
        )
        .await?;
        index(
            manager,
            "reservation_lines",
            "reservation_lines_level",
            &["product_id", "warehouse_id"],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table("stock_alerts")
                    .col(uuid("id").primary_key())
                    .col(uuid("product_id"))
                    .col(uuid("warehouse_id"))
                    .col(big_integer("available_at_open"))
                    .col(big_integer("reorder_point"))
                    .col(timestamp_with_time_zone("opened_at"))
                    .col(timestamp_with_time_zone_null("closed_at"))
                    .foreign_key(&mut fk(
                        "stock_alerts_product",
                        ("stock_alerts", "product_id"),
                        "products",
                    ))
                    .foreign_key(&mut fk(
                        "stock_alerts_warehouse",
                        ("stock_alerts", "warehouse_id"),
                        "warehouses",
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "stock_alerts",
            "stock_alerts_open",
            &["closed_at", "opened_at", "id"],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table("purchase_orders")
                    .col(uuid("id").primary_key())
                    .col(string_uniq("number"))
                    .col(uuid("supplier_id"))
                    .col(uuid("warehouse_id"))
                    .col(string("status"))
                    .col(string("currency"))
                    .col(date_null("expected_on"))
                    .col(text_null("notes"))
                    .col(timestamp_with_time_zone_null("ordered_at"))
                    .col(timestamp_with_time_zone_null("received_at"))
                    .col(timestamp_with_time_zone_null("cancelled_at"))
                    .col(string("created_by"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk(
                        "purchase_orders_supplier",
                        ("purchase_orders", "supplier_id"),
                        "suppliers",
                    ))
                    .foreign_key(&mut fk(
                        "purchase_orders_warehouse",
                        ("purchase_orders", "warehouse_id"),
                        "warehouses",
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "purchase_orders",
            "purchase_orders_created",
            &["created_at", "id"],
            false,
        )
        .await?;
        index(
            manager,
            "purchase_orders",
            "purchase_orders_status",
            &["status", "created_at"],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table("purchase_order_lines")
                    .col(uuid("id").primary_key())
                    .col(uuid("purchase_order_id"))
                    .col(integer("line_no"))
                    .col(uuid("product_id"))
                    .col(big_integer("quantity"))
                    .col(big_integer("received_quantity"))
                    .col(big_integer("unit_cost_amount"))
                    .check(Expr::cust("received_quantity <= quantity"))
                    .foreign_key(&mut fk(
                        "purchase_order_lines_order",
                        ("purchase_order_lines", "purchase_order_id"),
                        "purchase_orders",
                    ))
                    .foreign_key(&mut fk(
                        "purchase_order_lines_product",
                        ("purchase_order_lines", "product_id"),
                        "products",
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "purchase_order_lines",
            "purchase_order_lines_order",
            &["purchase_order_id", "line_no"],
            false,
        )
        .await?;
        index(
            manager,
            "purchase_order_lines",
            "purchase_order_lines_product",
            &["product_id"],
            false,
        )
        .await?;

        // Substring search over SKU, name and barcode, as for customers.
        let search: &[&str] = match manager.get_database_backend() {
            DatabaseBackend::Postgres => &[
                "CREATE INDEX products_search_trgm ON products USING gin (search_text gin_trgm_ops)",
            ],
            _ => &[
                "CREATE VIRTUAL TABLE products_fts USING fts5(search_text, content='products', content_rowid='rowid', tokenize='trigram')",
                "CREATE TRIGGER products_fts_insert AFTER INSERT ON products BEGIN \
                    INSERT INTO products_fts(rowid, search_text) VALUES (new.rowid, new.search_text); END",
                "CREATE TRIGGER products_fts_delete AFTER DELETE ON products BEGIN \
                    INSERT INTO products_fts(products_fts, rowid, search_text) VALUES ('delete', old.rowid, old.search_text); END",
                "CREATE TRIGGER products_fts_update AFTER UPDATE OF search_text ON products BEGIN \
                    INSERT INTO products_fts(products_fts, rowid, search_text) VALUES ('delete', old.rowid, old.search_text); \
                    INSERT INTO products_fts(rowid, search_text) VALUES (new.rowid, new.search_text); END",
            ],
        };
        for sql in search {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Sqlite {
            for sql in [
                "DROP TRIGGER IF EXISTS products_fts_update",
                "DROP TRIGGER IF EXISTS products_fts_delete",
                "DROP TRIGGER IF EXISTS products_fts_insert",
                "DROP TABLE IF EXISTS products_fts",
            ] {
                manager.get_connection().execute_unprepared(sql).await?;
            }
        }
        for table in [
            "purchase_order_lines",
            "purchase_orders",
            "stock_alerts",
            "reservation_lines",
            "reservations",
            "stock_movements",
            "stock_levels",
            "warehouses",
            "product_external_refs",
            "products",
            "suppliers",
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
