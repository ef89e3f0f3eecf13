//! Wrong passwords are counted per (account, source), in the database so that N
//! instances count once. A few failures from one source make that source wait before
//! it may try that account again, longer after each further failure; other sources,
//! the account's owner among them, are not affected: no one can lock an account for
//! everyone, and an unknown email is counted exactly like a known one, so the answer
//! says nothing about which emails have accounts.
//!
//! An attempt is counted before its password is checked. Concurrent guesses each take
//! their turn through a compare-and-swap on the count, so a burst of them gets no
//! more checks than `allowed` (the rest wait), and a success clears the count.

use chrono::{DateTime, Duration, Utc};
use ordercrm_kernel::Result;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter};

use crate::entity::sign_in_failure::{self, COLUMN, Entity};

/// How failures are answered.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Failures from one source before it has to wait.
    pub allowed: i32,
    /// The first wait; each further failure doubles it ...
    pub first_wait: std::time::Duration,
    /// ... up to this.
    pub longest_wait: std::time::Duration,
    /// A count idle this long is forgotten.
    pub forget_after: std::time::Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            allowed: 5,
            first_wait: std::time::Duration::from_secs(60),
            longest_wait: std::time::Duration::from_secs(3600),
            forget_after: std::time::Duration::from_secs(24 * 3600),
        }
    }
}

fn dur(d: std::time::Duration) -> Duration {
    Duration::from_std(d).unwrap_or(Duration::MAX)
}

impl Policy {
    /// The count an attempt now would make, or how many seconds it must wait.
    fn decide(&self, row: Option<&sign_in_failure::Model>, now: DateTime<Utc>) -> Result<i32, i64> {
        let Some(row) = row else { return Ok(1) };
        if row.last_failed_at + dur(self.forget_after) <= now {
            return Ok(1);
        }
        if row.failures < self.allowed {
            return Ok(row.failures.saturating_add(1));
        }
        let doublings = u32::try_from(row.failures - self.allowed)
            .unwrap_or(u32::MAX)
            .min(20);
        let wait = self
            .first_wait
            .saturating_mul(1 << doublings)
            .min(self.longest_wait);
        let until = row.last_failed_at + dur(wait);
        if now >= until {
            Ok(row.failures.saturating_add(1))
        } else {
            // A concurrent request may have counted with a later "now" than ours.
            let left = ((until - now).num_milliseconds() + 999) / 1000;
            Err(left.min(i64::try_from(wait.as_secs()).unwrap_or(i64::MAX)))
        }
    }
}

/// May this source try this account's password now?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// Yes; the attempt is already counted as a failure until [`clear`] says otherwise.
    Go,
    /// Not for this many seconds.
    Wait(i64),
}

/// Count an attempt for (`email`, `source`) before its password is checked.
pub async fn take_turn(
    conn: &impl ConnectionTrait,
    policy: &Policy,
    email: &str,
    source: &str,
    now: DateTime<Utc>,
) -> Result<Turn> {
    for _ in 0..16 {
        let row = Entity::find_by_id((email.to_owned(), source.to_owned()))
            .one(conn)
            .await?;
        let failures = match policy.decide(row.as_ref(), now) {
            Ok(failures) => failures,
            Err(secs) => return Ok(Turn::Wait(secs.max(1))),
        };
        let written = match row {
            None => {
                Entity::insert(sign_in_failure::ActiveModel {
                    email_normalized: Set(email.to_owned()),
                    source: Set(source.to_owned()),
                    failures: Set(failures),
                    last_failed_at: Set(now),
                })
                .on_conflict(
                    OnConflict::columns([COLUMN.email_normalized, COLUMN.source])
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(conn)
                .await?
            }
            Some(row) => {
                Entity::update_many()
                    .col_expr(COLUMN.failures, Expr::value(failures))
                    .col_expr(COLUMN.last_failed_at, Expr::value(now))
                    .filter(COLUMN.email_normalized.eq(email))
                    .filter(COLUMN.source.eq(source))
                    .filter(COLUMN.failures.eq(row.failures))
                    .exec(conn)
                    .await?
                    .rows_affected
            }
        };
        if written == 1 {
            return Ok(Turn::Go);
        }
    }
    // Sixteen lost races in a row: a storm of guesses; this one waits.
    Ok(Turn::Wait(1))
}

/// The password was right: forget this source's failures for the account.
pub async fn clear(conn: &impl ConnectionTrait, email: &str, source: &str) -> Result<()> {
    Entity::delete_many()
        .filter(COLUMN.email_normalized.eq(email))
        .filter(COLUMN.source.eq(source))
        .exec(conn)
        .await?;
    Ok(())
}

/// Forget every source's failures for the account (an admin's unlock); how many
/// sources were waiting.
pub async fn clear_account(conn: &impl ConnectionTrait, email: &str) -> Result<u64> {
    let done = Entity::delete_many()
        .filter(COLUMN.email_normalized.eq(email))
        .exec(conn)
        .await?;
    Ok(done.rows_affected)
}

/// Drop counts nobody has added to for `forget_after`; run periodically.
pub async fn purge(
    conn: &impl ConnectionTrait,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<u64> {
    let done = Entity::delete_many()
        .filter(COLUMN.last_failed_at.lte(now - dur(policy.forget_after)))
        .exec(conn)
        .await?;
    Ok(done.rows_affected)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn row(failures: i32, at: DateTime<Utc>) -> sign_in_failure::Model {
        sign_in_failure::Model {
            email_normalized: "a@example.com".into(),
            source: "1.2.3.4".into(),
            failures,
            last_failed_at: at,
        }
    }

    #[test]
    fn waits_grow_and_are_forgotten() {
        let p = Policy::default();
        let t = DateTime::parse_from_rfc3339("2026-11-28T08:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(p.decide(None, t), Ok(1));
        assert_eq!(p.decide(Some(&row(4, t)), t), Ok(5));
        assert_eq!(p.decide(Some(&row(5, t)), t), Err(60));
        assert_eq!(p.decide(Some(&row(5, t)), t + Duration::seconds(60)), Ok(6));
        assert_eq!(
            p.decide(Some(&row(6, t)), t + Duration::seconds(1)),
            Err(119)
        );
        assert_eq!(p.decide(Some(&row(7, t)), t), Err(240));
        assert_eq!(p.decide(Some(&row(i32::MAX, t)), t), Err(3600), "capped");
        assert_eq!(p.decide(Some(&row(9, t)), t + Duration::hours(24)), Ok(1));
        assert_eq!(
            p.decide(Some(&row(5, t + Duration::seconds(1))), t),
            Err(60),
            "never more than the wait"
        );
    }
}
