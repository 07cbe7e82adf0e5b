//! Header rewriting at the proxy: hop-by-hop headers stay on their hop, and the backend learns who
//! asked, for which host, over which scheme (`X-Forwarded-*`).

use std::net::IpAddr;

use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Headers that describe one connection, never the message (RFC 9110 §7.6.1), plus the legacy
/// `Keep-Alive` and `Proxy-Connection`.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

/// Removes hop-by-hop headers, including every header that `Connection` names, and `Upgrade`
/// (the proxy does not tunnel upgraded connections such as WebSockets).
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named.iter().chain(&HOP_BY_HOP) {
        headers.remove(name);
    }
    headers.remove(header::UPGRADE);
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Appends the client to `X-Forwarded-For` (keeping what earlier proxies wrote) and sets
/// `X-Forwarded-Proto` and `X-Forwarded-Host`, which the proxy knows first hand.
pub(crate) fn add_forwarded(
    headers: &mut HeaderMap,
    client: IpAddr,
    proto: &HeaderValue,
    host: Option<&HeaderValue>,
) {
    let earlier: Vec<&str> = headers
        .get_all(&X_FORWARDED_FOR)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    let chain = if earlier.is_empty() {
        client.to_string()
    } else {
        format!("{}, {client}", earlier.join(", "))
    };
    if let Ok(chain) = HeaderValue::from_str(&chain) {
        headers.insert(X_FORWARDED_FOR, chain);
    }
    headers.insert(X_FORWARDED_PROTO, proto.clone());
    match host {
        Some(host) => headers.insert(X_FORWARDED_HOST, host.clone()),
        None => headers.remove(X_FORWARDED_HOST),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        map
    }

    fn names(map: &HeaderMap) -> Vec<&str> {
        let mut names: Vec<&str> = map.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        names
    }

    #[test]
    fn hop_by_hop_headers_and_those_named_by_connection_are_removed() {
        let mut map = headers(&[
            ("connection", "keep-alive, x-session-hint"),
            ("connection", "upgrade"),
            ("keep-alive", "timeout=5"),
            ("x-session-hint", "1"),
            ("te", "trailers"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("proxy-authorization", "Basic eA=="),
            ("accept", "*/*"),
            ("content-length", "3"),
        ]);
        strip_hop_by_hop(&mut map);
        assert_eq!(names(&map), ["accept", "content-length"]);
    }

    #[test]
    fn forwarded_for_appends_the_client_to_the_chain_and_proto_and_host_are_replaced() {
        let cases: [(&[(&'static str, &'static str)], &str); 3] = [
            (&[], "127.0.0.1"),
            (
                &[("x-forwarded-for", "203.0.113.9")],
                "203.0.113.9, 127.0.0.1",
            ),
            (
                &[
                    ("x-forwarded-for", "203.0.113.9"),
                    ("x-forwarded-for", "10.0.0.1"),
                ],
                "203.0.113.9, 10.0.0.1, 127.0.0.1",
            ),
        ];
        for (given, chain) in cases {
            let mut map = headers(given);
            map.insert(X_FORWARDED_PROTO, HeaderValue::from_static("https"));
            add_forwarded(
                &mut map,
                IpAddr::from([127, 0, 0, 1]),
                &HeaderValue::from_static("http"),
                Some(&HeaderValue::from_static("app.example")),
            );
            assert_eq!(
                map.get_all(&X_FORWARDED_FOR).iter().collect::<Vec<_>>(),
                [chain],
                "given {given:?}"
            );
            assert_eq!(map[&X_FORWARDED_PROTO], "http");
            assert_eq!(map[&X_FORWARDED_HOST], "app.example");
        }
    }
}
