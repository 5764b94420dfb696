//! [`Download`]: a large answer (MIME, attachment content) read piece by piece under a cap,
//! so its size never decides how much memory the process needs.

use bytes::Bytes;

use crate::auth::describe_reqwest;
use crate::error::GraphError;

/// A large answer read chunk by chunk ([`GraphClient::download`](crate::GraphClient)). A failure while reading is
/// a transport error (the caller retries the item later); more bytes than the limit is
/// [`GraphError::TooLarge`].
pub struct Download {
    pub(crate) resp: reqwest::Response,
    pub(crate) limit: u64,
    pub(crate) read: u64,
    pub(crate) resource: &'static str,
    pub(crate) _permit: Option<crate::slots::Permit>,
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("limit", &self.limit)
            .field("read", &self.read)
            .finish_non_exhaustive()
    }
}

impl Download {
    /// The next piece of the body; `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, GraphError> {
        let chunk = self.resp.chunk().await.map_err(|e| GraphError::Transport {
            message: describe_reqwest(&e),
            resource: self.resource,
            timeout: e.is_timeout(),
        })?;
        if let Some(c) = &chunk {
            self.read += c.len() as u64;
            if self.read > self.limit {
                return Err(GraphError::TooLarge {
                    limit: self.limit,
                    resource: self.resource,
                });
            }
        }
        Ok(chunk)
    }
}
