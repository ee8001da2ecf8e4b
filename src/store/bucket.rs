//! A store in an S3 bucket: its object store, and what the store does
//! there that it does with files in a folder — keeping `raw/` and its index,
//! taking away a write's own objects.
//!
//! `raw/` is landed into a local folder first (the CPR screen and the hash
//! work on files), then published: each body under its SHA-256 name with a
//! put-if-absent, then one index object per line, so that no two machines
//! ever append to the same object.

use std::collections::HashMap;
use std::path::Path as FilePath;
use std::sync::Arc;

use deltalake::logstore::object_store::path::Path;
use deltalake::logstore::object_store::{ObjectStore, ObjectStoreExt, PutMode, PutPayload};
use futures::{StreamExt, TryStreamExt};
use url::Url;

use super::StoreError;
use super::location::Bucket;

/// The bucket's objects under the store's prefix.
#[derive(Debug)]
pub struct Objects {
    pub url: Url,
    pub options: HashMap<String, String>,
    pub store: Arc<dyn ObjectStore>,
    /// Where `raw/` is landed before it is published.
    pub landing: tempfile::TempDir,
    /// How long the writers' lease lasts without renewal.
    pub lease_term: std::time::Duration,
}

impl Objects {
    pub fn open(bucket: &Bucket) -> Result<Objects, StoreError> {
        Objects::open_at(
            bucket.url.clone(),
            bucket.options(),
            bucket.settings.lease_term(),
        )
    }

    fn open_at(
        url: Url,
        options: HashMap<String, String>,
        lease_term: std::time::Duration,
    ) -> Result<Objects, StoreError> {
        let store = deltalake::logstore::store_for(&url, options.clone())
            .map_err(|cause| reach(&url, cause.to_string()))?;
        let landing = tempfile::Builder::new()
            .prefix("praktik-landing-")
            .tempdir()
            .map_err(|cause| StoreError::CreateFolder {
                path: std::env::temp_dir(),
                cause,
            })?;
        Ok(Objects {
            url,
            options,
            store,
            landing,
            lease_term,
        })
    }

    /// The objects under `name/` below this prefix, as a store's.
    pub fn nested(&self, name: &str) -> Result<Objects, StoreError> {
        let url = self
            .url
            .join(&format!("{name}/"))
            .map_err(|e| reach(&self.url, e.to_string()))?;
        Objects::open_at(url, self.options.clone(), self.lease_term)
    }

    /// Whether any object lies under `prefix`.
    pub async fn any_below(&self, prefix: &str) -> Result<bool, StoreError> {
        let mut listed = self.store.list(Some(&Path::from(prefix)));
        match listed.next().await {
            None => Ok(false),
            Some(Ok(_)) => Ok(true),
            Some(Err(cause)) => Err(reach(&self.url, cause.to_string())),
        }
    }

    /// Every object under `prefix`.
    pub async fn below(&self, prefix: &str) -> Result<Vec<Path>, StoreError> {
        self.store
            .list(Some(&Path::from(prefix)))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await
            .map_err(|cause| reach(&self.url, cause.to_string()))
    }

    /// Publish what was landed in the local `raw/` since the last call: every
    /// body the bucket lacks, then the index lines, one object each.
    pub async fn publish_raw(&self) -> Result<(), StoreError> {
        let raw = self.landing.path().join("raw");
        let Ok(entries) = std::fs::read_dir(&raw) else {
            return Ok(());
        };
        let mut bodies = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') && name != crate::land::INDEX {
                bodies.push((entry.path(), name));
            }
        }
        for (file, name) in bodies {
            let key = Path::from(format!("raw/{name}"));
            self.upload_if_absent(&file, &key).await?;
            let _ = std::fs::remove_file(&file);
        }
        let index = raw.join(crate::land::INDEX);
        let Ok(text) = std::fs::read_to_string(&index) else {
            return Ok(());
        };
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let key = Path::from(format!(
                "raw/index/{}-{}.json",
                chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ"),
                uuid_like()
            ));
            self.put(&key, line.as_bytes().to_vec(), PutMode::Create)
                .await?;
        }
        let _ = std::fs::remove_file(&index);
        Ok(())
    }

    /// Upload `file` as `key` unless an object is there already (a body is
    /// named by its SHA-256: the same name holds the same bytes).
    async fn upload_if_absent(&self, file: &FilePath, key: &Path) -> Result<(), StoreError> {
        if self.store.head(key).await.is_ok() {
            return Ok(());
        }
        let bytes = std::fs::read(file).map_err(|cause| StoreError::CreateFolder {
            path: file.to_path_buf(),
            cause,
        })?;
        self.put(key, bytes, PutMode::Create).await
    }

    /// Put `bytes` at `key`; with [`PutMode::Create`] an object already there
    /// is left as it is.
    pub async fn put(&self, key: &Path, bytes: Vec<u8>, mode: PutMode) -> Result<(), StoreError> {
        let put = self
            .store
            .put_opts(key, PutPayload::from(bytes), mode.into())
            .await;
        match put {
            Ok(_) => Ok(()),
            Err(deltalake::logstore::object_store::Error::AlreadyExists { .. }) => Ok(()),
            Err(cause) => Err(reach(&self.url, format!("writing {key}: {cause}"))),
        }
    }

    /// Delete `keys` under the store's prefix; see [`delete_all`].
    pub async fn delete(&self, keys: Vec<Path>) {
        delete_all(self.store.as_ref(), keys).await;
    }
}

/// Delete the objects of a write that did not commit, as far as it goes:
/// one already gone is no matter, what stays is said (no version names it;
/// `praktik store vacuum` can take it later).
pub async fn delete_all(store: &dyn ObjectStore, keys: Vec<Path>) {
    let stream = futures::stream::iter(keys.into_iter().map(Ok)).boxed();
    let mut deleted = store.delete_stream(stream);
    while let Some(result) = deleted.next().await {
        if let Err(e) = result
            && !matches!(e, deltalake::ObjectStoreError::NotFound { .. })
        {
            tracing::warn!("an object of a write that did not commit stays: {e}");
        }
    }
}

/// The error for a bucket that cannot be reached or refuses us.
pub fn reach(url: &Url, cause: String) -> StoreError {
    StoreError::Reach {
        store: url.to_string(),
        cause: summary(&cause),
    }
}

/// An S3 error in one line: the request and the service's code and
/// message, not its XML.
fn summary(cause: &str) -> String {
    let between = |open: &str, close: &str| {
        let start = cause.find(open)? + open.len();
        let end = cause[start..].find(close)? + start;
        Some(cause[start..end].to_string())
    };
    let request = between("Error performing ", " in ");
    match (between("<Code>", "</Code>"), request) {
        (Some(code), Some(request)) => {
            let message = between("<Message>", "</Message>").unwrap_or_default();
            format!("{code}: {message} ({request})")
        }
        _ => cause.lines().next().unwrap_or(cause).to_string(),
    }
}

/// A name part no other writer picks at the same microsecond.
pub fn uuid_like() -> String {
    use std::hash::BuildHasher;
    let seed = std::collections::hash_map::RandomState::new();
    format!(
        "{:016x}",
        seed.hash_one((std::process::id(), std::time::SystemTime::now()))
    )
}

/// Run `work` to its end from synchronous code (a `Drop`), inside a tokio
/// runtime or outside one.
pub fn block_on<F: std::future::Future<Output = ()> + Send>(work: F) {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| handle.block_on(work));
        }
        _ => std::thread::scope(|scope| {
            let _ = scope
                .spawn(|| {
                    if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        runtime.block_on(work);
                    }
                })
                .join();
        }),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_s3_error_reads_in_one_line() {
        let cause = "Generic S3 error: Error performing PUT http://127.0.0.1:1/b/x in 3ms - Server returned non-2xx status code: 404 Not Found: <?xml version=\"1.0\"?>\n<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>";
        assert_eq!(
            super::summary(cause),
            "NoSuchBucket: The specified bucket does not exist (PUT http://127.0.0.1:1/b/x)"
        );
        assert_eq!(super::summary("refused\nmore"), "refused");
    }
}
