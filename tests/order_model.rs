//! A seeded, replayable walk of random order operations against a model kept by
//! the test. After every step: reserved stock equals the lines of the orders that
//! hold stock, every order's totals equal the model's, and `allowed_actions` offered
//! exactly what the server then accepted. `ORDER_MODEL_SEED=n` replays one walk.

use std::collections::BTreeMap;

use ordercrm_tests::{Engine, TestApp, both_engines};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

both_engines!(random_walks_keep_stock_totals_and_actions_honest);

/// SplitMix64: small, seeded, the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const SKUS: [(&str, i64, i32); 3] = [("MW-A", 7, 1300), ("MW-B", 4, 600), ("MW-C", 12, 0)];
const ACTIONS: [&str; 6] = ["submit", "hold", "release", "approve", "reject", "cancel"];

/// `n / d` rounded half away from zero, the rule the server documents.
fn div_round(n: i128, d: i128) -> i128 {
    let (q, r) = (n / d, n % d);
    if r.abs() * 2 >= d { q + n.signum() } else { q }
}

/// The grand total by the documented rule, computed here independently.
fn model_total(lines: &[(i64, i64, i64, i32)], order_discount: i64, shipping: i64) -> i64 {
    let nets: Vec<i128> = lines
        .iter()
        .map(|(q, p, d, _)| i128::from(*q) * i128::from(*p) - i128::from(*d))
        .collect();
    let sum: i128 = nets.iter().sum();
    let od = i128::from(order_discount);
    let mut shares: Vec<(i128, i128, usize)> = nets
        .iter()
        .enumerate()
        .map(|(i, n)| {
            if sum == 0 {
                (0, 0, i)
            } else {
                (od * n / sum, od * n % sum, i)
            }
        })
        .collect();
    let left = od - shares.iter().map(|s| s.0).sum::<i128>();
    let mut by_remainder = shares.clone();
    by_remainder.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
    for (_, _, i) in by_remainder.into_iter().take(left as usize) {
        shares[i].0 += 1;
    }
    let mut total = i128::from(shipping);
    for ((n, (s, _, _)), (_, _, _, bps)) in nets.iter().zip(&shares).zip(lines) {
        let taxable = n - s;
        total += taxable + div_round(taxable * i128::from(*bps), 10_000);
    }
    total as i64
}

async fn random_walks_keep_stock_totals_and_actions_honest(engine: Engine) {
    let seeds: Vec<u64> = match std::env::var("ORDER_MODEL_SEED") {
        Ok(s) => vec![s.parse().expect("ORDER_MODEL_SEED is a number")],
        Err(_) => vec![20_261_129, 7],
    };
    for seed in seeds {
        walk(engine, seed).await;
    }
}

async fn walk(engine: Engine, seed: u64) {
    let app = TestApp::spawn(engine).await;
    let mut rng = Rng(seed);
    let res = app
        .post(
            "/v1/warehouses",
            &json!({"code": "MW", "name": "Model warehouse"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    for (sku, stock, bps) in SKUS {
        let res = app
            .post(
                "/v1/products",
                &json!({"sku": sku, "name": sku, "tax_rate_bps": bps,
                    "list_price": {"amount": 1000, "currency": "CNY"}}),
            )
            .await;
        assert_eq!(res.status(), 201);
        let res = app
            .post(
                "/v1/inventory/receipts",
                &json!({"sku": sku, "warehouse_code": "MW", "quantity": stock}),
            )
            .await;
        assert_eq!(res.status(), 201);
    }
    // Large orders wait for a manager: holds approve may override.
    let res = app
        .post(
            "/v1/settings",
            &json!({"key": "order_approval_threshold", "value": 5000}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .post(
            "/v1/customers",
            &json!({"kind": "company", "name": "Model Co"}),
        )
        .await;
    let customer: Value = res.json().await.unwrap();
    let customer = customer["id"].as_str().unwrap().to_owned();

    let mut orders: Vec<String> = Vec::new();
    // Order id → lines as (sku, quantity), for the stock invariant.
    let mut lines_of: BTreeMap<String, Vec<(&str, i64)>> = BTreeMap::new();
    for step in 0..40 {
        let context = format!("seed {seed}, step {step}");
        if orders.is_empty() || rng.below(3) == 0 {
            let count = 1 + rng.below(3) as usize;
            let mut lines = Vec::new();
            let mut money = Vec::new();
            let mut wire = Vec::new();
            for _ in 0..count {
                let (sku, _, bps) = *rng.pick(&SKUS);
                let quantity = 1 + rng.below(4) as i64;
                let price = 100 + rng.below(900) as i64;
                let discount =
                    rng.below(2) as i64 * rng.below((quantity * price) as u64 / 4 + 1) as i64;
                lines.push((sku, quantity));
                money.push((quantity, price, discount, bps));
                wire.push(json!({"sku": sku, "quantity": quantity,
                    "unit_price": {"amount": price, "currency": "CNY"},
                    "discount": {"amount": discount, "currency": "CNY"}}));
            }
            let nets: i64 = money.iter().map(|(q, p, d, _)| q * p - d).sum();
            let order_discount = rng.below(nets as u64 / 5 + 1) as i64;
            let shipping = rng.below(3) as i64 * 500;
            let submit = rng.below(2) == 0;
            let res = app
                .post(
                    "/v1/orders",
                    &json!({"customer_id": customer, "currency": "CNY", "submit": submit,
                        "lines": wire, "order_discount": {"amount": order_discount, "currency": "CNY"},
                        "shipping_fee": {"amount": shipping, "currency": "CNY"}}),
                )
                .await;
            assert_eq!(res.status(), 201, "{context}");
            let made: Value = res.json().await.unwrap();
            assert_eq!(
                made["grand_total"]["amount"],
                model_total(&money, order_discount, shipping),
                "{context}: totals of {made}"
            );
            let id = made["id"].as_str().unwrap().to_owned();
            lines_of.insert(id.clone(), lines);
            orders.push(id);
        } else {
            let id = rng.pick(&orders).clone();
            let action = *rng.pick(&ACTIONS);
            let before: Value = app
                .get(&format!("/v1/orders/{id}"))
                .await
                .json()
                .await
                .unwrap();
            let offered = before["allowed_actions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a == action);
            let res = app
                .post(
                    &format!("/v1/orders/{id}/{action}"),
                    &json!({"reason": format!("model step {step}")}),
                )
                .await;
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap();
            if offered {
                assert_eq!(
                    status, 200,
                    "{context}: {action} was offered on {before}: {body}"
                );
            } else {
                assert_eq!(
                    status, 409,
                    "{context}: {action} was not offered on {before}: {body}"
                );
            }
        }
        check_stock(&app, &lines_of, &context).await;
    }
}

/// Reserved per SKU = the lines of the orders that hold a reservation.
async fn check_stock(app: &TestApp, lines_of: &BTreeMap<String, Vec<(&str, i64)>>, context: &str) {
    let mut expected: BTreeMap<&str, i64> = SKUS.iter().map(|(s, _, _)| (*s, 0)).collect();
    let page: Value = app.get("/v1/orders?limit=200").await.json().await.unwrap();
    for o in page["data"].as_array().unwrap() {
        let Some(reservation) = o["reservation_id"].as_str() else {
            continue;
        };
        if !["approved", "on_hold"].contains(&o["status"].as_str().unwrap()) {
            // An ended order keeps the link to what it held, all of it let go.
            let held: Value = app
                .get(&format!("/v1/inventory/reservations/{reservation}"))
                .await
                .json()
                .await
                .unwrap();
            assert_eq!(held["status"], "released", "{context}: {o}");
            continue;
        }
        for (sku, q) in &lines_of[o["id"].as_str().unwrap()] {
            *expected.get_mut(sku).unwrap() += q;
        }
    }
    let db = app.raw_db().await;
    for (sku, want) in expected {
        let row = db
            .query_one_raw(sea_orm::Statement::from_sql_and_values(
                db.get_database_backend(),
                match db.get_database_backend() {
                    sea_orm::DatabaseBackend::Postgres => {
                        "SELECT l.reserved FROM stock_levels l JOIN products p ON p.id = l.product_id WHERE p.sku = $1"
                    }
                    _ => "SELECT l.reserved FROM stock_levels l JOIN products p ON p.id = l.product_id WHERE p.sku = ?",
                },
                [sku.into()],
            ))
            .await
            .unwrap()
            .unwrap();
        let reserved: i64 = row.try_get_by_index(0).unwrap();
        assert_eq!(reserved, want, "{context}: reserved {sku}");
    }
}
