//! One writer at a time on a bucket: a lease object created with a
//! put-if-absent, naming its holder and when it expires, renewed while the
//! run lasts and deleted when it ends. A lease whose holder died (kill -9,
//! a lost machine) is taken over once it has expired, with a conditional
//! put on the version that was read, so two takers cannot both win.

use std::sync::Arc;
use std::time::{Duration, Instant};

use deltalake::logstore::object_store::path::Path;
use deltalake::logstore::object_store::{
    Error as ObjectError, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion,
};

use super::bucket::{Objects, block_on, reach, uuid_like};
use crate::Error;

/// The lease object, beside the tables.
const KEY: &str = ".praktik.lock";

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Terms {
    holder: String,
    token: String,
    expires: chrono::DateTime<chrono::Utc>,
}

/// The store's lease, held until dropped.
pub struct Lease {
    objects: Arc<Objects>,
    token: String,
    renewal: tokio::task::JoinHandle<()>,
}

impl Lease {
    /// Take the lease of the store in `objects`, waiting up to `wait` for
    /// another holder to finish (or its lease to expire).
    pub async fn take(objects: Arc<Objects>, wait: Duration) -> Result<Lease, Error> {
        let key = Path::from(KEY);
        let token = uuid_like();
        let holder = crate::lock::holder();
        let started = Instant::now();
        loop {
            let terms = Terms {
                holder: holder.clone(),
                token: token.clone(),
                expires: chrono::Utc::now() + objects.lease_term,
            };
            let body = PutPayload::from(serde_json::to_vec(&terms).unwrap_or_default());
            let (current, version) = match objects
                .store
                .put_opts(&key, body.clone(), PutMode::Create.into())
                .await
            {
                Ok(_) => break,
                Err(ObjectError::AlreadyExists { .. }) => match read(&objects, &key).await? {
                    Some(read) => read,
                    // Released between our put and our read: try again at once.
                    None => continue,
                },
                Err(cause) => {
                    return Err(
                        reach(&objects.url, format!("taking the lease {KEY}: {cause}")).into(),
                    );
                }
            };
            if current
                .as_ref()
                .is_none_or(|c| c.expires < chrono::Utc::now())
            {
                // Expired (or unreadable): take it over, on the version read.
                let update = PutOptions {
                    mode: PutMode::Update(version),
                    ..PutOptions::default()
                };
                match objects.store.put_opts(&key, body, update).await {
                    Ok(_) => {
                        tracing::warn!(
                            holder = current.map(|c| c.holder).unwrap_or_default(),
                            "the store's lease had expired; taken over"
                        );
                        break;
                    }
                    Err(ObjectError::Precondition { .. } | ObjectError::NotFound { .. }) => {
                        continue;
                    }
                    Err(cause) => {
                        return Err(reach(
                            &objects.url,
                            format!("taking over the lease {KEY}: {cause}"),
                        )
                        .into());
                    }
                }
            }
            if started.elapsed() >= wait {
                return Err(Error::Locked {
                    path: format!("{}{KEY}", objects.url),
                    holder: current
                        .map(|c| {
                            format!("{}, until {}", c.holder, c.expires.format("%H:%M:%S UTC"))
                        })
                        .unwrap_or_default(),
                    waited: started.elapsed().as_secs(),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let renewal = tokio::spawn(renew(objects.clone(), token.clone(), holder));
        Ok(Lease {
            objects,
            token,
            renewal,
        })
    }
}

/// The lease's terms (`None` if unreadable) and the version they were read
/// at; `None` if there is no lease.
async fn read(
    objects: &Objects,
    key: &Path,
) -> Result<Option<(Option<Terms>, UpdateVersion)>, Error> {
    match objects.store.get(key).await {
        Ok(got) => {
            let version = UpdateVersion {
                e_tag: got.meta.e_tag.clone(),
                version: got.meta.version.clone(),
            };
            let bytes = got
                .bytes()
                .await
                .map_err(|cause| reach(&objects.url, cause.to_string()))?;
            Ok(Some((serde_json::from_slice(&bytes).ok(), version)))
        }
        Err(ObjectError::NotFound { .. }) => Ok(None),
        Err(cause) => Err(reach(&objects.url, cause.to_string()).into()),
    }
}

/// Extend the lease every third of its term while it is ours.
async fn renew(objects: Arc<Objects>, token: String, holder: String) {
    let key = Path::from(KEY);
    loop {
        tokio::time::sleep(objects.lease_term / 3).await;
        let Ok(Some((Some(current), version))) = read(&objects, &key).await else {
            tracing::error!("the store's lease could not be read to renew it");
            continue;
        };
        if current.token != token {
            tracing::error!(
                holder = current.holder,
                "the store's lease was taken over by another writer"
            );
            return;
        }
        let terms = Terms {
            holder: holder.clone(),
            token: token.clone(),
            expires: chrono::Utc::now() + objects.lease_term,
        };
        let update = PutOptions {
            mode: PutMode::Update(version),
            ..PutOptions::default()
        };
        let body = PutPayload::from(serde_json::to_vec(&terms).unwrap_or_default());
        if let Err(e) = objects.store.put_opts(&key, body, update).await {
            tracing::error!("the store's lease could not be renewed: {e}");
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewal.abort();
        let (objects, token) = (self.objects.clone(), self.token.clone());
        block_on(async move {
            let key = Path::from(KEY);
            // Only our own lease: one taken over after ours expired stays.
            if let Ok(Some((Some(current), _))) = read(&objects, &key).await
                && current.token == token
                && let Err(e) = objects.store.delete(&key).await
            {
                tracing::warn!(
                    "the store's lease could not be released; it expires by itself: {e}"
                );
            }
        });
    }
}
