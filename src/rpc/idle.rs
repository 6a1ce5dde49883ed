//! Closing WebSockets that do nothing. A client that answers pings but makes no calls and holds
//! no subscription would keep its connection (and a slot of its address and of the server)
//! forever; after `--rpc-ws-idle-secs` of that, the node sends a WebSocket close frame naming
//! the flag and ends the connection. HTTP keep-alive connections are hyper's business.
//!
//! A connection is idle while none of its calls is unanswered, it has no subscription it
//! opened and did not close, and its last call (or notification) is older than the limit.
//! A subscription the server ends by itself still counts as open: such a connection is kept,
//! never closed early.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Instant;

/// When an idle connection may be closed: `None` while it may not (it is not a WebSocket,
/// a call is unanswered, a subscription is open), else its last activity + `limit`.
pub fn deadline(is_ws: bool, busy: bool, last_activity: Instant, limit: Duration) -> Option<Instant> {
    (is_ws && !busy).then(|| last_activity.checked_add(limit).unwrap_or(last_activity))
}

/// The unmasked close frame a server sends: status 1000 (normal closure) and `reason`, cut to
/// the 123 bytes a control frame can carry.
pub fn close_frame(reason: &str) -> Vec<u8> {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    let reason = reason.as_bytes().get(..end).unwrap_or_default();
    let mut f = vec![0x88, u8::try_from(reason.len().saturating_add(2)).unwrap_or(125)];
    f.extend_from_slice(&1000u16.to_be_bytes());
    f.extend_from_slice(reason);
    f
}

/// The idle timer of one connection, polled with its reads.
pub struct Timer {
    limit: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl Timer {
    pub fn new(limit: Duration) -> Self {
        Timer { limit, sleep: Box::pin(tokio::time::sleep(limit)) }
    }

    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// Ready once the connection is idle past its deadline (`deadline` is asked each time the
    /// timer fires); until then the timer is re-armed and this task woken by it.
    pub fn poll_expired(&mut self, cx: &mut Context<'_>, deadline: impl Fn() -> Option<Instant>) -> Poll<()> {
        loop {
            if self.sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let now = Instant::now();
            let next = match deadline() {
                Some(at) if at <= now => return Poll::Ready(()),
                Some(at) => at,
                None => now.checked_add(self.limit).unwrap_or(now),
            };
            self.sleep.as_mut().reset(next);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_websocket_with_nothing_going_on_has_a_deadline() {
        let (t, limit) = (Instant::now(), Duration::from_secs(5));
        assert_eq!(deadline(true, false, t, limit), Some(t + limit));
        assert_eq!(deadline(false, false, t, limit), None, "HTTP");
        assert_eq!(deadline(true, true, t, limit), None, "a call unanswered or a subscription open");
    }

    #[test]
    fn the_close_frame_is_a_normal_closure_with_the_reason() {
        let f = close_frame("idle");
        assert_eq!(f, [0x88, 6, 0x03, 0xe8, b'i', b'd', b'l', b'e']);
        let long = close_frame(&"é".repeat(100));
        assert_eq!(long.len(), 2 + 2 + 122, "cut at a character boundary within 123 bytes");
        assert_eq!(usize::from(long[1]), long.len() - 2);
    }

    fn expired(timer: &mut Timer, deadline: impl Fn() -> Option<Instant>) -> bool {
        let waker = futures::task::noop_waker();
        timer.poll_expired(&mut Context::from_waker(&waker), deadline).is_ready()
    }

    #[tokio::test]
    async fn the_timer_fires_only_past_the_last_activity() {
        let limit = Duration::from_secs(1);
        let mut timer = Timer::new(limit);
        let call = Instant::now() + Duration::from_millis(900);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert!(!expired(&mut timer, || deadline(true, false, call, limit)), "the call was less than 1 s ago");
        let busy = std::future::poll_fn(|cx| timer.poll_expired(cx, || deadline(true, true, call, limit)));
        assert!(tokio::time::timeout(Duration::from_millis(1500), busy).await.is_err(), "an open subscription");
        let idle = std::future::poll_fn(|cx| timer.poll_expired(cx, || deadline(true, false, call, limit)));
        tokio::time::timeout(Duration::from_secs(10), idle).await.expect("idle past the limit");
        assert!(Instant::now() >= call + limit);
    }
}
