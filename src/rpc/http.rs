//! The HTTP layers in front of JSON-RPC, outermost first:
//!
//! - [`AccessLayer`]: the browser checks. A web page can make the user's browser send
//!   requests to a node on localhost, as a cross-site POST or WebSocket (neither needs the
//!   node's consent), or, through DNS rebinding, as same-origin requests to a name the attacker
//!   controls. So every request whose `Origin` header is not allowed (`--rpc-cors`), and every
//!   request whose `Host` is a name not allowed (`--rpc-allowed-hosts`), gets HTTP 403 before
//!   JSON-RPC sees it. Requests without an `Origin` (curl, the CLI, other programs) pass the
//!   origin check; a browser always sends one on cross-origin requests and WebSocket upgrades.
//! - [`HttpRoutesLayer`]: plain HTTP routes on the same address, `GET /metrics` (Prometheus
//!   text) and `GET /health`.
//!
//! The host check accepts every IP literal: rebinding needs a DNS name the attacker controls,
//! and a page served from an IP address is still subject to the origin check. Names must be
//! `localhost` or listed.

use crate::node::NodeHandle;
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Origins a browser page may call from when `--rpc-cors` is not given: pages served from
/// this machine.
pub const DEFAULT_CORS: [&str; 6] = [
    "http://localhost:*",
    "https://localhost:*",
    "http://127.0.0.1:*",
    "https://127.0.0.1:*",
    "http://[::1]:*",
    "https://[::1]:*",
];

/// `all`, or a list (of origins for `--rpc-cors`, of host names for `--rpc-allowed-hosts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowList {
    All,
    Only(Vec<String>),
}

impl std::str::FromStr for AllowList {
    type Err = std::convert::Infallible;

    /// `all`, or a comma-separated list.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim().eq_ignore_ascii_case("all") {
            return Ok(AllowList::All);
        }
        Ok(AllowList::Only(s.split(',').map(str::trim).filter(|e| !e.is_empty()).map(String::from).collect()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("--rpc-cors: {0:?} is not an origin; write SCHEME://HOST[:PORT] (PORT may be `*`), or `all`")]
    Origin(String),
    #[error("--rpc-allowed-hosts: {0:?} is not a host name; write HOST or HOST:PORT, or `all`")]
    Host(String),
}

/// The browser checks: which origins and which `Host` names are answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcAccess {
    /// `None`: every origin.
    origins: Option<Vec<OriginPattern>>,
    /// Host names (lower case, no port) besides `localhost` and IP literals; `None`: every
    /// host.
    hosts: Option<Vec<String>>,
}

impl Default for RpcAccess {
    /// Localhost origins, and only `localhost` among names.
    fn default() -> Self {
        RpcAccess::new(None, None).unwrap_or(RpcAccess { origins: Some(Vec::new()), hosts: Some(Vec::new()) })
    }
}

impl RpcAccess {
    /// From `--rpc-cors` and `--rpc-allowed-hosts` (`None`: the defaults).
    pub fn new(cors: Option<&AllowList>, hosts: Option<&AllowList>) -> Result<Self, AccessError> {
        let origins = match cors {
            Some(AllowList::All) => None,
            Some(AllowList::Only(list)) => {
                Some(list.iter().map(|o| OriginPattern::parse(o)).collect::<Result<_, _>>()?)
            }
            None => Some(DEFAULT_CORS.iter().map(|o| OriginPattern::parse(o)).collect::<Result<_, _>>()?),
        };
        let hosts = match hosts {
            Some(AllowList::All) => None,
            Some(AllowList::Only(list)) => Some(list.iter().map(|h| host_name(h)).collect::<Result<_, _>>()?),
            None => Some(Vec::new()),
        };
        Ok(RpcAccess { origins, hosts })
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        match &self.origins {
            None => true,
            Some(patterns) => Origin::parse(origin).is_some_and(|o| patterns.iter().any(|p| p.matches(&o))),
        }
    }

    fn host_allowed(&self, host: &str) -> bool {
        let Some(names) = &self.hosts else { return true };
        let Ok(authority) = host.parse::<http::uri::Authority>() else { return false };
        let name = authority.host();
        is_ip_literal(name)
            || name.eq_ignore_ascii_case("localhost")
            || names.iter().any(|n| n.eq_ignore_ascii_case(name))
    }
}

/// `origin` is `http://HOST` or `https://HOST` for the request's `Host`.
fn same_origin(origin: &str, host: Option<&str>) -> bool {
    let Some(host) = host else { return false };
    let rest = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
    rest.is_some_and(|r| r.eq_ignore_ascii_case(host))
}

fn is_ip_literal(host: &str) -> bool {
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    bare.parse::<IpAddr>().is_ok()
}

/// The host part of an `--rpc-allowed-hosts` entry.
fn host_name(entry: &str) -> Result<String, AccessError> {
    let bad = || AccessError::Host(entry.to_string());
    let authority = entry.parse::<http::uri::Authority>().map_err(|_| bad())?;
    if authority.as_str().contains('@') || authority.host().is_empty() {
        return Err(bad());
    }
    Ok(authority.host().to_ascii_lowercase())
}

/// A browser's `Origin`: scheme, host and port (`None`: the scheme's default).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Origin {
    fn parse(s: &str) -> Option<Origin> {
        let (scheme, rest) = s.split_once("://")?;
        let authority = rest.parse::<http::uri::Authority>().ok()?;
        if authority.as_str().contains('@') || authority.host().is_empty() {
            return None;
        }
        Some(Origin {
            scheme: scheme.to_ascii_lowercase(),
            host: authority.host().to_ascii_lowercase(),
            port: authority.port_u16(),
        })
    }
}

/// An allowed origin; the port may be any (`:*`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct OriginPattern {
    origin: Origin,
    any_port: bool,
}

impl OriginPattern {
    fn parse(s: &str) -> Result<OriginPattern, AccessError> {
        let bad = || AccessError::Origin(s.to_string());
        let (text, any_port) = match s.strip_suffix(":*") {
            Some(t) => (t, true),
            None => (s, false),
        };
        let origin = Origin::parse(text).ok_or_else(bad)?;
        if any_port && origin.port.is_some() {
            return Err(bad());
        }
        Ok(OriginPattern { origin, any_port })
    }

    fn matches(&self, o: &Origin) -> bool {
        self.origin.scheme == o.scheme && self.origin.host == o.host && (self.any_port || self.origin.port == o.port)
    }
}

/// Put in the extensions of requests that came from a browser page on another machine (an
/// `Origin` other than the default localhost ones), so unsafe methods can refuse them even
/// when `--rpc-cors` lets the page in.
#[derive(Debug, Clone, Copy)]
pub struct ForeignOrigin;

#[derive(Clone)]
pub struct AccessLayer {
    access: Arc<RpcAccess>,
    /// The default origins, which decide [`ForeignOrigin`].
    local: Arc<RpcAccess>,
}

impl AccessLayer {
    pub fn new(access: RpcAccess) -> Self {
        AccessLayer { access: Arc::new(access), local: Arc::new(RpcAccess::default()) }
    }
}

impl<S> tower::Layer<S> for AccessLayer {
    type Service = Access<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Access { inner, access: self.access.clone(), local: self.local.clone() }
    }
}

#[derive(Clone)]
pub struct Access<S> {
    inner: S,
    access: Arc<RpcAccess>,
    local: Arc<RpcAccess>,
}

fn forbidden(body: String) -> HttpResponse {
    tracing::debug!(reason = %body.trim_end(), "RPC request refused");
    respond(403, "text/plain; charset=utf-8", body)
}

impl<S, B> tower::Service<HttpRequest<B>> for Access<S>
where
    S: tower::Service<HttpRequest<B>, Response = HttpResponse>,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: HttpRequest<B>) -> Self::Future {
        // HTTP/1.1 names the host in `Host`, HTTP/2 in the request target.
        let host = match req.headers().get(http::header::HOST) {
            Some(h) => h.to_str().ok().map(String::from),
            None => req.uri().authority().map(|a| a.to_string()),
        };
        let refused = match &host {
            None => Some(forbidden("the request has no Host header\n".into())),
            Some(h) if !self.access.host_allowed(h) => Some(forbidden(format!(
                "Host {h:?} is not allowed; start the node with --rpc-allowed-hosts NAME (or `all`) to accept it\n"
            ))),
            Some(_) => None,
        };
        if let Some(r) = refused {
            return Box::pin(async move { Ok(r) });
        }
        let origin = match req.headers().get(http::header::ORIGIN).map(|o| o.to_str()) {
            None => None,
            Some(Ok(o)) => Some(o.to_string()),
            Some(Err(_)) => return Box::pin(async { Ok(forbidden("the Origin header is not text\n".into())) }),
        };
        if let Some(o) = &origin {
            // The explorer this node serves at `/` calls it from its own origin (the Host it
            // was asked for, already allowed above): read methods only, as any foreign page.
            if !self.access.origin_allowed(o) && !same_origin(o, host.as_deref()) {
                let body = format!(
                    "Origin {o:?} is not allowed; start the node with --rpc-cors {o} (or `all`) to accept it\n"
                );
                return Box::pin(async move { Ok(forbidden(body)) });
            }
            if !self.local.origin_allowed(o) {
                req.extensions_mut().insert(ForeignOrigin);
            }
        }
        if req.method() == http::Method::OPTIONS {
            let mut r = respond(204, "text/plain; charset=utf-8", String::new());
            let h = r.headers_mut();
            h.insert(http::header::ACCESS_CONTROL_ALLOW_METHODS, http::HeaderValue::from_static("POST, GET, OPTIONS"));
            h.insert(http::header::ACCESS_CONTROL_ALLOW_HEADERS, http::HeaderValue::from_static("content-type"));
            h.insert(http::header::ACCESS_CONTROL_MAX_AGE, http::HeaderValue::from_static("3600"));
            allow_origin(&mut r, origin.as_deref());
            return Box::pin(async move { Ok(r) });
        }
        let fut = self.inner.call(req);
        Box::pin(async move {
            let mut r = fut.await?;
            allow_origin(&mut r, origin.as_deref());
            Ok(r)
        })
    }
}

/// Lets the page at `origin` (already checked) read the response.
fn allow_origin(r: &mut HttpResponse, origin: Option<&str>) {
    let Some(value) = origin.and_then(|o| http::HeaderValue::from_str(o).ok()) else { return };
    let h = r.headers_mut();
    h.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    h.append(http::header::VARY, http::HeaderValue::from_static("origin"));
}

#[derive(Clone)]
pub struct HttpRoutesLayer {
    node: NodeHandle,
}

impl HttpRoutesLayer {
    pub fn new(node: NodeHandle) -> Self {
        HttpRoutesLayer { node }
    }
}

impl<S> tower::Layer<S> for HttpRoutesLayer {
    type Service = HttpRoutes<S>;
    fn layer(&self, inner: S) -> Self::Service {
        HttpRoutes { inner, node: self.node.clone() }
    }
}

#[derive(Clone)]
pub struct HttpRoutes<S> {
    inner: S,
    node: NodeHandle,
}

fn respond(status: u16, content_type: &'static str, body: String) -> HttpResponse {
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, content_type)
        .body(HttpBody::from(body))
        .unwrap_or_else(|_| http::Response::new(HttpBody::from("internal error")))
}

impl<S, B> tower::Service<HttpRequest<B>> for HttpRoutes<S>
where
    S: tower::Service<HttpRequest<B>, Response = HttpResponse>,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: HttpRequest<B>) -> Self::Future {
        // A WebSocket handshake is a GET of `/` too: it goes on to jsonrpsee.
        let upgrade = req.headers().contains_key(http::header::UPGRADE);
        if req.method() == http::Method::GET && !upgrade {
            match req.uri().path() {
                "/favicon.ico" => return Box::pin(async { Ok(respond(204, "image/x-icon", String::new())) }),
                "/" | "/index.html" => {
                    let page = super::explorer::PAGE.to_string();
                    return Box::pin(async move { Ok(respond(200, "text/html; charset=utf-8", page)) });
                }
                "/metrics" => {
                    let node = self.node.clone();
                    return Box::pin(async move {
                        let mut body = node.metrics().render();
                        network_metrics(&node, &mut body).await;
                        Ok(respond(200, "text/plain; version=0.0.4", body))
                    });
                }
                "/health" => {
                    let node = self.node.clone();
                    return Box::pin(async move {
                        let health = node.health().await;
                        let status = if health.is_ok() { 200 } else { 503 };
                        let body = serde_json::to_string(&health).unwrap_or_else(|_| "{}".into());
                        Ok(respond(status, "application/json", body))
                    });
                }
                _ => {}
            }
        }
        Box::pin(self.inner.call(req))
    }
}

/// The series read at scrape time for `/metrics`: the sync target, the database's size, and
/// the network's peers and gossip verdicts.
async fn network_metrics(node: &NodeHandle, out: &mut String) {
    use std::fmt::Write;
    let mut gauge = |name: &str, help: &str, value: u64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
    };
    gauge("ergon_sync_target_height", "Highest finalized height a peer has claimed.", node.sync_target());
    let store = node.store().clone();
    if let Ok(bytes) = tokio::task::spawn_blocking(move || store.size_on_disk()).await {
        gauge("ergon_db_size_bytes", "Bytes of the chain database's files on disk.", bytes);
    }
    let Some(net) = node.network() else { return };
    if let Ok(peers) = net.peers().await {
        gauge("ergon_peers", "Connected peers on this chain.", peers.len() as u64);
    }
    if let Ok(c) = net.counters().await {
        let name = "ergon_gossip_messages_total";
        let _ = writeln!(
            out,
            "# HELP {name} Gossip messages judged since start, by topic and verdict (undecodable ones are \
             also rejected; `other` is a topic that is not ergon's).\n# TYPE {name} counter"
        );
        for (topic, c) in c.by_topic() {
            for (verdict, n) in [
                ("accepted", c.accepted),
                ("ignored", c.ignored),
                ("rejected", c.rejected),
                ("undecodable", c.undecodable),
            ] {
                let _ = writeln!(out, "{name}{{topic=\"{topic}\",verdict=\"{verdict}\"}} {n}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_a_node_serves_is_its_own_origin() {
        assert!(same_origin("http://203.0.113.7:8080", Some("203.0.113.7:8080")));
        assert!(same_origin("https://node.example", Some("NODE.example")));
        assert!(!same_origin("http://203.0.113.7:8081", Some("203.0.113.7:8080")), "another port");
        assert!(!same_origin("http://attacker.example", Some("203.0.113.7:8080")));
        assert!(!same_origin("ftp://203.0.113.7:8080", Some("203.0.113.7:8080")));
        assert!(!same_origin("http://203.0.113.7:8080", None));
    }

    fn access(cors: Option<&str>, hosts: Option<&str>) -> RpcAccess {
        let cors = cors.map(|c| c.parse::<AllowList>().unwrap());
        let hosts = hosts.map(|h| h.parse::<AllowList>().unwrap());
        RpcAccess::new(cors.as_ref(), hosts.as_ref()).unwrap()
    }

    #[test]
    fn default_origins_are_this_machine_on_any_port() {
        let a = RpcAccess::default();
        for o in [
            "http://localhost",
            "http://localhost:3000",
            "https://localhost:8443",
            "http://127.0.0.1:8080",
            "https://127.0.0.1",
            "http://[::1]:5173",
            "HTTP://LOCALHOST:1",
        ] {
            assert!(a.origin_allowed(o), "{o}");
        }
        for o in [
            "http://attacker.example",
            "http://localhost.attacker.example",
            "http://127.0.0.2",
            "null",
            "file://",
            "ws://localhost",
            "http://user@localhost",
            "",
        ] {
            assert!(!a.origin_allowed(o), "{o}");
        }
    }

    #[test]
    fn a_cors_list_replaces_the_defaults_and_all_admits_every_origin() {
        let a = access(Some("https://app.example, http://localhost:3000"), None);
        assert!(a.origin_allowed("https://app.example"));
        assert!(!a.origin_allowed("https://app.example:444"), "a listed origin without a port means the default");
        assert!(!a.origin_allowed("http://app.example"), "the scheme counts");
        assert!(a.origin_allowed("http://localhost:3000"));
        assert!(!a.origin_allowed("http://localhost:3001"));
        assert!(access(Some("all"), None).origin_allowed("http://attacker.example"));
        assert!(access(Some("ALL"), None).origin_allowed("null"));
        for bad in ["localhost", "http://", "http://a:1:*", "http://a/path"] {
            let list = bad.parse::<AllowList>().unwrap();
            assert!(RpcAccess::new(Some(&list), None).is_err(), "{bad}");
        }
    }

    #[test]
    fn hosts_are_ip_literals_localhost_or_listed_names() {
        let a = RpcAccess::default();
        for h in ["localhost", "localhost:8080", "LOCALHOST", "127.0.0.1:9", "[::1]:8080", "10.1.2.3", "[2001:db8::1]"]
        {
            assert!(a.host_allowed(h), "{h}");
        }
        for h in
            ["attacker.example", "attacker.example:8080", "localhost.attacker.example", "", "a b", "127.0.0.1.nip.io"]
        {
            assert!(!a.host_allowed(h), "{h}");
        }
        let a = access(None, Some("node.example:8080,rpc.example"));
        assert!(a.host_allowed("node.example"), "the port of a listed host is not compared");
        assert!(a.host_allowed("RPC.example:1"));
        assert!(a.host_allowed("localhost"), "localhost stays allowed");
        assert!(!a.host_allowed("attacker.example"));
        assert!(access(None, Some("all")).host_allowed("attacker.example"));
        let bad = "user@host".parse::<AllowList>().unwrap();
        assert!(RpcAccess::new(None, Some(&bad)).is_err());
    }
}
