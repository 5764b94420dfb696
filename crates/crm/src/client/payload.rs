//! A request body as it is sent and re-sent: whole, or with one field's content streamed in as
//! base64 from a [`ContentSource`] piece by piece. Apart because big documents are the one
//! case in which a request is not held in memory.

use std::sync::Arc;

use base64::Engine as _;

use crate::error::CrmError;

/// Content that goes into a request as base64 without being held in memory: a big document
/// (read back from a temporary file) is read, encoded and sent piece by piece, and read anew
/// for every attempt.
pub trait ContentSource: Send + Sync + std::fmt::Debug {
    /// Bytes of content.
    fn len(&self) -> u64;
    /// Whether there is no content.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// A reader from the first byte.
    fn open(&self) -> std::io::Result<Box<dyn std::io::Read + Send>>;
}

/// One field of a request whose value is `source` in base64: the request is encoded with
/// `placeholder` as that value, then sent as the text before it, the streamed base64 and the
/// text after it.
#[derive(Debug)]
pub(crate) struct Streamed {
    pub placeholder: String,
    pub source: Arc<dyn ContentSource>,
}

/// Raw bytes read (and encoded) at a time: a multiple of 3, so the pieces of base64 join up
/// without padding in between.
const STREAM_PIECE: usize = 48 * 1024;

/// A request body as it is (re-)sent.
pub(super) enum Payload {
    Whole(bytes::Bytes),
    Spliced {
        before: bytes::Bytes,
        after: bytes::Bytes,
        source: Arc<dyn ContentSource>,
    },
}

impl Payload {
    pub(super) fn new(encoded: String, content: Option<Streamed>) -> Result<Self, CrmError> {
        let Some(c) = content else {
            return Ok(Payload::Whole(encoded.into()));
        };
        let at = encoded.find(&c.placeholder).ok_or_else(|| {
            CrmError::InvalidRequest("the streamed field is not part of the request".into())
        })?;
        let bytes = bytes::Bytes::from(encoded);
        Ok(Payload::Spliced {
            before: bytes.slice(..at),
            after: bytes.slice(at + c.placeholder.len()..),
            source: c.source,
        })
    }

    /// Bytes on the wire.
    pub(super) fn len(&self) -> u64 {
        match self {
            Payload::Whole(b) => b.len() as u64,
            Payload::Spliced {
                before,
                after,
                source,
            } => before.len() as u64 + source.len().div_ceil(3) * 4 + after.len() as u64,
        }
    }

    pub(super) fn body(&self) -> reqwest::Body {
        match self {
            Payload::Whole(b) => reqwest::Body::from(b.clone()),
            Payload::Spliced {
                before,
                after,
                source,
            } => {
                use futures::StreamExt as _;
                let source = source.clone();
                let pieces = futures::stream::unfold(Some(None), move |state| {
                    let source = source.clone();
                    async move {
                        let mut reader: Box<dyn std::io::Read + Send> = match state? {
                            Some(r) => r,
                            None => match source.open() {
                                Ok(r) => r,
                                Err(e) => return Some((Err(e), None)),
                            },
                        };
                        match read_piece(&mut *reader) {
                            Ok(piece) if piece.is_empty() => None,
                            Ok(piece) => {
                                let text = base64::engine::general_purpose::STANDARD.encode(piece);
                                Some((Ok(bytes::Bytes::from(text)), Some(Some(reader))))
                            }
                            Err(e) => Some((Err(e), None)),
                        }
                    }
                });
                let stream = futures::stream::once(futures::future::ready(Ok(before.clone())))
                    .chain(pieces)
                    .chain(futures::stream::once(futures::future::ready(Ok(
                        after.clone()
                    ))));
                reqwest::Body::wrap_stream(stream)
            }
        }
    }
}

/// Up to [`STREAM_PIECE`] bytes (fewer only at the end).
fn read_piece(r: &mut dyn std::io::Read) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; STREAM_PIECE];
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(n);
    Ok(buf)
}
