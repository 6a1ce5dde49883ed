//! Blobs larger than one JSON-RPC request (2 MiB, so about 1 MiB of hex-encoded bytes),
//! uploaded in pieces: `blob_put({data, offset, size, hash})`, in order from offset 0. The
//! pieces are kept in memory until the last one arrives; the whole is stored only if it
//! hashes to `hash`. Bounded: at most [`MAX_OPEN`] uploads at a time, each at most the blob
//! cap, and a new one pushes out the oldest.

use crate::primitives::Hash;
use std::collections::VecDeque;

pub const MAX_OPEN: usize = 4;

struct Upload {
    hash: Hash,
    size: usize,
    bytes: Vec<u8>,
}

#[derive(Default)]
pub struct Uploads {
    open: VecDeque<Upload>,
}

/// What a piece did.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece {
    /// More to come; `received` bytes so far.
    Partial { received: usize },
    /// The last piece: the whole blob (not yet checked against its hash).
    Complete(Vec<u8>),
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum UploadError {
    #[error("param `size`: {size} bytes is more than a blob may hold ({max})")]
    TooLarge { size: usize, max: usize },
    #[error("param `offset`: no upload of blob {0} is in progress; start it at offset 0")]
    NotStarted(Hash),
    #[error("param `offset`: the upload of blob {hash} has {received} bytes; send the piece at offset {received}")]
    WrongOffset { hash: Hash, received: usize },
    #[error("param `data`: the piece ends at byte {end}, past the blob's size {size}")]
    PastSize { end: usize, size: usize },
    #[error("param `size`: the upload of blob {hash} was started with size {started}")]
    SizeChanged { hash: Hash, started: usize },
}

impl Uploads {
    /// Adds the piece `data` at `offset` of the blob `hash` of `size` bytes.
    pub fn add(
        &mut self,
        hash: Hash,
        size: usize,
        offset: usize,
        data: &[u8],
        max: usize,
    ) -> Result<Piece, UploadError> {
        if size > max {
            return Err(UploadError::TooLarge { size, max });
        }
        if offset == 0 {
            self.open.retain(|u| u.hash != hash);
            if self.open.len() >= MAX_OPEN {
                self.open.pop_front();
            }
            self.open.push_back(Upload { hash, size, bytes: Vec::new() });
        }
        let at = self.open.iter().position(|u| u.hash == hash).ok_or(UploadError::NotStarted(hash))?;
        let upload = self.open.get_mut(at).ok_or(UploadError::NotStarted(hash))?;
        if upload.size != size {
            return Err(UploadError::SizeChanged { hash, started: upload.size });
        }
        if upload.bytes.len() != offset {
            return Err(UploadError::WrongOffset { hash, received: upload.bytes.len() });
        }
        let end = offset.saturating_add(data.len());
        if end > size {
            return Err(UploadError::PastSize { end, size });
        }
        upload.bytes.extend_from_slice(data);
        if end < size {
            return Ok(Piece::Partial { received: end });
        }
        let done = self.open.remove(at).map(|u| u.bytes).unwrap_or_default();
        Ok(Piece::Complete(done))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_in_order_make_the_blob_and_anything_else_is_named() {
        let mut u = Uploads::default();
        let h = Hash([1; 32]);
        assert_eq!(u.add(h, 5, 0, b"ab", 16), Ok(Piece::Partial { received: 2 }));
        assert_eq!(u.add(h, 5, 3, b"d", 16), Err(UploadError::WrongOffset { hash: h, received: 2 }));
        assert_eq!(u.add(h, 6, 2, b"c", 16), Err(UploadError::SizeChanged { hash: h, started: 5 }));
        assert_eq!(u.add(h, 5, 2, b"cdef", 16), Err(UploadError::PastSize { end: 6, size: 5 }));
        assert_eq!(u.add(h, 5, 2, b"cde", 16), Ok(Piece::Complete(b"abcde".to_vec())));
        assert_eq!(u.add(h, 5, 2, b"cde", 16), Err(UploadError::NotStarted(h)), "done uploads are gone");
        assert_eq!(u.add(h, 17, 0, b"", 16), Err(UploadError::TooLarge { size: 17, max: 16 }));
    }

    #[test]
    fn a_new_upload_pushes_out_the_oldest() {
        let mut u = Uploads::default();
        for i in 0..=MAX_OPEN as u8 {
            assert!(matches!(u.add(Hash([i; 32]), 4, 0, b"a", 16), Ok(Piece::Partial { .. })));
        }
        assert_eq!(u.add(Hash([0; 32]), 4, 1, b"b", 16), Err(UploadError::NotStarted(Hash([0; 32]))));
        assert_eq!(u.add(Hash([1; 32]), 4, 1, b"b", 16), Ok(Piece::Partial { received: 2 }));
    }
}
