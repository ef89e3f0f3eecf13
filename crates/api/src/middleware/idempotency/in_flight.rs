//! The keys this process is working on right now. A retry that arrives while the
//! first request with its key still runs waits here for it, then finds its answer in
//! the store. The database is what makes a key run once (the claim row, inside the
//! request's transaction); this registry only turns "wait for the writer" into "wait
//! for that request": on SQLite one writer serves every request, so without it a
//! retry could not tell its twin from any other write, and a request with an
//! unrelated key would have no reason to stop waiting early. Across instances on
//! PostgreSQL, the claim row's lock does the waiting.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;

use super::KeyRef;

type Name = (String, String);

#[derive(Debug, Default)]
pub struct InFlight(Mutex<HashMap<Name, Arc<Notify>>>);

/// Holding a key; dropping it lets the next request with the key go.
pub struct Entry {
    registry: Arc<InFlight>,
    name: Name,
    done: Arc<Notify>,
}

impl InFlight {
    /// Take `key`, waiting at most `wait` for a request of this process holding it.
    /// `None`: it is still held.
    pub async fn enter(self: &Arc<Self>, key: &KeyRef, wait: Duration) -> Option<Entry> {
        let name = (key.scope.clone(), key.key.clone());
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let held = {
                let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
                match map.get(&name) {
                    Some(done) => done.clone(),
                    None => {
                        let done = Arc::new(Notify::new());
                        map.insert(name.clone(), done.clone());
                        return Some(Entry {
                            registry: self.clone(),
                            name,
                            done,
                        });
                    }
                }
            };
            // Registered as soon as it exists, so a release in between is not missed.
            let released = held.notified();
            if tokio::time::timeout_at(deadline, released).await.is_err() {
                return None;
            }
        }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        let mut map = self
            .registry
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if map
            .get(&self.name)
            .is_some_and(|d| Arc::ptr_eq(d, &self.done))
        {
            map.remove(&self.name);
        }
        self.done.notify_waiters();
    }
}
