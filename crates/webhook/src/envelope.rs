//! The envelope every webhook body and every feed entry has:
//! `{"id": "evt_…", "type": "…", "created_at": "…", "data": {…}}`.

use ordercrm_kernel::events::{entity as event, public_id};
use serde_json::{Value, json};

use crate::model::PayloadStyle;

/// `data` as the style says: the resource's event view, or only what names it.
pub fn envelope(ev: &event::Model, style: PayloadStyle) -> Value {
    let data = match style {
        PayloadStyle::Full => ev.payload.clone(),
        PayloadStyle::Thin => json!({
            "resource": ev.resource_type,
            "id": ev.resource_id,
            "version": ev.resource_version,
        }),
    };
    json!({
        "id": public_id(ev.id),
        "type": ev.event_type,
        "created_at": ev.created_at,
        "data": data,
    })
}
