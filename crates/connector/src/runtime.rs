//! The async runtime the commands run on, sized by `[service] worker_threads`.
//!
//! The connector's work is waiting: for Graph, for CRM.interface, for the state store's
//! connection threads. With a worker thread per core, every wake-up can land on the other
//! thread and the hand-overs cost more CPU than the work they spread; one worker measured 1.2×
//! less CPU per item at 2,000 mailboxes and the same first-sync time (docs/PERFORMANCE.md).

use std::path::Path;

/// A multi-thread runtime with `worker_threads` workers (0: one per CPU core, tokio's default).
/// Multi-thread even with one worker, so that work spawned by a command runs beside the
/// command's own future instead of only when it waits.
pub fn build(worker_threads: u32) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if worker_threads > 0 {
        builder.worker_threads(worker_threads as usize);
    }
    builder.enable_all().build()
}

/// `[service] worker_threads` of the configuration at `path`, with its environment override;
/// the default when the configuration cannot be read, since the command reads it again and
/// reports what is wrong with it.
pub fn worker_threads_of(path: &Path) -> u32 {
    crate::config::load(path, std::env::vars())
        .map(|config| config.service.worker_threads)
        .unwrap_or_else(|_| crate::config::Service::default().worker_threads)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_worker_means_one_worker_thread() {
        let rt = build(1).unwrap();
        assert_eq!(rt.metrics().num_workers(), 1);
        let rt = build(3).unwrap();
        assert_eq!(rt.metrics().num_workers(), 3);
    }

    #[test]
    fn zero_means_one_per_core() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(build(0).unwrap().metrics().num_workers(), cores);
    }

    #[test]
    fn the_setting_is_read_from_the_file_and_defaults_when_unreadable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("graph-connector.toml");
        assert_eq!(worker_threads_of(&path), 1, "no file: the default");
        let example = crate::config::EXAMPLE;
        assert!(example.contains("worker_threads = 1\n"));
        std::fs::write(
            &path,
            example.replacen("worker_threads = 1\n", "worker_threads = 3\n", 1),
        )
        .unwrap();
        assert_eq!(worker_threads_of(&path), 3);
    }
}
