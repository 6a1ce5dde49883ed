//! The byte stream a node gets for a shaped connection: writes go to the link layer's
//! outbound queue, reads come from its inbound one. Neither side ever blocks on the other;
//! the link layer decides when bytes arrive.

use futures::channel::mpsc;
use futures::{AsyncRead, AsyncWrite, Stream};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

pub(crate) struct Pipe {
    /// Bytes the link layer has delivered to us.
    inbound: mpsc::UnboundedReceiver<Vec<u8>>,
    /// Bytes we wrote, for the link layer to carry.
    outbound: mpsc::UnboundedSender<Vec<u8>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl Pipe {
    /// The node's end, and the link layer's end (what the node wrote, where to deliver).
    pub(crate) fn new() -> (Pipe, mpsc::UnboundedReceiver<Vec<u8>>, mpsc::UnboundedSender<Vec<u8>>) {
        let (out_tx, out_rx) = mpsc::unbounded();
        let (in_tx, in_rx) = mpsc::unbounded();
        (Pipe { inbound: in_rx, outbound: out_tx, chunk: Vec::new(), pos: 0 }, out_rx, in_tx)
    }
}

impl AsyncRead for Pipe {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        loop {
            let this = &mut *self;
            let left = this.chunk.get(this.pos..).unwrap_or_default();
            if !left.is_empty() {
                let n = left.len().min(buf.len());
                buf[..n].copy_from_slice(&left[..n]);
                this.pos += n;
                if this.pos == this.chunk.len() {
                    // Do not keep a spent chunk alive for as long as the connection is quiet.
                    this.chunk = Vec::new();
                    this.pos = 0;
                }
                return Poll::Ready(Ok(n));
            }
            match Pin::new(&mut this.inbound).poll_next(cx) {
                Poll::Ready(Some(chunk)) => {
                    this.chunk = chunk;
                    this.pos = 0;
                }
                // The link layer hung up: a closed or reset connection reads as its end.
                Poll::Ready(None) => return Poll::Ready(Ok(0)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl AsyncWrite for Pipe {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.outbound.unbounded_send(buf.to_vec()) {
            Ok(()) => Poll::Ready(Ok(buf.len())),
            Err(_) => Poll::Ready(Err(io::Error::new(io::ErrorKind::ConnectionReset, "link reset"))),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.outbound.close_channel();
        Poll::Ready(Ok(()))
    }
}
