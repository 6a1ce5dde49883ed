//! Plain HTTP routes served beside JSON-RPC on the same address: `GET /metrics` (Prometheus
//! text) and `GET /health`.

use crate::node::NodeHandle;
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

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
        if req.method() == http::Method::GET {
            match req.uri().path() {
                "/metrics" => {
                    let body = self.node.metrics().render();
                    return Box::pin(async move { Ok(respond(200, "text/plain; version=0.0.4", body)) });
                }
                "/health" => {
                    let (status, body) = match self.node.store().head() {
                        Ok(h) => (200, format!("{{\"status\":\"ok\",\"height\":{}}}", h.height)),
                        Err(e) => (503, format!("{{\"status\":\"error\",\"error\":{:?}}}", e.to_string())),
                    };
                    return Box::pin(async move { Ok(respond(status, "application/json", body)) });
                }
                _ => {}
            }
        }
        Box::pin(self.inner.call(req))
    }
}
