//! A webhook receiver: a real HTTP server on 127.0.0.1 that records every request
//! and answers as told (a status, headers, a delay).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Captured {
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Captured {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// How the receiver answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub delay: Duration,
    pub body: String,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            delay: Duration::ZERO,
            body: "ok".to_owned(),
        }
    }

    pub fn body(mut self, body: &str) -> Self {
        self.body = body.to_owned();
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// Chooses the answer from the request (and the requests before it), or leaves it
/// to the standing reply.
type Script = Arc<dyn Fn(&Captured, &[Captured]) -> Option<Reply> + Send + Sync>;

#[derive(Clone)]
struct Shared {
    log: Arc<Mutex<Vec<Captured>>>,
    reply: Arc<Mutex<Reply>>,
    script: Arc<Mutex<Option<Script>>>,
}

pub struct Receiver {
    /// `http://127.0.0.1:<port>/hook`
    pub url: String,
    shared: Shared,
    handle: ServerHandle,
}

async fn receive(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let captured = Captured {
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        body: body.to_vec(),
        at: Instant::now(),
    };
    let reply = {
        let mut log = shared.log.lock().unwrap();
        let script = shared.script.lock().unwrap().clone();
        let scripted = script.and_then(|f| f(&captured, &log));
        log.push(captured);
        scripted.unwrap_or_else(|| shared.reply.lock().unwrap().clone())
    };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut res = HttpResponse::build(actix_web::http::StatusCode::from_u16(reply.status).unwrap());
    for (name, value) in &reply.headers {
        res.insert_header((name.as_str(), value.as_str()));
    }
    res.body(reply.body)
}

impl Receiver {
    /// A receiver answering 200 at once.
    pub async fn start() -> Receiver {
        let shared = Shared {
            log: Arc::default(),
            reply: Arc::new(Mutex::new(Reply::status(200))),
            script: Arc::default(),
        };
        let data = web::Data::new(shared.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(receive))
        })
        .workers(1)
        .max_connections(4096)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .unwrap();
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            shared,
            handle,
        }
    }

    pub fn reply_with(&self, reply: Reply) {
        *self.shared.reply.lock().unwrap() = reply;
    }

    /// Answer each request as `f` says (given it and the ones before), or with the
    /// standing reply when it says nothing.
    pub fn reply_by(
        &self,
        f: impl Fn(&Captured, &[Captured]) -> Option<Reply> + Send + Sync + 'static,
    ) {
        *self.shared.script.lock().unwrap() = Some(Arc::new(f));
    }

    pub fn received(&self) -> Vec<Captured> {
        self.shared.log.lock().unwrap().clone()
    }

    /// Wait (up to `within`) until at least `n` requests came; all of them.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Captured> {
        let until = Instant::now() + within;
        loop {
            let got = self.received();
            if got.len() >= n || Instant::now() > until {
                assert!(
                    got.len() >= n,
                    "the receiver got {} requests within {within:?}, not {n}",
                    got.len()
                );
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Assert that no more than `n` requests come in the next `d`.
    pub async fn stays_at(&self, n: usize, d: Duration) {
        tokio::time::sleep(d).await;
        assert_eq!(self.received().len(), n, "requests after waiting {d:?}");
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}
