//! The delivery log and what can be done with it: every delivery and each attempt,
//! read by whoever manages its endpoint; one delivery sent again now
//! (redeliver); every delivery of an endpoint that did not succeed since a time
//! sent again, oldest first, with its own `webhook-id` (recover); and a test
//! delivery sent at once. None of these writes an event: they change no business
//! resource (the audit log has them).

pub mod commands;
pub mod queries;
