//! An object store that remembers what it created, so that a write that
//! does not commit can take away exactly its own files and nothing else,
//! however many others write beside it.

use std::sync::{Arc, Mutex};

use deltalake::logstore::object_store::path::Path;
use deltalake::logstore::object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};
use futures::stream::BoxStream;

/// `inner`, with every object put through it noted in `created`.
#[derive(Debug)]
pub struct Recording {
    inner: Arc<dyn ObjectStore>,
    created: Arc<Mutex<Vec<Path>>>,
}

impl Recording {
    pub fn new(inner: Arc<dyn ObjectStore>) -> Recording {
        Recording {
            inner,
            created: Arc::default(),
        }
    }

    /// The objects created so far.
    pub fn created(&self) -> Arc<Mutex<Vec<Path>>> {
        self.created.clone()
    }

    fn note(&self, location: &Path) {
        if let Ok(mut created) = self.created.lock() {
            created.push(location.clone());
        }
    }
}

impl std::fmt::Display for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Recording({})", self.inner)
    }
}

#[async_trait::async_trait]
impl ObjectStore for Recording {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        // Noted before the put: a put cut off half-way may still leave it.
        self.note(location);
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.note(location);
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.note(to);
        self.inner.copy_opts(from, to, options).await
    }
}
