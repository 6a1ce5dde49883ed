//! An HTTP POST body, read before jsonrpsee sees it, for what jsonrpsee gets wrong:
//!
//! - a chunked body over [`MAX_BODY_BYTES`](super::MAX_BODY_BYTES) is answered 413, as one
//!   with a `Content-Length` is (jsonrpsee's limit on a chunked body surfaces as a stream
//!   error, answered 500 / -32603);
//! - a request whose `id` is an object, an array, a fraction, a negative number or a number of
//!   2^64 or more is answered -32600 (JSON-RPC 2.0: "Invalid Request"). jsonrpsee only knows
//!   string, u64 and null ids, reads any other as a notification, and answers nothing.

use http_body_util::BodyExt;
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::value::RawValue;

/// The field of a request this module judges.
#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
}

/// Whether jsonrpsee can echo `id` back: a string, an integer from 0 to 2^64 - 1, or null.
fn id_allowed(id: &RawValue) -> bool {
    let text = id.get().trim();
    text.starts_with('"') || text == "null" || text.parse::<u64>().is_ok()
}

/// Why `body` (already within the size cap) is not a JSON-RPC request jsonrpsee can answer,
/// if it is not. Anything that is not JSON or not objects is left to jsonrpsee.
pub fn bad_id(body: &[u8]) -> Option<String> {
    const RULE: &str = "must be a string, an integer from 0 to 2^64 - 1, or null";
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    match first {
        b'{' => {
            let probe: Probe = serde_json::from_slice(body).ok()?;
            let id = probe.id.filter(|id| !id_allowed(id))?;
            Some(format!("invalid request: `id` {RULE}, got {}", id.get()))
        }
        b'[' => {
            let probes: Vec<Probe> = serde_json::from_slice(body).ok()?;
            let (i, id) =
                probes.iter().enumerate().find_map(|(i, p)| p.id.filter(|id| !id_allowed(id)).map(|id| (i, id)))?;
            Some(format!("invalid request: batch entry {i}: `id` {RULE}, got {}", id.get()))
        }
        _ => None,
    }
}

fn invalid_request(message: String) -> HttpResponse {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": jsonrpsee::types::error::INVALID_REQUEST_CODE, "message": message},
    });
    let mut r = HttpResponse::new(HttpBody::from(body.to_string()));
    r.headers_mut()
        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json; charset=utf-8"));
    r
}

/// Reads a POST's body whole (at most `max` bytes) and checks its ids; the request to hand to
/// jsonrpsee, or the answer to give instead.
pub async fn read(req: HttpRequest<hyper::body::Incoming>, max: u32) -> Result<HttpRequest<HttpBody>, HttpResponse> {
    let too_large = || jsonrpsee::server::http::response::too_large(max);
    let declared = req.headers().get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > u64::from(max)) {
        return Err(too_large());
    }
    let (parts, body) = req.into_parts();
    let bytes = match http_body_util::Limited::new(body, max as usize).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return Err(too_large()),
        Err(e) => {
            tracing::debug!(error = %e, "RPC request body could not be read");
            return Err(jsonrpsee::server::http::response::malformed());
        }
    };
    if let Some(why) = bad_id(&bytes) {
        return Err(invalid_request(why));
    }
    Ok(HttpRequest::from_parts(parts, HttpBody::new(http_body_util::Full::new(bytes))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_jsonrpsee_cannot_echo_are_invalid_requests() {
        for ok in [
            r#"{"jsonrpc":"2.0","id":1,"method":"m"}"#,
            r#"{"jsonrpc":"2.0","id":"a","method":"m"}"#,
            r#"{"jsonrpc":"2.0","id":null,"method":"m"}"#,
            r#"{"jsonrpc":"2.0","method":"m"}"#,
            r#"{"jsonrpc":"2.0","id":18446744073709551615,"method":"m"}"#,
            r#"[{"id":1,"method":"m"},{"method":"n"}]"#,
            "not json",
            "[1, 2]",
        ] {
            assert_eq!(bad_id(ok.as_bytes()), None, "{ok}");
        }
        for (bad, got) in [
            (r#"{"jsonrpc":"2.0","id":{},"method":"m"}"#, "{}"),
            (r#"{"jsonrpc":"2.0","id":[1],"method":"m"}"#, "[1]"),
            (r#"{"jsonrpc":"2.0","id":1.5,"method":"m"}"#, "1.5"),
            (r#"{"jsonrpc":"2.0","id":-1,"method":"m"}"#, "-1"),
            (r#"{"jsonrpc":"2.0","id":true,"method":"m"}"#, "true"),
            (r#"{"jsonrpc":"2.0","id":18446744073709551616,"method":"m"}"#, "18446744073709551616"),
        ] {
            let why = bad_id(bad.as_bytes()).unwrap_or_else(|| panic!("{bad} passed"));
            assert!(why.ends_with(&format!("got {got}")), "{why}");
        }
        let why = bad_id(br#"[{"id":1,"method":"m"},{"id":{},"method":"n"}]"#).unwrap();
        assert!(why.contains("batch entry 1"), "{why}");
    }
}
