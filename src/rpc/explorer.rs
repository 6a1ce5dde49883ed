//! The block explorer served at `GET /`: one page, its script and styles inline, no CDN, so
//! it works offline. It reads the node over JSON-RPC (HTTP) and follows new heads over the
//! WebSocket subscription, calling only read methods.

pub const PAGE: &str = include_str!("explorer.html");
