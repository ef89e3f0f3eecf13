//! Named points inside a request where a test can pause it: between a check and the
//! write that depends on it, so races are shown deterministically instead of hoped
//! for. Production servers carry no hook, and `at` is a no-op then.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

type HookFn = dyn Fn(&'static str) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync;

#[derive(Clone, Default)]
pub struct Hooks(Option<Arc<HookFn>>);

impl Hooks {
    /// Call `f` with the point's name every time a request passes a hook point.
    pub fn new<F, Fut>(f: F) -> Self
    where
        F: Fn(&'static str) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Self(Some(Arc::new(move |point| Box::pin(f(point)))))
    }

    pub async fn at(&self, point: &'static str) {
        if let Some(f) = &self.0 {
            f(point).await;
        }
    }
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Hooks(set)"
        } else {
            "Hooks(none)"
        })
    }
}
