//! Request-response framing: one message per stream, written then closed, read with a size
//! cap. Bytes are decoded (protobuf, `wire`) by the network loop, never by the codec.

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use std::io;

#[derive(Debug, Clone)]
pub struct CappedBytes {
    pub max_request: usize,
    pub max_response: usize,
}

async fn read_capped<T: AsyncRead + Unpin + Send>(io: &mut T, max: usize) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    io.take(max as u64 + 1).read_to_end(&mut buf).await?;
    if buf.len() > max {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("message over the {max}-byte limit")));
    }
    Ok(buf)
}

async fn write_all<T: AsyncWrite + Unpin + Send>(io: &mut T, bytes: Vec<u8>) -> io::Result<()> {
    io.write_all(&bytes).await?;
    io.close().await
}

impl libp2p::request_response::Codec for CappedBytes {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Vec<u8>> {
        read_capped(io, self.max_request).await
    }

    async fn read_response<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Vec<u8>> {
        read_capped(io, self.max_response).await
    }

    async fn write_request<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Vec<u8>,
    ) -> io::Result<()> {
        write_all(io, req).await
    }

    async fn write_response<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Vec<u8>,
    ) -> io::Result<()> {
        write_all(io, res).await
    }
}
