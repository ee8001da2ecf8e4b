//! One writer at a time: an operating-system lock (`flock`) on a file in the
//! store, held while the process lives and released by the kernel when it
//! ends, however it ends. The file is never removed; it names the holder.

use std::io::{Read, Seek, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::Error;

/// The lock file, in the store's folder.
pub const LOCK_FILE: &str = ".praktik.lock";

/// The store's write lock, held until dropped (or the process ends).
pub struct Lock {
    _file: std::fs::File,
}

impl Lock {
    /// Take the lock of the store in `root`, waiting up to `wait` for
    /// another holder to finish.
    pub fn take(root: &Path, wait: Duration) -> Result<Lock, Error> {
        let path = root.join(LOCK_FILE);
        let failed = |cause| Error::Lock {
            path: path.clone(),
            cause,
        };
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(failed)?;
        let started = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < wait => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    let mut holder = String::new();
                    let _ = file.read_to_string(&mut holder);
                    let holder = holder.trim();
                    return Err(Error::Locked {
                        path: path.display().to_string(),
                        holder: if holder.is_empty() {
                            "a process that has not yet said who it is".into()
                        } else {
                            holder.to_string()
                        },
                        waited: started.elapsed().as_secs(),
                    });
                }
                Err(std::fs::TryLockError::Error(cause)) => return Err(failed(cause)),
            }
        }
        let holder = holder();
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(holder.as_bytes()))
            .and_then(|()| file.flush())
            .map_err(failed)?;
        Ok(Lock { _file: file })
    }
}

/// Who holds a lock taken now: this process, machine and time.
pub fn holder() -> String {
    format!(
        "process {} on {} since {}",
        std::process::id(),
        hostname(),
        chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC")
    )
}

/// This machine's name, for the lock holder and the run ledger.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "this machine".into())
}
