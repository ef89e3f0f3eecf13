//! Named points inside a request where a test can pause it: between a check and the
//! write that depends on it, so races are shown deterministically instead of hoped
//! for. Production servers carry no hook, and `at` and `responded` are no-ops then.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

type HookFn = dyn Fn(&'static str) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync;
type ResponseFn = dyn Fn(&str, &str, u16, Option<&str>) + Send + Sync;

#[derive(Clone, Default)]
pub struct Hooks {
    point: Option<Arc<HookFn>>,
    response: Option<Arc<ResponseFn>>,
}

impl Hooks {
    /// Call `f` with the point's name every time a request passes a hook point.
    pub fn new<F, Fut>(f: F) -> Self
    where
        F: Fn(&'static str) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Self {
            point: Some(Arc::new(move |point| Box::pin(f(point)))),
            response: None,
        }
    }

    /// Also call `f(method, route template, status, problem type)` for every response
    /// the server sends to a request that matched a route: the test suite checks each
    /// status and problem type it saw against the OpenAPI document.
    #[must_use]
    pub fn on_response(
        mut self,
        f: impl Fn(&str, &str, u16, Option<&str>) + Send + Sync + 'static,
    ) -> Self {
        self.response = Some(Arc::new(f));
        self
    }

    pub async fn at(&self, point: &'static str) {
        if let Some(f) = &self.point {
            f(point).await;
        }
    }

    pub fn responded(&self, method: &str, route: &str, status: u16, problem: Option<&str>) {
        if let Some(f) = &self.response {
            f(method, route, status, problem);
        }
    }
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.point.is_some() || self.response.is_some() {
            "Hooks(set)"
        } else {
            "Hooks(none)"
        })
    }
}
