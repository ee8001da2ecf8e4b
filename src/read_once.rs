//! A file read once for two readers: the landing's CPR screen reads it as a
//! [`BufRead`] on its thread while its SHA-256 is computed from the same
//! buffers on a thread of its own. Each reading its own copy, the two
//! copied a 1.5 GB extract out of the page cache twice (0.2 s of a core
//! each time), and the hash, the slower of the two, waited on its reads.

use std::fs::File;
use std::io::{BufRead, Read};
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};

use sha2::{Digest, Sha256};

/// Bytes read at a time: small enough that a buffer is still in the
/// caches when the hash takes it.
const CHUNK: usize = 256 << 10;

/// Buffers in flight between the reader and the hash: the reader waits
/// for one back when the hash lags this far behind. Enough that a buffer
/// has left the hashing core's cache (2 MiB here) before it is read into
/// again: with 8, each read into a buffer the hash had just held cost
/// 2.5 times a plain read (0.52 core-s for 1.5 GB against 0.21 with 32).
const POOL: usize = 32;

/// A file as a [`BufRead`] whose every byte is also hashed; [`ReadOnce::finish`]
/// reads what the reader left and gives the SHA-256 and length of the whole file.
pub struct ReadOnce {
    file: File,
    /// The buffer being read, filled up to `filled`, read up to `at`.
    buffer: Vec<u8>,
    at: usize,
    filled: usize,
    end: bool,
    /// Buffers allocated so far (at most [`POOL`]).
    made: usize,
    to_hash: SyncSender<Vec<u8>>,
    returned: Receiver<Vec<u8>>,
    hashing: std::thread::JoinHandle<(String, u64)>,
}

impl ReadOnce {
    pub fn open(path: &Path) -> std::io::Result<ReadOnce> {
        let file = File::open(path)?;
        let (to_hash, buffers) = sync_channel::<Vec<u8>>(POOL);
        let (give_back, returned) = channel();
        let hashing = std::thread::spawn(move || {
            let mut hasher = Sha256::new();
            let mut bytes = 0u64;
            for buffer in buffers {
                hasher.update(&buffer);
                bytes += buffer.len() as u64;
                // The reader may be gone (an error); the buffer goes with it.
                let _ = give_back.send(buffer);
            }
            (hex::encode(hasher.finalize()), bytes)
        });
        Ok(ReadOnce {
            file,
            buffer: Vec::new(),
            at: 0,
            filled: 0,
            end: false,
            made: 0,
            to_hash,
            returned,
            hashing,
        })
    }

    /// Read the rest of the file (the reader may stop before its end) and
    /// wait for the hash: the SHA-256 (lower-case hex) and length of every
    /// byte of the file.
    pub fn finish(mut self) -> std::io::Result<(String, u64)> {
        while !self.end {
            self.at = self.filled;
            self.refill()?;
        }
        let Self {
            to_hash, hashing, ..
        } = self;
        drop(to_hash);
        hashing.join().map_err(|_| stopped())
    }

    /// Hand the buffer read to the hash and read the next one.
    fn refill(&mut self) -> std::io::Result<()> {
        let next = match self.returned.try_recv() {
            Ok(buffer) => buffer,
            Err(_) if self.made < POOL => {
                self.made += 1;
                Vec::with_capacity(CHUNK)
            }
            Err(_) => self.returned.recv().map_err(|_| stopped())?,
        };
        let mut read = std::mem::replace(&mut self.buffer, next);
        if self.filled > 0 {
            read.truncate(self.filled);
            self.to_hash.send(read).map_err(|_| stopped())?;
        }
        self.buffer.resize(CHUNK, 0);
        self.at = 0;
        self.filled = loop {
            match self.file.read(&mut self.buffer) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        };
        self.end = self.filled == 0;
        Ok(())
    }
}

fn stopped() -> std::io::Error {
    std::io::Error::other("the hashing thread stopped")
}

impl Read for ReadOnce {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for ReadOnce {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.at == self.filled && !self.end {
            self.refill()?;
        }
        Ok(&self.buffer[self.at..self.filled])
    }

    fn consume(&mut self, amount: usize) {
        self.at = (self.at + amount).min(self.filled);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha256(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    #[test]
    fn every_byte_is_read_once_and_hashed_whether_the_reader_reads_all_some_or_none() {
        let dir = tempfile::tempdir().unwrap();
        // Empty, one short buffer, exactly a buffer, and many buffers (more
        // than the pool) with lines across their edges.
        let line = b"id-1;P-1;101;kontanthjaelp;2020-03-31\n";
        let sizes = [0, 10, CHUNK, CHUNK * (POOL + 3) + 17];
        for size in sizes {
            let body: Vec<u8> = line.iter().copied().cycle().take(size).collect();
            let path = dir.path().join(format!("{size}.csv"));
            std::fs::write(&path, &body).unwrap();
            let expected = (sha256(&body), size as u64);

            let mut all = ReadOnce::open(&path).unwrap();
            let mut lines = Vec::new();
            let mut read = Vec::new();
            while all.read_until(b'\n', &mut read).unwrap() > 0 {
                lines.push(std::mem::take(&mut read));
            }
            assert_eq!(lines.concat(), body, "{size}");
            assert_eq!(all.finish().unwrap(), expected, "{size}");

            let mut some = ReadOnce::open(&path).unwrap();
            let mut first = vec![0u8; size.min(100)];
            some.read_exact(&mut first).unwrap();
            assert_eq!(first, body[..first.len()], "{size}");
            assert_eq!(some.finish().unwrap(), expected, "{size}");

            assert_eq!(ReadOnce::open(&path).unwrap().finish().unwrap(), expected);
        }
    }
}
