//! Queries spread over DataFusion Distributed workers: `[engine] workers`
//! (or `--workers`) names them, `praktik worker --listen ADDR:PORT` runs one.
//! With the `distributed` feature; without it, naming workers is an error.

use url::Url;

/// `[engine]` in `praktik.toml`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineSettings {
    /// The workers' URLs (`http://10.0.0.5:7070`); none: one process.
    #[serde(default)]
    pub workers: Vec<Url>,
    /// How many bytes of Parquet one task of a distributed scan reads (the
    /// default suits files of a cluster; a test lowers it to spread a small
    /// store over every worker).
    pub bytes_per_task: Option<usize>,
}

/// For a query that failed on workers: which of them do not answer now,
/// and what to do. Empty if there are no workers, or if every one answers
/// and `cause` is no broken connection.
pub fn silent_hint(workers: &[Url], cause: &str) -> String {
    if workers.is_empty() {
        return String::new();
    }
    let answers = |url: &Url| {
        url.socket_addrs(|| None).is_ok_and(|addresses| {
            addresses.iter().any(|address| {
                std::net::TcpStream::connect_timeout(address, std::time::Duration::from_millis(500))
                    .is_ok()
            })
        })
    };
    let silent = || -> Vec<String> {
        workers
            .iter()
            .filter(|url| !answers(url))
            .map(|url| url.to_string())
            .collect()
    };
    let mut gone = silent();
    if gone.is_empty() {
        // A worker that is being killed may still accept a connection while
        // its process ends: ask again a moment later.
        std::thread::sleep(std::time::Duration::from_millis(300));
        gone = silent();
    }
    let broken = [
        "h2 protocol error",
        "broken pipe",
        "transport error",
        "connection reset",
    ]
    .iter()
    .any(|marker| cause.to_lowercase().contains(marker));
    match (gone.is_empty(), broken) {
        (false, _) => format!(
            "\n  the worker(s) {} do not answer: a worker that stops during a query ends it (it is not retried on the others), and nothing of the answer is given. Start it again (`praktik worker --listen ADDR:PORT`), or leave it out of --workers / [engine] workers, and run the query again",
            gone.join(", ")
        ),
        (true, true) => "\n  a connection to a worker broke during the query (it is not retried on the others), and nothing of the answer is given; every worker answers now: run the query again".to_string(),
        (true, false) => String::new(),
    }
}

#[cfg(feature = "distributed")]
pub use enabled::*;

#[cfg(feature = "distributed")]
mod enabled {
    use std::net::SocketAddr;
    use std::sync::Arc;

    use datafusion::error::DataFusionError;
    use datafusion::execution::SessionStateBuilder;
    use datafusion::execution::runtime_env::RuntimeEnv;
    use datafusion::prelude::{SessionConfig, SessionContext};
    use datafusion_distributed::{DistributedExt, SessionStateBuilderExt, Worker, WorkerResolver};
    use url::Url;

    use super::EngineSettings;
    use crate::store::location::Location;

    /// A Parquet task's share when no setting says: 128 MiB.
    const BYTES_PER_TASK: usize = 128 << 20;

    /// The workers, as configured.
    #[derive(Clone)]
    struct Listed(Vec<Url>);

    impl WorkerResolver for Listed {
        fn get_urls(&self) -> Result<Vec<Url>, DataFusionError> {
            Ok(self.0.clone())
        }
    }

    /// A session whose plans are spread over `settings.workers`.
    pub fn context(
        config: SessionConfig,
        settings: &EngineSettings,
    ) -> Result<SessionContext, DataFusionError> {
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_default_features()
            .with_distributed_worker_resolver(Listed(settings.workers.clone()))
            .with_distributed_planner()
            .with_distributed_file_scan_config_bytes_per_partition(
                settings.bytes_per_task.unwrap_or(BYTES_PER_TASK),
            )?
            .build();
        Ok(SessionContext::new_with_state(state))
    }

    /// Serve a worker on `listen` until the process is stopped. It reads
    /// the store's files itself: a store in a bucket is reached with the
    /// same `[s3]` settings and AWS environment as every other command.
    pub async fn serve(listen: SocketAddr, store: &Location) -> Result<(), crate::Error> {
        let runtime = RuntimeEnv::default();
        if let Location::Bucket(bucket) = store {
            let mut root = bucket.url.clone();
            root.set_path("/");
            let objects = deltalake::logstore::store_for(&root, bucket.options())
                .map_err(|e| crate::store::bucket::reach(&bucket.url, e.to_string()))?;
            runtime.register_object_store(&root, objects);
        }
        let worker = Worker::default().with_runtime_env(Arc::new(runtime));
        tracing::info!(%listen, "worker listening");
        tonic::transport::Server::builder()
            .add_service(worker.into_worker_server())
            .serve(listen)
            .await
            .map_err(|e| crate::Error::Worker {
                listen: listen.to_string(),
                cause: std::error::Error::source(&e)
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| e.to_string()),
            })
    }
}
