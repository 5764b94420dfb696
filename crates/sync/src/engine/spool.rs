//! Downloaded content on its way to CRM: small pieces in memory, anything bigger in an
//! anonymous temporary file (gone with the process, even when it is killed), so a message
//! with large attachments costs disk, not memory, until one document at a time is written
//! under the [`MemoryBudget`](super::budget::MemoryBudget).

use std::io::{self, Read, Seek, SeekFrom, Write};

use tempfile::SpooledTempFile;

/// Bytes kept in memory before a spool moves to a temporary file.
pub const IN_MEMORY_BYTES: usize = 64 * 1024;

/// Content written piece by piece and read back once.
#[derive(Debug)]
pub struct Spool {
    file: SpooledTempFile,
    len: u64,
}

impl Spool {
    /// An empty spool.
    pub fn new() -> Self {
        Spool {
            file: SpooledTempFile::new(IN_MEMORY_BYTES),
            len: 0,
        }
    }

    /// A spool holding `bytes` (tests, small content).
    pub fn from_bytes(bytes: &[u8]) -> io::Result<Self> {
        let mut s = Spool::new();
        s.write(bytes)?;
        Ok(s)
    }

    /// Appends a piece.
    pub fn write(&mut self, piece: &[u8]) -> io::Result<()> {
        self.file.write_all(piece)?;
        self.len += piece.len() as u64;
        Ok(())
    }

    /// Bytes written.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the content went to a temporary file.
    pub fn on_disk(&self) -> bool {
        self.file.is_rolled()
    }

    /// The whole content (call under a budget reservation for [`Self::len`] bytes).
    pub fn read_all(&mut self) -> io::Result<Vec<u8>> {
        self.file.flush()?;
        self.file.seek(SeekFrom::Start(0))?;
        let mut out = Vec::with_capacity(self.len as usize);
        (&mut self.file).take(self.len).read_to_end(&mut out)?;
        Ok(out)
    }
}

impl Default for Spool {
    fn default() -> Self {
        Spool::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_content_stays_in_memory_big_content_goes_to_disk() {
        let mut s = Spool::from_bytes(b"abc").unwrap();
        assert!(!s.on_disk());
        assert_eq!(s.read_all().unwrap(), b"abc");
        let mut big = Spool::new();
        let piece = vec![7u8; 40 * 1024];
        for _ in 0..3 {
            big.write(&piece).unwrap();
        }
        assert!(big.on_disk());
        assert_eq!(big.len(), 120 * 1024);
        let back = big.read_all().unwrap();
        assert_eq!(back.len(), 120 * 1024);
        assert!(back.iter().all(|b| *b == 7));
        // reading twice gives the same bytes
        assert_eq!(big.read_all().unwrap().len(), 120 * 1024);
    }
}
