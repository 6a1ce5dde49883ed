//! The RPC server's own accept loop, so that each connection's remote address is known (jsonrpsee's
//! middleware never sees it): connections per IP are capped, calls per IP are rate limited,
//! HTTP and WebSocket connections draw on separate capacity, and a connection whose replies
//! are not being read stops being read ([`Guarded`]).
//!
//! The backpressure matters because jsonrpsee spawns a task for every WebSocket message it
//! reads and lets that task wait, holding its reply, until the connection's send queue has
//! room: a client that sends calls and never reads the replies grows the node without bound.
//! Here the socket is not read while its last write is blocked or while
//! [`MAX_CALLS_IN_FLIGHT`] of its calls are unanswered (read, and their reply not yet flushed
//! to the socket), so the kernel's buffers push back on the sender instead of the node's
//! memory.

use crate::node::{Metrics, RpcRefusal as Refusal};
use jsonrpsee::core::middleware::{Batch, BatchEntry, Notification, RpcServiceT};
use jsonrpsee::server::MethodResponse;
use jsonrpsee::types::{ErrorObject, Id, Request};
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Calls of one connection read and not yet answered; past it the connection is not read.
pub const MAX_CALLS_IN_FLIGHT: usize = 64;

/// How long a WebSocket may go without calls or subscriptions (`--rpc-ws-idle-secs`).
pub const DEFAULT_WS_IDLE: Duration = Duration::from_secs(300);

/// What one address and the server as a whole may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RpcLimits {
    /// Open connections (HTTP and WebSocket) from one IP address.
    pub connections_per_ip: usize,
    /// HTTP connections at once, from everyone.
    pub http_connections: usize,
    /// WebSocket connections at once, from everyone.
    pub ws_connections: usize,
    /// Calls per second from one IP address (a batch counts each call), with bursts of
    /// twice that; 0: no limit.
    pub calls_per_second: u32,
    /// A WebSocket with no call for this long and no open subscription is closed
    /// ([`super::idle`]); `None`: never.
    pub ws_idle: Option<Duration>,
}

impl Default for RpcLimits {
    fn default() -> Self {
        RpcLimits {
            connections_per_ip: 32,
            http_connections: 256,
            ws_connections: 256,
            calls_per_second: 1000,
            ws_idle: Some(DEFAULT_WS_IDLE),
        }
    }
}

/// The server's shared accounts: connections per IP, HTTP and WebSocket capacity, call rates.
pub struct Admission {
    limits: RpcLimits,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    http: Arc<Semaphore>,
    ws: Arc<Semaphore>,
    rates: Mutex<HashMap<IpAddr, Bucket>>,
    metrics: Arc<Metrics>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Addresses whose buckets are remembered before idle ones are forgotten.
const MAX_BUCKETS: usize = 4096;

impl Admission {
    pub fn new(limits: RpcLimits, metrics: Arc<Metrics>) -> Arc<Admission> {
        Arc::new(Admission {
            limits,
            per_ip: Mutex::default(),
            http: Arc::new(Semaphore::new(limits.http_connections)),
            ws: Arc::new(Semaphore::new(limits.ws_connections)),
            rates: Mutex::default(),
            metrics,
        })
    }

    /// A new connection from `ip`, or `None` past the per-IP cap.
    pub fn connect(self: &Arc<Self>, ip: IpAddr) -> Option<Arc<Conn>> {
        let mut per_ip = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        let open = per_ip.entry(ip).or_default();
        if *open >= self.limits.connections_per_ip {
            drop(per_ip);
            self.metrics.on_rpc_refused(Refusal::PerIp);
            return None;
        }
        *open += 1;
        Some(Arc::new(Conn {
            ip,
            admission: self.clone(),
            kind: Mutex::new(None),
            unanswered: AtomicUsize::new(0),
            write_blocked: AtomicBool::new(false),
            reader: Mutex::new(None),
            last_call: Mutex::new(tokio::time::Instant::now()),
            subscriptions: AtomicUsize::new(0),
        }))
    }

    /// Takes `n` calls from `ip`'s bucket; false when it has too few.
    fn take(&self, ip: IpAddr, n: usize) -> bool {
        let rate = self.limits.calls_per_second;
        if rate == 0 {
            return true;
        }
        let now = Instant::now();
        let (rate, burst) = (f64::from(rate), 2.0 * f64::from(rate));
        let mut rates = self.rates.lock().unwrap_or_else(|e| e.into_inner());
        if rates.len() >= MAX_BUCKETS && !rates.contains_key(&ip) {
            // A full bucket is as good as none: forget those that have refilled.
            rates.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < burst);
        }
        let b = rates.entry(ip).or_insert(Bucket { tokens: burst, at: now });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(burst);
        b.at = now;
        let n = n as f64;
        if b.tokens < n {
            return false;
        }
        b.tokens -= n;
        true
    }
}

/// One TCP connection: its per-IP slot, its HTTP or WebSocket permit, and what holds its
/// reads back. Shared by the socket ([`Guarded`]) and the calls made over it ([`ConnRef`]).
pub struct Conn {
    ip: IpAddr,
    admission: Arc<Admission>,
    /// Taken at the connection's first request: HTTP, or WebSocket at an upgrade.
    kind: Mutex<Option<(bool, OwnedSemaphorePermit)>>,
    /// Calls started whose reply has not been flushed. Every reply (and nothing else but the
    /// rare ping, handshake or subscription notification, which only make the count low for
    /// a moment) ends in one flush of the socket: jsonrpsee flushes each WebSocket message,
    /// hyper each HTTP response.
    unanswered: AtomicUsize,
    write_blocked: AtomicBool,
    /// The read that was held back, woken when the hold lifts.
    reader: Mutex<Option<Waker>>,
    /// When a call (or notification) last came in or was answered.
    last_call: Mutex<tokio::time::Instant>,
    /// Subscriptions opened and not closed by the client.
    subscriptions: AtomicUsize,
}

impl Conn {
    pub fn ip(&self) -> IpAddr {
        self.ip
    }

    /// Admits a request on this connection: the first one takes an HTTP permit, an upgrade
    /// a WebSocket permit (an HTTP connection that upgrades gives its HTTP permit back).
    pub fn admit(&self, upgrade: bool) -> Result<(), Refusal> {
        let mut kind = self.kind.lock().unwrap_or_else(|e| e.into_inner());
        if matches!(&*kind, Some((ws, _)) if *ws == upgrade) {
            return Ok(());
        }
        let (pool, refusal) =
            if upgrade { (&self.admission.ws, Refusal::WsFull) } else { (&self.admission.http, Refusal::HttpFull) };
        match pool.clone().try_acquire_owned() {
            Ok(permit) => {
                *kind = Some((upgrade, permit));
                Ok(())
            }
            Err(_) => {
                self.admission.metrics.on_rpc_refused(refusal);
                Err(refusal)
            }
        }
    }

    /// Upgraded to a WebSocket.
    pub fn is_ws(&self) -> bool {
        matches!(&*self.kind.lock().unwrap_or_else(|e| e.into_inner()), Some((true, _)))
    }

    fn touch(&self) {
        *self.last_call.lock().unwrap_or_else(|e| e.into_inner()) = tokio::time::Instant::now();
    }

    /// When this connection counts as idle past `limit` ([`super::idle::deadline`]).
    fn idle_deadline(&self, limit: Duration) -> Option<tokio::time::Instant> {
        let busy = self.unanswered.load(Ordering::Acquire) > 0 || self.subscriptions.load(Ordering::Acquire) > 0;
        let last = *self.last_call.lock().unwrap_or_else(|e| e.into_inner());
        super::idle::deadline(self.is_ws(), busy, last, limit)
    }

    /// A call's reply: a subscription opened, or one closed by `unsubscribe` (`true`).
    fn on_reply(&self, unsubscribe: bool, response: &MethodResponse) {
        self.touch();
        if response.is_subscription() && response.is_success() {
            self.subscriptions.fetch_add(1, Ordering::AcqRel);
        } else if unsubscribe && response.is_success() && response.as_json().get().contains(r#""result":true"#) {
            let _ = self.subscriptions.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        }
    }

    fn held_back(&self) -> bool {
        self.write_blocked.load(Ordering::Acquire) || self.unanswered.load(Ordering::Acquire) >= MAX_CALLS_IN_FLIGHT
    }

    fn wake_reader(&self) {
        if let Some(w) = self.reader.lock().unwrap_or_else(|e| e.into_inner()).take() {
            w.wake();
        }
    }

    fn set_write_blocked(&self, blocked: bool) {
        if self.write_blocked.swap(blocked, Ordering::AcqRel) && !blocked {
            self.wake_reader();
        }
    }

    fn begin_call(&self) {
        self.touch();
        self.unanswered.fetch_add(1, Ordering::AcqRel);
    }

    /// A flush completed: one reply is out.
    fn answered(&self) {
        let before = self.unanswered.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        if before == Ok(MAX_CALLS_IN_FLIGHT) {
            self.wake_reader();
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        let mut per_ip = self.admission.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(open) = per_ip.get_mut(&self.ip) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                per_ip.remove(&self.ip);
            }
        }
    }
}

/// The connection a call came over, in the call's extensions.
#[derive(Clone)]
pub struct ConnRef(pub Arc<Conn>);

/// A socket that is not read while its connection is held back (its last write blocked, or
/// too many of its calls unanswered). It owns the connection's slots: they are released when
/// the socket closes, also after a WebSocket upgrade moved it out of the HTTP server.
pub struct Guarded<T> {
    inner: T,
    conn: Arc<Conn>,
    /// Closes the connection once it is an idle WebSocket ([`super::idle`]).
    idle: Option<super::idle::Timer>,
    /// The idle close was sent: reads end here.
    closed: bool,
}

impl<T> Guarded<T> {
    pub fn new(inner: T, conn: Arc<Conn>) -> Self {
        let idle = conn.admission.limits.ws_idle.map(super::idle::Timer::new);
        Guarded { inner, conn, idle, closed: false }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> Guarded<T> {
    /// Whether the connection has been an idle WebSocket for too long; then a close frame
    /// naming the flag is sent (best effort: its socket buffer is empty while idle) and reads
    /// end, which ends the connection.
    fn idle_expired(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(timer) = self.idle.as_mut() else { return false };
        let (conn, limit) = (&self.conn, timer.limit());
        if timer.poll_expired(cx, || conn.idle_deadline(limit)).is_pending() {
            return false;
        }
        let secs = limit.as_secs();
        tracing::debug!(ip = %conn.ip, secs, "closing an idle WebSocket");
        conn.admission.metrics.on_rpc_refused(Refusal::WsIdle);
        let frame =
            super::idle::close_frame(&format!("idle {secs} s: no calls, no subscriptions (--rpc-ws-idle-secs)"));
        let _ = Pin::new(&mut self.inner).poll_write(cx, &frame);
        let _ = Pin::new(&mut self.inner).poll_flush(cx);
        self.closed = true;
        true
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for Guarded<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        if self.closed || self.idle_expired(cx) {
            return Poll::Ready(Ok(())); // end of stream
        }
        if self.conn.held_back() {
            *self.conn.reader.lock().unwrap_or_else(|e| e.into_inner()) = Some(cx.waker().clone());
            // Looked at again: the hold may have lifted before the waker was in place.
            if self.conn.held_back() {
                return Poll::Pending;
            }
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Guarded<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.conn.set_write_blocked(r.is_pending());
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.conn.set_write_blocked(r.is_pending());
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_flush(cx);
        self.conn.set_write_blocked(r.is_pending());
        if let Poll::Ready(Ok(())) = r {
            self.conn.answered();
        }
        r
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The RPC middleware that counts a connection's unanswered calls and applies the per-IP call
/// rate ([`Admission::take`]).
/// It also answers a subscription called over HTTP with [`super::NEEDS_WEBSOCKET`] (jsonrpsee
/// gives an internal error).
#[derive(Clone)]
pub struct LimitLayer {
    pub admission: Arc<Admission>,
    /// The subscription and unsubscription methods.
    pub subscriptions: Arc<std::collections::HashSet<&'static str>>,
    /// The unsubscription methods.
    pub unsubscriptions: Arc<std::collections::HashSet<&'static str>>,
    /// Every method served: the labels of the per-method call counters.
    pub methods: Arc<std::collections::HashSet<&'static str>>,
}

impl<S> tower::Layer<S> for LimitLayer {
    type Service = Limit<S>;

    fn layer(&self, inner: S) -> Limit<S> {
        Limit {
            inner,
            admission: self.admission.clone(),
            subscriptions: self.subscriptions.clone(),
            unsubscriptions: self.unsubscriptions.clone(),
            methods: self.methods.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Limit<S> {
    inner: S,
    admission: Arc<Admission>,
    subscriptions: Arc<std::collections::HashSet<&'static str>>,
    unsubscriptions: Arc<std::collections::HashSet<&'static str>>,
    methods: Arc<std::collections::HashSet<&'static str>>,
}

impl<S> Limit<S> {
    /// The counter label of a method name: the name if the node serves it, else `unknown`.
    fn label(&self, method: &str) -> &'static str {
        self.methods.get(method).copied().unwrap_or("unknown")
    }

    /// `Err` with the refusal when `conn`'s address is over its rate for `n` more calls.
    fn check(&self, conn: Option<&ConnRef>, n: usize) -> Result<(), ErrorObject<'static>> {
        let Some(ConnRef(conn)) = conn else { return Ok(()) };
        if self.admission.take(conn.ip, n) {
            return Ok(());
        }
        self.admission.metrics.on_rpc_refused(Refusal::RateLimited);
        let rate = self.admission.limits.calls_per_second;
        Err(ErrorObject::owned(
            super::RATE_LIMITED,
            format!("rate limited: at most {rate} calls per second from one address (--rpc-rate-limit); slow down"),
            None::<()>,
        ))
    }
}

impl<S> RpcServiceT for Limit<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Send
        + Sync
        + Clone
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(&self, request: Request<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let conn = request.extensions().get::<ConnRef>().cloned();
        let mut checked = self.check(conn.as_ref(), 1);
        let method = request.method_name();
        if checked.is_ok() && self.subscriptions.contains(method) && conn.as_ref().is_some_and(|c| !c.0.is_ws()) {
            checked = Err(ErrorObject::owned(
                super::NEEDS_WEBSOCKET,
                format!("{method} is a subscription: it needs a WebSocket connection (ws://), not HTTP"),
                None::<()>,
            ));
        }
        let inner = self.inner.clone();
        if let Some(c) = &conn {
            c.0.begin_call();
        }
        let (label, metrics) = (self.label(method), self.admission.metrics.clone());
        let unsubscribe = self.unsubscriptions.contains(method);
        async move {
            let response = match checked {
                Ok(()) => inner.call(request).await,
                Err(e) => MethodResponse::error(request.id().into_owned(), e),
            };
            if let Some(c) = &conn {
                c.0.on_reply(unsubscribe, &response);
            }
            metrics.on_rpc_call(label, response.is_error());
            response
        }
    }

    fn batch<'a>(&self, mut batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let conn = batch.extensions().get::<ConnRef>().cloned();
        let checked = self.check(conn.as_ref(), batch.len().max(1));
        let inner = self.inner.clone();
        if let Some(c) = &conn {
            c.0.begin_call(); // one reply for the whole batch
        }
        // The calls' ids and methods, to count each reply of the batch under its method.
        let calls: Vec<(String, &'static str)> = batch
            .iter()
            .filter_map(|entry| match entry {
                Ok(BatchEntry::Call(req)) => Some((id_key(&req.id()), self.label(req.method_name()))),
                _ => None,
            })
            .collect();
        let metrics = self.admission.metrics.clone();
        async move {
            let response = match checked {
                Ok(()) => inner.batch(batch).await,
                Err(e) => MethodResponse::error(Id::Null, e),
            };
            if let Some(c) = &conn {
                c.0.touch();
            }
            count_batch(&metrics, &calls, &response);
            response
        }
    }

    fn notification<'a>(&self, n: Notification<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let conn = n.extensions().get::<ConnRef>().cloned();
        if let Some(c) = &conn {
            c.0.touch();
        }
        let checked = self.check(conn.as_ref(), 1);
        let inner = self.inner.clone();
        async move {
            match checked {
                Ok(()) => inner.notification(n).await,
                Err(_) => MethodResponse::notification(),
            }
        }
    }
}

/// A request id as the key its reply carries back (`1`, `"a"`, `null`).
fn id_key(id: &Id<'_>) -> String {
    serde_json::to_string(id).unwrap_or_default()
}

/// Counts each reply of a batch under the method of the call with its id (`unknown` for
/// replies to entries that were not valid calls); a refused batch counts as one error.
fn count_batch(metrics: &Metrics, calls: &[(String, &'static str)], response: &MethodResponse) {
    #[derive(serde::Deserialize)]
    struct Reply {
        #[serde(default)]
        id: serde_json::Value,
        #[serde(default)]
        error: Option<serde::de::IgnoredAny>,
    }
    let Ok(replies) = serde_json::from_str::<Vec<Reply>>(response.to_json().get()) else {
        return metrics.on_rpc_call("unknown", response.is_error());
    };
    for r in replies {
        let key = r.id.to_string();
        let label = calls.iter().find(|(id, _)| *id == key).map_or("unknown", |(_, m)| *m);
        metrics.on_rpc_call(label, r.error.is_some());
    }
}

/// The reply to a request refused for lack of capacity: 503 with the reason.
pub fn too_busy(why: Refusal) -> jsonrpsee::server::HttpResponse {
    let reason = match why {
        Refusal::WsFull => "every WebSocket connection slot is taken; try again later",
        _ => "every HTTP connection slot is taken; try again later",
    };
    let mut r = jsonrpsee::server::HttpResponse::new(jsonrpsee::server::HttpBody::from(reason));
    *r.status_mut() = hyper::StatusCode::SERVICE_UNAVAILABLE;
    r
}

/// The reply to a connection refused before HTTP: 429 with the reason, then close.
pub async fn refuse(mut sock: tokio::net::TcpStream, reason: String) {
    use tokio::io::AsyncWriteExt;
    let reply = format!(
        "HTTP/1.1 429 Too Many Requests\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: \
         close\r\n\r\n{reason}",
        reason.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), sock.write_all(reply.as_bytes())).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(limits: RpcLimits) -> Arc<Admission> {
        Admission::new(limits, Arc::new(Metrics::default()))
    }

    #[test]
    fn connections_per_ip_are_capped_and_given_back() {
        let a = admission(RpcLimits { connections_per_ip: 2, ..RpcLimits::default() });
        let (one, two): (IpAddr, IpAddr) = ("127.0.0.1".parse().unwrap(), "127.0.0.2".parse().unwrap());
        let c1 = a.connect(one).unwrap();
        let _c2 = a.connect(one).unwrap();
        assert!(a.connect(one).is_none(), "a third from one address");
        let _other = a.connect(two).expect("another address has its own cap");
        drop(c1);
        assert!(a.connect(one).is_some(), "a closed connection gives its slot back");
    }

    #[test]
    fn http_and_websocket_capacity_are_apart() {
        let a = admission(RpcLimits { http_connections: 1, ws_connections: 1, ..RpcLimits::default() });
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let ws = a.connect(ip).unwrap();
        ws.admit(true).unwrap();
        assert_eq!(a.connect(ip).unwrap().admit(true), Err(Refusal::WsFull));
        let http = a.connect(ip).unwrap();
        http.admit(false).expect("WebSockets do not take HTTP capacity");
        http.admit(false).expect("a keep-alive connection holds its permit");
        assert_eq!(a.connect(ip).unwrap().admit(false), Err(Refusal::HttpFull));
        drop(http);
        a.connect(ip).unwrap().admit(false).expect("given back with the connection");
    }

    #[test]
    fn calls_beyond_the_burst_are_refused_until_the_bucket_refills() {
        let a = admission(RpcLimits { calls_per_second: 10, ..RpcLimits::default() });
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(a.take(ip, 20), "a burst of twice the rate");
        assert!(!a.take(ip, 1));
        assert!(a.take("127.0.0.2".parse().unwrap(), 1), "per address");
        std::thread::sleep(Duration::from_millis(250));
        assert!(a.take(ip, 1), "refilled at the rate");
        let unlimited = admission(RpcLimits { calls_per_second: 0, ..RpcLimits::default() });
        assert!(unlimited.take(ip, 1_000_000));
    }

    #[test]
    fn a_held_back_connection_is_released_by_its_write_or_its_calls() {
        let a = admission(RpcLimits::default());
        let c = a.connect("127.0.0.1".parse().unwrap()).unwrap();
        assert!(!c.held_back());
        c.set_write_blocked(true);
        assert!(c.held_back());
        c.set_write_blocked(false);
        (0..MAX_CALLS_IN_FLIGHT + 1).for_each(|_| c.begin_call());
        assert!(c.held_back(), "{} calls unanswered", MAX_CALLS_IN_FLIGHT + 1);
        c.answered();
        assert!(c.held_back());
        c.answered();
        assert!(!c.held_back(), "below the bound");
        (0..2 * MAX_CALLS_IN_FLIGHT).for_each(|_| c.answered());
        (0..MAX_CALLS_IN_FLIGHT).for_each(|_| c.begin_call());
        assert!(c.held_back(), "flushes without calls (pings, notifications) give no credit");
    }
}
