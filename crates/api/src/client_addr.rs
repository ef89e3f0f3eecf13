//! Who is on the other end. Behind a load balancer every connection comes from the
//! balancer, so the client is named by `X-Forwarded-For`; but anyone can write that
//! header, so it is believed only when the connection comes from a proxy the operator
//! listed (`ORDERCRM_TRUSTED_PROXIES`), and only as far back as the chain of trusted
//! proxies reaches.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use actix_web::http::header::{HeaderMap, HeaderName};
use ipnet::IpNet;

const FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The resolved client address of a request (set by the request-id middleware).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    /// The peer, or, when the peer is a trusted proxy, the nearest address in
    /// `X-Forwarded-For` that is not one of ours.
    pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> ClientAddr {
        let trusts = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
        let mut client = peer.to_canonical();
        if !trusts(&client) {
            return ClientAddr(client);
        }
        let hops: Vec<&str> = headers
            .get_all(FORWARDED_FOR)
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        // Right to left: each hop was written by the proxy after it.
        for hop in hops.iter().rev() {
            let Some(ip) = parse_hop(hop) else {
                // Garbage in a trusted chain: stop at the last proxy we can name.
                break;
            };
            client = ip;
            if !trusts(&client) {
                break;
            }
        }
        ClientAddr(client)
    }

    /// The key limits and sign-in counters use for this source: the address, or for
    /// IPv6 its /64 (one subscriber's allocation; counting single v6 addresses would
    /// give every attacker 2^64 fresh identities).
    pub fn source(&self) -> String {
        match self.0 {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => {
                let s = v6.segments();
                let net = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{net}/64")
            }
        }
    }
}

impl std::fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
}

/// `ORDERCRM_TRUSTED_PROXIES`: comma-separated addresses or CIDRs.
pub fn parse_trusted(list: &str) -> Result<Vec<IpNet>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("'{s}' is not an address or CIDR such as 10.0.0.0/8"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use actix_web::http::header::HeaderValue;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append(FORWARDED_FOR, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = parse_trusted("10.0.0.0/8, 192.0.2.1").unwrap();
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        let h = headers(&["1.2.3.4"]);
        assert_eq!(
            ClientAddr::resolve(peer, &h, &trusted).0,
            peer,
            "untrusted peer"
        );
        let lb: IpAddr = "10.1.1.1".parse().unwrap();
        // The client forged the first hop; the balancer appended the real one.
        let h = headers(&["6.6.6.6, 198.51.100.7, 192.0.2.1"]);
        assert_eq!(
            ClientAddr::resolve(lb, &h, &trusted).to_string(),
            "198.51.100.7"
        );
        let h = headers(&["6.6.6.6", "198.51.100.7"]);
        assert_eq!(
            ClientAddr::resolve(lb, &h, &trusted).to_string(),
            "198.51.100.7",
            "several header lines are one list"
        );
        let h = headers(&["not-an-ip"]);
        assert_eq!(ClientAddr::resolve(lb, &h, &trusted).0, lb);
        assert_eq!(ClientAddr::resolve(lb, &HeaderMap::new(), &[]).0, lb);
    }

    #[test]
    fn ipv6_sources_are_their_64() {
        let a = ClientAddr("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = ClientAddr("2001:db8:1:2:bbbb::2".parse().unwrap());
        assert_eq!(a.source(), "2001:db8:1:2::/64");
        assert_eq!(a.source(), b.source());
        let mapped = ClientAddr::resolve("::ffff:1.2.3.4".parse().unwrap(), &HeaderMap::new(), &[]);
        assert_eq!(mapped.source(), "1.2.3.4");
        assert!(parse_trusted("10.0.0.0/33").is_err());
    }
}
