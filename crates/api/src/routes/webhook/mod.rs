//! Webhooks: the endpoints events are pushed to, the delivery log, and the feed.

pub mod deliveries;
pub mod endpoints;
pub mod feed;
