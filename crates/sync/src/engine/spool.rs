//! Downloaded content on its way to CRM: small pieces in memory, anything bigger in an
//! anonymous temporary file (gone with the process, even when it is killed), so a message
//! with large attachments costs disk, not memory. A spool is written once, then read as often
//! as needed (every attempt of a CRM write reads it anew), each reader with its own position.

use std::fs::File;
use std::io::{self, Read, Write};
use std::sync::Arc;

/// Bytes kept in memory before a spool moves to a temporary file.
pub const IN_MEMORY_BYTES: usize = 64 * 1024;

/// Content written piece by piece and read back. Cheap to clone once written (shared).
#[derive(Debug, Clone, Default)]
pub struct Spool {
    memory: Vec<u8>,
    file: Option<Arc<File>>,
    len: u64,
}

impl Spool {
    /// An empty spool.
    pub fn new() -> Self {
        Spool::default()
    }

    /// A spool holding `bytes` (tests, small content).
    pub fn from_bytes(bytes: &[u8]) -> io::Result<Self> {
        let mut s = Spool::new();
        s.write(bytes)?;
        Ok(s)
    }

    /// Appends a piece; past [`IN_MEMORY_BYTES`] the content moves to a temporary file.
    pub fn write(&mut self, piece: &[u8]) -> io::Result<()> {
        if self.file.is_none() && self.memory.len() + piece.len() > IN_MEMORY_BYTES {
            let mut f = tempfile::tempfile()?;
            f.write_all(&self.memory)?;
            self.memory = Vec::new();
            self.file = Some(Arc::new(f));
        }
        match &self.file {
            Some(f) => (&**f).write_all(piece)?,
            None => self.memory.extend_from_slice(piece),
        }
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
        self.file.is_some()
    }

    /// A reader from the first byte, independent of any other reader.
    pub fn reader(&self) -> SpoolReader {
        SpoolReader {
            spool: self.clone(),
            pos: 0,
        }
    }

    /// The whole content in memory (small documents written with their activity).
    pub fn read_all(&self) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(self.len as usize);
        self.reader().read_to_end(&mut out)?;
        Ok(out)
    }
}

/// Reads a [`Spool`] from its start ([`Spool::reader`]).
#[derive(Debug)]
pub struct SpoolReader {
    spool: Spool,
    pos: u64,
}

impl Read for SpoolReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.spool.len.saturating_sub(self.pos);
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = match &self.spool.file {
            Some(f) => read_at(f, &mut buf[..want], self.pos)?,
            None => {
                let start = self.pos as usize;
                buf[..want].copy_from_slice(&self.spool.memory[start..start + want]);
                want
            }
        };
        self.pos += n as u64;
        Ok(n)
    }
}

/// A read at an offset that leaves the file's own position alone, so readers do not share it.
#[cfg(unix)]
fn read_at(f: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(f, buf, offset)
}

#[cfg(windows)]
fn read_at(f: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(f, buf, offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_content_stays_in_memory_big_content_goes_to_disk() {
        let s = Spool::from_bytes(b"abc").unwrap();
        assert!(!s.on_disk());
        assert_eq!(s.read_all().unwrap(), b"abc");
        let mut big = Spool::new();
        for i in 0..3u8 {
            big.write(&vec![i; 40 * 1024]).unwrap();
        }
        assert!(big.on_disk());
        assert_eq!(big.len(), 120 * 1024);
        let back = big.read_all().unwrap();
        assert_eq!(back.len(), 120 * 1024);
        assert!(back[..40 * 1024].iter().all(|b| *b == 0));
        assert!(back[80 * 1024..].iter().all(|b| *b == 2));
    }

    #[test]
    fn readers_are_independent() {
        let mut big = Spool::new();
        big.write(&(0..=255u8).cycle().take(100_000).collect::<Vec<_>>())
            .unwrap();
        let mut a = big.reader();
        let mut b = big.reader();
        let mut first = [0u8; 10];
        a.read_exact(&mut first).unwrap();
        let mut all = Vec::new();
        b.read_to_end(&mut all).unwrap();
        assert_eq!(&all[..10], &first);
        assert_eq!(all.len(), 100_000);
        let mut rest = Vec::new();
        a.read_to_end(&mut rest).unwrap();
        assert_eq!(rest.len(), 100_000 - 10);
        assert_eq!(rest[0], 10);
    }
}
