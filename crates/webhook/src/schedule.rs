//! When a failed delivery is tried again: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h,
//! 20 h and 24 h after the attempts before, each ±20 % so receivers that come back
//! are not met by every sender at once; after the tenth attempt the delivery is
//! `failed` (and kept, for a redelivery by hand). A receiver that says when to come
//! back (`Retry-After` with 429, 502, 503 or 504) is not asked again sooner, nor
//! later than a day.

use std::time::Duration;

use chrono::{DateTime, Utc};

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;

/// The waits after the first, second, … failed attempt.
pub const RETRY_DELAYS: [Duration; 9] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * MINUTE),
    Duration::from_secs(30 * MINUTE),
    Duration::from_secs(2 * HOUR),
    Duration::from_secs(5 * HOUR),
    Duration::from_secs(10 * HOUR),
    Duration::from_secs(14 * HOUR),
    Duration::from_secs(20 * HOUR),
    Duration::from_secs(24 * HOUR),
];

/// Attempts a delivery gets in all: the first and one per wait.
pub const MAX_ATTEMPTS: u32 = 10;

/// The longest wait a `Retry-After` can ask for.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * HOUR);

/// How far each wait may stray from the schedule, either way.
pub const JITTER: f64 = 0.2;

/// The wait after `attempts` failed attempts, `None` when that was the last.
/// `jitter` is a random number in [-1, 1]; `retry_after` what the receiver asked.
pub fn next_delay(attempts: u32, jitter: f64, retry_after: Option<Duration>) -> Option<Duration> {
    let index = usize::try_from(attempts.checked_sub(1)?).ok()?;
    let planned = RETRY_DELAYS.get(index)?;
    let jittered = planned.mul_f64(1.0 + JITTER * jitter.clamp(-1.0, 1.0));
    Some(match retry_after {
        Some(asked) => jittered.max(asked.min(MAX_RETRY_AFTER)),
        None => jittered,
    })
}

/// Whether a response with this status may ask for a later retry with `Retry-After`.
pub fn honours_retry_after(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// A `Retry-After` value: seconds, or an HTTP date (a wait from `now`). Nonsense
/// and dates in the past ask for nothing.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    (at.with_timezone(&Utc) - now).to_std().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_with_its_jitter_and_its_end() {
        assert_eq!(next_delay(1, 0.0, None), Some(Duration::from_secs(5)));
        assert_eq!(next_delay(1, 1.0, None), Some(Duration::from_secs(6)));
        assert_eq!(next_delay(1, -1.0, None), Some(Duration::from_secs(4)));
        assert_eq!(next_delay(2, 0.5, None), Some(Duration::from_secs(330)));
        assert_eq!(
            next_delay(9, 0.0, None),
            Some(Duration::from_secs(24 * HOUR))
        );
        assert_eq!(next_delay(10, 0.0, None), None, "ten attempts in all");
        assert_eq!(next_delay(0, 0.0, None), None);
        assert_eq!(MAX_ATTEMPTS as usize, RETRY_DELAYS.len() + 1);
        // Out-of-range jitter is held to ±20 %.
        assert_eq!(next_delay(1, 7.0, None), Some(Duration::from_secs(6)));
    }

    #[test]
    fn a_receiver_is_not_asked_again_before_it_said() {
        let asked = Some(Duration::from_secs(120));
        assert_eq!(next_delay(1, 1.0, asked), Some(Duration::from_secs(120)));
        // A shorter ask does not shorten the schedule.
        assert_eq!(
            next_delay(3, 0.0, Some(Duration::from_secs(60))),
            Some(Duration::from_secs(30 * MINUTE))
        );
        // Nor can it push the next attempt past a day.
        assert_eq!(
            next_delay(1, 0.0, Some(Duration::from_secs(10 * 24 * HOUR))),
            Some(MAX_RETRY_AFTER)
        );
        assert!(honours_retry_after(429) && honours_retry_after(503));
        assert!(!honours_retry_after(500) && !honours_retry_after(410));
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now: DateTime<Utc> = "2026-11-29T08:00:00Z".parse().unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Sun, 29 Nov 2026 08:02:00 GMT", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Sun, 29 Nov 2026 07:00:00 GMT", now),
            None
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }
}
