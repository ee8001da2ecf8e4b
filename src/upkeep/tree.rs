//! The store's files as `store check`, `vacuum` and `rebuild` see them: in a
//! folder through the file system (every file, however it got there), in a
//! bucket through its object store. A file is named by its key, the path
//! below the store's root with `/` between parts.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use deltalake::logstore::object_store::path::Path as Key;
use deltalake::logstore::object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use futures::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};
use url::Url;

use super::name_of;
use crate::store::StoreError;

/// The files of a store.
#[derive(Debug, Clone)]
pub enum Tree {
    Folder(PathBuf),
    Bucket {
        store: Arc<dyn ObjectStore>,
        url: Url,
    },
}

impl Tree {
    /// Where `key` is, for a message: a path, or the object's URL.
    pub fn show(&self, key: &str) -> String {
        match self {
            Tree::Folder(root) => root.join(key).display().to_string(),
            Tree::Bucket { url, .. } => format!("{url}{key}"),
        }
    }

    /// The store's root, for a message.
    pub fn root(&self) -> String {
        match self {
            Tree::Folder(root) => root.display().to_string(),
            Tree::Bucket { url, .. } => url.to_string(),
        }
    }

    /// The keys of every file below `dir` (`""`: the whole store), sorted.
    pub async fn list(&self, dir: &str) -> Result<Vec<String>, StoreError> {
        let mut keys: Vec<String> = match self {
            Tree::Folder(root) => files_below(&root.join(dir))
                .iter()
                .filter_map(|path| path.strip_prefix(root).ok())
                .map(|path| path.to_string_lossy().into_owned())
                .collect(),
            Tree::Bucket { store, url } => {
                let prefix = (!dir.is_empty()).then(|| Key::from(dir));
                store
                    .list(prefix.as_ref())
                    .map_ok(|meta| meta.location.to_string())
                    .try_collect()
                    .await
                    .map_err(|cause| crate::store::bucket::reach(url, cause.to_string()))?
            }
        };
        keys.sort();
        Ok(keys)
    }

    /// The whole file.
    pub async fn read(&self, key: &str) -> Result<Vec<u8>, String> {
        match self {
            Tree::Folder(root) => std::fs::read(root.join(key)).map_err(|e| e.to_string()),
            Tree::Bucket { store, .. } => match store.get(&Key::from(key)).await {
                Ok(got) => got
                    .bytes()
                    .await
                    .map(|b| b.to_vec())
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            },
        }
    }

    /// The bytes `range` of the file, and its length.
    async fn read_range(&self, key: &str, range: Range<u64>) -> Result<Vec<u8>, String> {
        match self {
            Tree::Folder(root) => {
                use std::io::{Read, Seek};
                let mut file = std::fs::File::open(root.join(key)).map_err(|e| e.to_string())?;
                file.seek(std::io::SeekFrom::Start(range.start))
                    .map_err(|e| e.to_string())?;
                let mut bytes = vec![0; (range.end - range.start) as usize];
                file.read_exact(&mut bytes).map_err(|e| e.to_string())?;
                Ok(bytes)
            }
            Tree::Bucket { store, .. } => store
                .get_range(&Key::from(key), range)
                .await
                .map(|b| b.to_vec())
                .map_err(|e| e.to_string()),
        }
    }

    /// The file's length; an error if it is not there.
    async fn size(&self, key: &str) -> Result<u64, String> {
        match self {
            Tree::Folder(root) => std::fs::metadata(root.join(key))
                .map(|m| m.len())
                .map_err(|e| e.to_string()),
            Tree::Bucket { store, .. } => store
                .head(&Key::from(key))
                .await
                .map(|meta| meta.size)
                .map_err(|e| e.to_string()),
        }
    }

    pub async fn exists(&self, key: &str) -> bool {
        self.size(key).await.is_ok()
    }

    /// Whether the file reads as Parquet: its footer and metadata are whole.
    pub async fn parquet_readable(&self, key: &str) -> Result<(), String> {
        let size = self.size(key).await?;
        if size < 12 {
            return Err(format!("{size} bytes is too short for Parquet"));
        }
        let tail = self.read_range(key, size - 8..size).await?;
        if tail[4..] != *b"PAR1" {
            return Err("no Parquet footer at its end".into());
        }
        let length = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
        if length + 12 > size {
            return Err("its Parquet footer is longer than the file".into());
        }
        let metadata = self.read_range(key, size - 8 - length..size - 8).await?;
        parquet::file::metadata::ParquetMetaDataReader::decode_metadata(&metadata)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// The SHA-256 of the file, hex, and its length.
    pub async fn sha256(&self, key: &str) -> Result<(String, u64), String> {
        match self {
            Tree::Folder(root) => {
                crate::land::hash_file(&root.join(key)).map_err(|e| e.to_string())
            }
            Tree::Bucket { store, .. } => {
                let got = store
                    .get(&Key::from(key))
                    .await
                    .map_err(|e| e.to_string())?;
                let mut stream = got.into_stream();
                let (mut hasher, mut bytes) = (Sha256::new(), 0);
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk.map_err(|e| e.to_string())?;
                    bytes += chunk.len() as u64;
                    hasher.update(&chunk);
                }
                Ok((hex::encode(hasher.finalize()), bytes))
            }
        }
    }

    /// Replace the file with `bytes`, durably.
    pub async fn write(&self, key: &str, bytes: Vec<u8>) -> Result<(), String> {
        match self {
            Tree::Folder(root) => {
                crate::durable::write(&root.join(key), &bytes).map_err(|e| e.to_string())
            }
            Tree::Bucket { store, .. } => store
                .put(&Key::from(key), PutPayload::from(bytes))
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
        }
    }

    /// Remove the file; one already gone is no matter.
    pub async fn remove(&self, key: &str) -> Result<(), String> {
        match self {
            Tree::Folder(root) => match std::fs::remove_file(root.join(key)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.to_string()),
                _ => Ok(()),
            },
            Tree::Bucket { store, .. } => match store.delete(&Key::from(key)).await {
                Err(deltalake::ObjectStoreError::NotFound { .. }) | Ok(()) => Ok(()),
                Err(e) => Err(e.to_string()),
            },
        }
    }

    /// Remove `dir` and everything below it; one not there is no matter.
    pub async fn remove_dir(&self, dir: &str) -> Result<(), String> {
        match self {
            Tree::Folder(root) => match std::fs::remove_dir_all(root.join(dir)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.to_string()),
                _ => Ok(()),
            },
            Tree::Bucket { .. } => {
                let keys = self
                    .list(&format!("{dir}/"))
                    .await
                    .map_err(|e| e.to_string())?;
                for key in &keys {
                    self.remove(key).await?;
                }
                Ok(())
            }
        }
    }

    /// Fetch the file into the local `folder` (a file in a store folder is
    /// read where it is); its local path.
    pub async fn local_copy(&self, key: &str, folder: &Path) -> Result<PathBuf, String> {
        match self {
            Tree::Folder(root) => Ok(root.join(key)),
            Tree::Bucket { .. } => {
                let bytes = self.read(key).await?;
                let path = folder.join(name_of(key));
                std::fs::create_dir_all(folder).map_err(|e| e.to_string())?;
                std::fs::write(&path, bytes).map_err(|e| e.to_string())?;
                Ok(path)
            }
        }
    }

    /// Move every file below `from` to the same place below `to`. A folder
    /// is renamed; in a bucket each object is copied on the server, the
    /// data files before the log (so that no log entry names a file not yet
    /// there), and then deleted, the log first.
    pub async fn move_dir(&self, from: &str, to: &str) -> Result<(), String> {
        match self {
            Tree::Folder(root) => {
                let target = root.join(to);
                if let Some(folder) = target.parent() {
                    std::fs::create_dir_all(folder).map_err(|e| e.to_string())?;
                }
                std::fs::rename(root.join(from), target).map_err(|e| e.to_string())
            }
            Tree::Bucket { store, .. } => {
                let mut keys = self
                    .list(&format!("{from}/"))
                    .await
                    .map_err(|e| e.to_string())?;
                // Data files first, then the log in version order.
                keys.sort_by_key(|key| (key.contains("/_delta_log/"), key.clone()));
                for key in &keys {
                    let rest = key.strip_prefix(from).unwrap_or(key);
                    store
                        .copy(&Key::from(key.as_str()), &Key::from(format!("{to}{rest}")))
                        .await
                        .map_err(|e| format!("copying {key}: {e}"))?;
                }
                keys.reverse();
                for key in &keys {
                    self.remove(key).await?;
                }
                Ok(())
            }
        }
    }
}

/// Every file below `dir` (not following links), sorted.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => folders.push(path),
                Ok(_) => found.push(path),
                Err(_) => {}
            }
        }
    }
    found.sort();
    found
}
