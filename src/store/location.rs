//! Where the store is: a local folder (the default), or a prefix in an S3
//! bucket (`s3://bucket/prefix`, with the `s3` feature). Credentials never
//! pass through here: the AWS SDK takes them from the standard environment
//! variables or profile.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use url::Url;

/// The store's place, as configured.
#[derive(Debug, Clone, PartialEq)]
pub enum Location {
    Folder(PathBuf),
    Bucket(Bucket),
}

/// A store in an S3 bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    /// `s3://bucket/prefix/`, always ending in a slash.
    pub url: Url,
    pub settings: S3Settings,
}

/// `[s3]` in `praktik.toml`: how to reach an S3-compatible server. Keys and
/// secrets are not settings: they come from `AWS_ACCESS_KEY_ID` and
/// `AWS_SECRET_ACCESS_KEY` (or the AWS profile).
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Settings {
    /// The server, for a store outside AWS (`http://127.0.0.1:8333`).
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// Allow plain HTTP (a server on this machine); HTTPS otherwise.
    #[serde(default)]
    pub allow_http: bool,
    /// How long the writers' lease lasts without renewal (default 60 s;
    /// renewed every third of it). A writer killed with the lease held
    /// keeps the next one waiting this long.
    pub lease_seconds: Option<u64>,
}

impl S3Settings {
    pub fn lease_term(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.lease_seconds.unwrap_or(60).max(3))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LocationError {
    #[error(
        "the store `{store}` is a URL praktik cannot keep a store at: give a folder (e.g. --store /var/lib/praktik/store) or an S3 bucket (s3://bucket/prefix)"
    )]
    Scheme { store: String },
    #[error("the store `{store}` does not name a bucket: write it as s3://bucket/prefix")]
    NoBucket { store: String },
    #[error(
        "the store `{store}` is in an S3 bucket, and this praktik was built without S3 support: build it with `cargo build --release --features s3`"
    )]
    NotBuiltIn { store: String },
}

impl Location {
    /// The store `text` names: a path (relative to `base`), a `file://` URL
    /// or an `s3://` URL. Any other URL is refused rather than taken for a
    /// folder named `gs:`.
    pub fn parse(text: &str, base: &Path) -> Result<Location, LocationError> {
        let Some(scheme) = scheme(text) else {
            return Ok(Location::Folder(base.join(text)));
        };
        let refused = || LocationError::Scheme {
            store: text.to_string(),
        };
        match scheme.to_ascii_lowercase().as_str() {
            "file" => {
                let url = Url::parse(text).map_err(|_| refused())?;
                let path = url.to_file_path().map_err(|()| refused())?;
                Ok(Location::Folder(path))
            }
            "s3" | "s3a" if !cfg!(feature = "s3") => Err(LocationError::NotBuiltIn {
                store: text.to_string(),
            }),
            "s3" | "s3a" => {
                let mut url = Url::parse(text).map_err(|_| refused())?;
                if url.host_str().is_none_or(str::is_empty) {
                    return Err(LocationError::NoBucket {
                        store: text.to_string(),
                    });
                }
                if !url.path().ends_with('/') {
                    let path = format!("{}/", url.path());
                    url.set_path(&path);
                }
                Ok(Location::Bucket(Bucket {
                    url,
                    settings: S3Settings::default(),
                }))
            }
            _ => Err(refused()),
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Folder(path) => write!(f, "{}", path.display()),
            Location::Bucket(bucket) => write!(f, "{}", bucket.url),
        }
    }
}

impl Bucket {
    /// The options deltalake and the object store take: where the server
    /// is, never who we are.
    pub fn options(&self) -> HashMap<String, String> {
        let mut options = HashMap::new();
        if let Some(endpoint) = &self.settings.endpoint {
            options.insert("AWS_ENDPOINT_URL".into(), endpoint.clone());
        }
        if let Some(region) = &self.settings.region {
            options.insert("AWS_REGION".into(), region.clone());
        }
        if self.settings.allow_http {
            options.insert("AWS_ALLOW_HTTP".into(), "true".into());
        }
        options
    }
}

/// The scheme of a URL (`s3` of `s3://b/p`); `None` for a path, including a
/// path such as `store/a://b` whose "scheme" holds a slash.
fn scheme(text: &str) -> Option<&str> {
    let (scheme, _) = text.split_once("://")?;
    let is_scheme = scheme.len() > 1
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    is_scheme.then_some(scheme)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_is_a_folder_a_bucket_or_an_error() {
        let base = Path::new("/base");
        assert_eq!(
            Location::parse("file:///var/lib/praktik", base).unwrap(),
            Location::Folder(PathBuf::from("/var/lib/praktik"))
        );
        assert_eq!(
            Location::parse("store/a://b", base).unwrap(),
            Location::Folder(PathBuf::from("/base/store/a://b"))
        );
        assert_eq!(
            Location::parse("/abs", base).unwrap(),
            Location::Folder(PathBuf::from("/abs"))
        );
        for url in ["gs://b/p", "az://c/p", "https://host/x"] {
            let err = Location::parse(url, base).unwrap_err().to_string();
            assert!(err.contains(url) && err.contains("--store"), "{err}");
        }
        let built_in = cfg!(feature = "s3");
        match Location::parse("s3://bucket/x", base) {
            Ok(Location::Bucket(bucket)) if built_in => {
                assert_eq!(bucket.url.as_str(), "s3://bucket/x/");
            }
            Err(LocationError::NotBuiltIn { store }) if !built_in => {
                assert_eq!(store, "s3://bucket/x");
            }
            other => panic!("{other:?}"),
        }
        if cfg!(feature = "s3") {
            let err = Location::parse("s3:///x", base).unwrap_err().to_string();
            assert!(err.contains("does not name a bucket"), "{err}");
        }
    }

    #[test]
    fn options_name_the_server_never_a_secret() {
        let bucket = Bucket {
            url: Url::parse("s3://b/p/").unwrap(),
            settings: S3Settings {
                endpoint: Some("http://127.0.0.1:8333".into()),
                region: Some("eu-north-1".into()),
                allow_http: true,
                lease_seconds: None,
            },
        };
        let options = bucket.options();
        assert_eq!(options["AWS_ENDPOINT_URL"], "http://127.0.0.1:8333");
        assert_eq!(options["AWS_ALLOW_HTTP"], "true");
        assert!(
            options
                .keys()
                .all(|k| !k.contains("SECRET") && !k.contains("KEY"))
        );
    }
}
