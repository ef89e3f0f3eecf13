//! Webhooks: the endpoints events are pushed to.

pub mod endpoints;
