//! Which addresses a webhook may be sent to: none that reach into our own network or
//! a cloud's metadata service, in any spelling. The host of a URL is parsed the way
//! browsers and reqwest do (WHATWG: `2130706433`, `0x7f.1` and `017700000001` are
//! all 127.0.0.1), an IPv6 address that carries an IPv4 one (mapped, compatible,
//! NAT64, 6to4) is judged by the IPv4 one too, and an operator's allowlist of
//! networks (empty by default) lets private deployments and tests through.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// Networks no webhook goes to, with the reason a refusal names.
const BLOCKED: &[(&str, &str)] = &[
    ("0.0.0.0/8", "this network"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "carrier-grade NAT"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "6to4 relay anycast"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("100::/64", "discard-only"),
    ("2001::/23", "IETF protocol assignments"),
    ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"),
    ("fc00::/7", "unique-local"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local"),
    ("ff00::/8", "multicast"),
];

/// Why an address is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    pub address: IpAddr,
    pub reason: &'static str,
}

impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.address, self.reason)
    }
}

/// The operator's exceptions: networks webhooks may reach although they are blocked.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub allow: Vec<IpNet>,
}

impl Policy {
    /// `Ok` when a webhook may connect to `address`.
    pub fn check(&self, address: IpAddr) -> Result<(), Blocked> {
        let allowed = |a: &IpAddr| self.allow.iter().any(|net| net.contains(a));
        // An IPv6 address that stands for an IPv4 host (mapped, compatible, SIIT,
        // NAT64) is let through by that IPv4 address: allowing NAT64's prefix must
        // not open the metadata service. Any other address must be allowed itself,
        // and so must every IPv4 address it carries (6to4, ISATAP): allowing
        // 127.0.0.0/8 must not open `fd00::5efe:127.0.0.1`.
        let (carried, stands_for_v4): (Vec<IpAddr>, bool) = match address {
            IpAddr::V6(v6) => (embedded_v4(v6).map(IpAddr::V4).collect(), translated_v4(v6)),
            IpAddr::V4(_) => (Vec::new(), false),
        };
        let let_through = if stands_for_v4 {
            carried.iter().all(allowed)
        } else {
            allowed(&address) && carried.iter().all(allowed)
        };
        if let_through {
            return Ok(());
        }
        if let Some(reason) = blocked_reason(address) {
            return Err(Blocked { address, reason });
        }
        Ok(())
    }
}

fn blocked_reason(address: IpAddr) -> Option<&'static str> {
    if let IpAddr::V6(v6) = address {
        // An IPv6 address that stands for an IPv4 one is judged as that one too.
        if let Some(reason) = embedded_v4(v6).find_map(|v4| blocked_reason(IpAddr::V4(v4))) {
            return Some(reason);
        }
        // Only global unicast (2000::/3) leaves the building; the IPv4 forms outside
        // it (mapped, NAT64) were judged by their IPv4 address. New special ranges
        // (local-use NAT64, SRv6, dummy prefixes…) are refused without a list.
        let mapped = matches!(v6.segments(), [0, 0, 0, 0, 0, 0xffff, _, _]);
        let nat64 = matches!(v6.segments(), [0x64, 0xff9b, 0, 0, 0, 0, _, _]);
        let global = v6.segments().first().is_some_and(|s| s & 0xe000 == 0x2000);
        if !global && !mapped && !nat64 {
            return Some(match v6.segments() {
                [0, 0, 0, 0, 0, 0, 0, 1] => "loopback",
                [0, 0, 0, 0, 0, 0, 0, 0] => "unspecified",
                [first, ..] if first & 0xfe00 == 0xfc00 => "unique-local",
                [first, ..] if first & 0xffc0 == 0xfe80 => "link-local",
                [first, ..] if first & 0xff00 == 0xff00 => "multicast",
                _ => "non-global",
            });
        }
    }
    BLOCKED.iter().find_map(|(net, reason)| {
        net.parse::<IpNet>()
            .ok()
            .filter(|n| n.contains(&address))
            .map(|_| *reason)
    })
}

/// Whether `v6` is an IPv4 address written as IPv6 (mapped, compatible, SIIT,
/// NAT64's well-known prefix): the host it reaches is that IPv4 one.
fn translated_v4(v6: Ipv6Addr) -> bool {
    matches!(
        v6.segments(),
        [0, 0, 0, 0, 0, 0, hi, _] if hi != 0
    ) || matches!(
        v6.segments(),
        [0, 0, 0, 0, 0, 0xffff, _, _]
            | [0, 0, 0, 0, 0xffff, 0, _, _]
            | [0x64, 0xff9b, 0, 0, 0, 0, _, _]
    )
}

/// The IPv4 address an IPv6 one carries: mapped (`::ffff:a.b.c.d`), compatible
/// (`::a.b.c.d`), SIIT (`::ffff:0:a.b.c.d`), NAT64 (`64:ff9b::/96`), 6to4
/// (`2002:AABB:CCDD::/48`) and ISATAP (`…:0:5efe:a.b.c.d`).
fn embedded_v4(v6: Ipv6Addr) -> impl Iterator<Item = Ipv4Addr> {
    let tail = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    let low = match v6.segments() {
        // `::` and `::1` are IPv6's own, not the compatible form.
        [0, 0, 0, 0, 0, 0, hi, lo] if hi != 0 => Some(tail(hi, lo)),
        [0, 0, 0, 0, 0, 0xffff, hi, lo]
        | [0, 0, 0, 0, 0xffff, 0, hi, lo]
        | [0x64, 0xff9b, 0, 0, 0, 0, hi, lo]
        | [_, _, _, _, 0 | 0x200, 0x5efe, hi, lo] => Some(tail(hi, lo)),
        _ => None,
    };
    let six_to_four = match v6.segments() {
        [0x2002, hi, lo, ..] => Some(tail(hi, lo)),
        _ => None,
    };
    low.into_iter().chain(six_to_four)
}

/// The host of `url` as an address when it is written as one (in any spelling the
/// URL standard accepts), `None` when it is a name to resolve.
pub fn literal_host(url: &reqwest::Url) -> Option<IpAddr> {
    // The parser has already written IPv4 in dotted decimal and IPv6 in brackets.
    let host = url.host_str()?;
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(policy: &Policy, url: &str) -> bool {
        let url = reqwest::Url::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        let address = literal_host(&url).unwrap_or_else(|| panic!("{url} names no address"));
        policy.check(address).is_err()
    }

    #[test]
    fn every_spelling_of_a_forbidden_address_is_refused() {
        let policy = Policy::default();
        for url in [
            "http://127.0.0.1/",
            "http://10.0.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[fc00::1]/",
            "http://100.64.0.1/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://017700000001/",
            "http://127.1/",
            "http://0/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[2002:7f00:1::]/",
            "http://[fe80::1]/",
            "http://224.0.0.1/",
            "http://255.255.255.255/",
            "http://192.168.1.1:8080/",
            "http://[2001:db8::1]/",
            "http://[64:ff9b:1::a9fe:a9fe]/",
            "http://[::ffff:0:7f00:1]/",
            "http://[5f00::1]/",
            "http://[100:0:0:1::1]/",
            "http://[2600::5efe:a9fe:a9fe]/",
            "http://[2600::200:5efe:a00:1]/",
            "http://[::a00:1]/",
            "http://[2002:808:808::5efe:7f00:1]/",
        ] {
            assert!(refused(&policy, url), "{url} got through");
        }
    }

    #[test]
    fn public_addresses_pass_and_the_allowlist_opens_a_network() {
        let policy = Policy::default();
        for url in [
            "https://93.184.215.14/",
            "https://[2606:4700::1111]/",
            "https://8.8.8.8/",
            "https://[::ffff:8.8.8.8]/",
            "https://[64:ff9b::808:808]/",
            "https://[2002:808:808::1]/",
        ] {
            assert!(!refused(&policy, url), "{url} refused");
        }
        let open = Policy {
            allow: vec!["127.0.0.0/8".parse().unwrap_or_else(|e| panic!("{e}"))],
        };
        assert!(!refused(&open, "http://127.0.0.1:9000/"));
        assert!(
            !refused(&open, "http://[::ffff:127.0.0.1]:9000/"),
            "the carried IPv4 is allowed"
        );
        assert!(refused(&open, "http://10.0.0.1/"));
        // Only the forms that stand for an IPv4 host pass by it: an ISATAP address
        // in a local network is that network's, whatever it carries.
        for url in [
            "http://[fd00::5efe:7f00:1]/",
            "http://[fe80::5efe:7f00:1]/",
            "http://[ff02::5efe:7f00:1]/",
            "http://[2002:7f00:1::1]/",
        ] {
            assert!(refused(&open, url), "{url} let through");
        }
        // Allowing NAT64's prefix lets public IPv4 through it, not the metadata service.
        let nat64 = Policy {
            allow: vec!["64:ff9b::/96".parse().unwrap_or_else(|e| panic!("{e}"))],
        };
        assert!(refused(&nat64, "http://[64:ff9b::a9fe:a9fe]/"));
        assert!(refused(&nat64, "http://[64:ff9b::a00:1]/"));
        let reason = |a: &str| {
            Policy::default()
                .check(a.parse().unwrap_or_else(|e| panic!("{e}")))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(reason("169.254.169.254"), "169.254.169.254 (link-local)");
        assert_eq!(reason("::1"), "::1 (loopback)");
        assert_eq!(reason("::"), ":: (unspecified)");
    }

    #[test]
    fn the_table_parses() {
        for (net, _) in BLOCKED {
            assert!(net.parse::<IpNet>().is_ok(), "{net}");
        }
    }
}
