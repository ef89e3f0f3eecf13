//! Where a webhook may go. A URL is judged when it is registered and again when
//! each delivery is sent: `https` (or `http`, when the operator allows it), no
//! credentials in it, and a host that is, or resolves only to, addresses the
//! [`Policy`] lets through. Names are looked up through [`Resolve`], so tests map
//! names to forbidden addresses without any traffic leaving the machine.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;

use crate::ssrf::{Blocked, Policy, literal_host};

/// Longest URL an endpoint may have.
pub const MAX_URL_CHARS: usize = 2048;
/// How long a lookup may take at registration.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

pub type Lookup = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>>;

/// Names to addresses.
pub trait Resolve: Send + Sync {
    fn resolve(&self, host: &str) -> Lookup;
}

/// The operating system's resolver.
#[derive(Debug, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, host: &str) -> Lookup {
        let host = host.to_owned();
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .map(|a| a.ip())
                .collect())
        })
    }
}

/// A fixed table (tests): a name not in it does not resolve.
#[derive(Debug, Default, Clone)]
pub struct StaticResolver(pub HashMap<String, Vec<IpAddr>>);

impl Resolve for StaticResolver {
    fn resolve(&self, host: &str) -> Lookup {
        let found = self.0.get(host).cloned();
        let host = host.to_owned();
        Box::pin(async move {
            found.ok_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, format!("{host} is unknown"))
            })
        })
    }
}

/// Told the host and the addresses a delivery is about to connect to, after the
/// guard let them through; `false` refuses the connection. Tests record with it and
/// refuse everything, so a guard that fails shows as a failed assertion, never as a
/// connection leaving the machine. Production has none.
pub type ConnectHook = Arc<dyn Fn(&str, &[IpAddr]) -> bool + Send + Sync>;

/// The operator's rules for webhook URLs.
#[derive(Clone)]
pub struct Destinations {
    /// Plain `http` URLs are accepted (private deployments, tests).
    pub allow_http: bool,
    pub policy: Policy,
    pub resolver: Arc<dyn Resolve>,
    pub connect_hook: Option<ConnectHook>,
}

impl Default for Destinations {
    fn default() -> Self {
        Self {
            allow_http: false,
            policy: Policy::default(),
            resolver: Arc::new(SystemResolver),
            connect_hook: None,
        }
    }
}

impl fmt::Debug for Destinations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Destinations")
            .field("allow_http", &self.allow_http)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not a URL, longer than [`MAX_URL_CHARS`], or with a fragment.
    Malformed(String),
    Scheme(String),
    Credentials,
    /// A literal address webhooks may not reach.
    Blocked(Blocked),
    /// A name for our own machine or network, or one resolving to such an address
    /// (which is not named: the caller need not learn our internal addresses).
    BlockedName {
        host: String,
        reason: &'static str,
    },
    /// At send time: the name has no address (now).
    Unresolved(String),
    /// At send time: the connect hook said no (tests).
    Hook(String),
}

impl Refusal {
    /// The field error's code.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Malformed(_) => "invalid_url",
            Refusal::Scheme(_) => "insecure_url",
            Refusal::Credentials => "credentials_in_url",
            Refusal::Blocked(_) | Refusal::BlockedName { .. } | Refusal::Hook(_) => {
                "blocked_address"
            }
            Refusal::Unresolved(_) => "unresolved",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Malformed(why) => f.write_str(why),
            Refusal::Scheme(why) => f.write_str(why),
            Refusal::Credentials => f.write_str(
                "a URL may not carry a user name or password; authenticate receivers by the signature",
            ),
            Refusal::Blocked(b) => write!(f, "webhooks may not reach {b}"),
            Refusal::BlockedName { host, reason } => write!(
                f,
                "{host} names or resolves to an address webhooks may not reach ({reason})"
            ),
            Refusal::Unresolved(host) => write!(f, "{host} does not resolve"),
            Refusal::Hook(host) => write!(f, "the connection to {host} was refused by a hook"),
        }
    }
}

impl std::error::Error for Refusal {}

/// A URL that passed the checks at registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedUrl(Url);

impl CheckedUrl {
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl Destinations {
    /// The URL's form alone (no lookup).
    pub fn check_form(&self, text: &str) -> Result<Url, Refusal> {
        if text.chars().count() > MAX_URL_CHARS {
            return Err(Refusal::Malformed(format!(
                "at most {MAX_URL_CHARS} characters"
            )));
        }
        let url = Url::parse(text.trim())
            .map_err(|e| Refusal::Malformed(format!("not an absolute URL: {e}")))?;
        // What is stored and sent is the parsed form, which can be far longer
        // (a non-ASCII path is percent-encoded).
        if url.as_str().len() > MAX_URL_CHARS {
            return Err(Refusal::Malformed(format!(
                "at most {MAX_URL_CHARS} characters once encoded"
            )));
        }
        if url.port() == Some(0) {
            return Err(Refusal::Malformed("port 0 cannot be reached".into()));
        }
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            "http" => {
                return Err(Refusal::Scheme(
                    "must be https (this server does not allow plain http)".into(),
                ));
            }
            other => {
                return Err(Refusal::Scheme(format!("must be https, not {other}")));
            }
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refusal::Credentials);
        }
        if url.fragment().is_some() {
            return Err(Refusal::Malformed(
                "a fragment (#…) is never sent; leave it out".into(),
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(Refusal::Malformed("has no host".into()));
        }
        Ok(url)
    }

    /// At registration: the form, then the address. A literal address is judged as
    /// it is; a name by every address it resolves to now (a name that does not
    /// resolve yet is accepted: each delivery resolves and judges it again).
    pub async fn check(&self, text: &str) -> Result<CheckedUrl, Refusal> {
        let url = self.check_form(text)?;
        if let Some(ip) = literal_host(&url) {
            self.policy.check(ip).map_err(Refusal::Blocked)?;
            return Ok(CheckedUrl(url));
        }
        match self.judge_name(url.host_str().unwrap_or_default()).await {
            Ok(_) | Err(Refusal::Unresolved(_)) => Ok(CheckedUrl(url)),
            Err(refusal) => Err(refusal),
        }
    }

    /// At send time: the addresses `host` (a name) may be reached at, every one of
    /// them judged, then shown to the connect hook. The connection goes to these and
    /// no others: nothing looks the name up a second time to be rebound.
    pub async fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, Refusal> {
        let addresses = self.judge_name(host).await?;
        self.may_connect(host, &addresses)?;
        Ok(addresses)
    }

    /// Every address `host` resolves to, if the policy lets each of them through.
    async fn judge_name(&self, host: &str) -> Result<Vec<IpAddr>, Refusal> {
        // `localhost.` is `localhost`: one name, with or without the root's dot.
        let name = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        // RFC 6761: these always mean this machine, whatever a resolver says.
        if name == "localhost" || name.ends_with(".localhost") {
            return Err(Refusal::BlockedName {
                host: host.to_owned(),
                reason: "loopback",
            });
        }
        let addresses =
            match tokio::time::timeout(LOOKUP_TIMEOUT, self.resolver.resolve(&name)).await {
                Ok(Ok(addresses)) if !addresses.is_empty() => addresses,
                _ => return Err(Refusal::Unresolved(host.to_owned())),
            };
        for ip in &addresses {
            self.policy.check(*ip).map_err(|b| Refusal::BlockedName {
                host: host.to_owned(),
                reason: b.reason,
            })?;
        }
        Ok(addresses)
    }

    /// Ask the connect hook, if there is one.
    pub fn may_connect(&self, host: &str, addresses: &[IpAddr]) -> Result<(), Refusal> {
        match &self.connect_hook {
            Some(hook) if !hook(host, addresses) => Err(Refusal::Hook(host.to_owned())),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn destinations(allow_http: bool, names: &[(&str, &str)]) -> Destinations {
        Destinations {
            allow_http,
            policy: Policy::default(),
            resolver: Arc::new(StaticResolver(
                names
                    .iter()
                    .map(|(n, a)| ((*n).to_owned(), vec![a.parse().unwrap()]))
                    .collect(),
            )),
            connect_hook: None,
        }
    }

    fn refused(d: &Destinations, url: &str) -> Option<&'static str> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(d.check(url)).err().map(|r| r.code())
    }

    #[test]
    fn forms_that_are_refused() {
        let d = destinations(false, &[]);
        assert_eq!(refused(&d, "http://example.com/"), Some("insecure_url"));
        assert_eq!(refused(&d, "ftp://example.com/"), Some("insecure_url"));
        assert_eq!(
            refused(&d, "https://u:p@example.com/"),
            Some("credentials_in_url")
        );
        assert_eq!(refused(&d, "https://example.com/#x"), Some("invalid_url"));
        assert_eq!(refused(&d, "example.com/hook"), Some("invalid_url"));
        assert_eq!(
            refused(&d, &format!("https://e.com/{}", "a".repeat(2048))),
            Some("invalid_url")
        );
        assert_eq!(refused(&d, "https://unresolvable.example/"), None);
        assert_eq!(refused(&d, "https://e.com:0/"), Some("invalid_url"));
        // Short as typed, too long once encoded.
        assert_eq!(
            refused(&d, &format!("https://e.com/{}", "中".repeat(700))),
            Some("invalid_url")
        );
        for local in [
            "https://localhost/",
            "https://LOCALHOST./",
            "https://foo.localhost/",
        ] {
            assert_eq!(refused(&d, local), Some("blocked_address"), "{local}");
        }
    }

    #[test]
    fn every_spelling_of_a_forbidden_address_is_refused() {
        let d = destinations(
            true,
            &[
                ("internal.test", "10.1.2.3"),
                ("fine.test", "93.184.215.14"),
            ],
        );
        for url in [
            "http://127.0.0.1/",
            "http://10.0.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[fc00::1]/",
            "http://100.64.0.1/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://internal.test/",
            "http://internal.test./",
        ] {
            assert_eq!(refused(&d, url), Some("blocked_address"), "{url}");
        }
        assert_eq!(refused(&d, "http://fine.test/"), None);
        assert_eq!(refused(&d, "http://93.184.215.14/"), None);
    }

    #[test]
    fn the_allowlist_opens_a_network() {
        let mut d = destinations(true, &[]);
        d.policy.allow = vec!["127.0.0.0/8".parse().unwrap()];
        assert_eq!(refused(&d, "http://127.0.0.1:8080/hook"), None);
        assert_eq!(refused(&d, "http://10.0.0.1/"), Some("blocked_address"));
    }
}
