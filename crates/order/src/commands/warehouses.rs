//! Where a line ships from when the order does not say: the one warehouse that can
//! serve every such line (lowest `priority`, then code, among those that can), else
//! per line the warehouse with the most available (ties the same way).

use std::collections::HashMap;

use ordercrm_inventory::queries::for_orders::WarehouseFacts;
use uuid::Uuid;

/// `demand`: (line index, product, quantity) of the lines to place. `available`:
/// per (product, warehouse). Returns the warehouse per line index; empty when no
/// warehouse is active.
pub(crate) fn choose(
    demand: &[(usize, Uuid, i64)],
    warehouses: &[WarehouseFacts],
    available: &HashMap<(Uuid, Uuid), i64>,
) -> HashMap<usize, WarehouseFacts> {
    let mut ranked: Vec<&WarehouseFacts> = warehouses.iter().filter(|w| w.active).collect();
    ranked.sort_by(|a, b| {
        a.priority
            .cmp(&b.priority)
            .then_with(|| a.code.cmp(&b.code))
    });
    let mut per_product: HashMap<Uuid, i64> = HashMap::new();
    for (_, product, quantity) in demand {
        let sum = per_product.entry(*product).or_default();
        *sum = sum.saturating_add(*quantity);
    }
    let has = |p: Uuid, w: &WarehouseFacts| available.get(&(p, w.id)).copied().unwrap_or(0);
    if let Some(one) = ranked
        .iter()
        .find(|w| per_product.iter().all(|(p, q)| has(*p, w) >= *q))
    {
        return demand
            .iter()
            .map(|(i, _, _)| (*i, (*one).clone()))
            .collect();
    }
    demand
        .iter()
        .filter_map(|(i, product, _)| {
            // `max_by_key` keeps the last of equals; ranked is best-first, so reverse.
            ranked
                .iter()
                .rev()
                .max_by_key(|w| has(*product, w))
                .map(|w| (*i, (*w).clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(code: &str, priority: i32) -> WarehouseFacts {
        WarehouseFacts {
            id: Uuid::now_v7(),
            code: code.into(),
            priority,
            active: true,
        }
    }

    #[test]
    fn one_warehouse_for_everything_when_one_can() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let (sh, bj, gz) = (w("SH", 100), w("BJ", 100), w("GZ", 10));
        let stock = HashMap::from([
            ((a, sh.id), 5),
            ((b, sh.id), 5),
            ((a, bj.id), 5),
            ((b, bj.id), 5),
            ((a, gz.id), 5),
        ]);
        let all = [sh.clone(), bj.clone(), gz.clone()];
        let chosen = choose(&[(0, a, 2), (1, b, 2)], &all, &stock);
        // GZ ranks first but lacks b; BJ and SH tie on priority: BJ by code.
        assert_eq!(chosen[&0].code, "BJ");
        assert_eq!(chosen[&1].code, "BJ");
        // Nobody has 9 of a: per line, the most available, ties by rank.
        let chosen = choose(&[(0, a, 9), (1, b, 1)], &all, &stock);
        assert_eq!(chosen[&0].code, "GZ");
        assert_eq!(chosen[&1].code, "BJ");
    }
}
