//! Configuration, layered: built-in defaults, then `praktik.toml` (or
//! `--config FILE`), then `PRAKTIK_*` environment variables, then flags; each
//! overrides the one before. Unknown keys are errors, so a typo fails loudly.

use std::path::{Path, PathBuf};

use crate::engine::workers::EngineSettings;
use crate::report::{OutputFormat, ReportError};
use crate::source::{Source, jobindsats};
use crate::store::location::{Location, LocationError, S3Settings};

/// The configuration file looked for in the working directory.
pub const DEFAULT_FILE: &str = "praktik.toml";

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The store: Delta tables and `raw/`, in a folder or a bucket.
    pub store: Location,
    /// Where reports are written (`OUT/reports/PERIOD/NAME.html`).
    pub out: PathBuf,
    /// The source `pull` and `run` use.
    pub source: Source,
    /// The folder of report definitions; the built-in ones when it does not exist.
    pub reports: PathBuf,
    /// The formats `run` renders every report in.
    pub formats: Vec<OutputFormat>,
    /// The browser that prints PDFs; the first Chromium on the PATH if unset.
    pub chromium: Option<PathBuf>,
    /// How to read the Jobindsats API.
    pub jobindsats: jobindsats::Settings,
    /// Where queries run: in this process, or spread over workers.
    pub engine: EngineSettings,
    /// The secret that turns CPR numbers into pseudonymous person keys; only
    /// from the environment (`PRAKTIK_PERSON_SALT`), never from a file.
    pub person_salt: Option<Secret>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            store: Location::Folder(PathBuf::from("store")),
            out: PathBuf::from("out"),
            source: Source::Demo,
            reports: PathBuf::from("reports"),
            formats: vec![OutputFormat::Html, OutputFormat::Markdown],
            chromium: None,
            jobindsats: jobindsats::Settings::default(),
            engine: EngineSettings::default(),
            person_salt: None,
        }
    }
}

/// A secret value: its `Debug` shows nothing of it, and nothing prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(not shown)")
    }
}

/// The keys of `praktik.toml`; every one optional.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    store: Option<String>,
    s3: Option<S3Settings>,
    out: Option<PathBuf>,
    source: Option<Source>,
    reports: Option<PathBuf>,
    formats: Option<Vec<String>>,
    chromium: Option<PathBuf>,
    jobindsats: Option<jobindsats::Settings>,
    engine: Option<EngineSettings>,
}

/// Values given as flags; `None` leaves the layer below in force.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub store: Option<PathBuf>,
    pub out: Option<PathBuf>,
    pub source: Option<Source>,
    /// `--workers`: the workers' URLs.
    pub workers: Option<Vec<url::Url>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}")]
    Read {
        path: PathBuf,
        #[source]
        cause: std::io::Error,
    },
    #[error(
        "the configuration file {path} is not valid (known keys: store, out, source, reports, formats, chromium, [s3], [engine], [jobindsats])"
    )]
    Parse {
        path: PathBuf,
        #[source]
        cause: Box<toml::de::Error>,
    },
    #[error("{path}: the key `{key}` is not valid: {reason}")]
    Value {
        path: PathBuf,
        key: &'static str,
        reason: String,
    },
    #[error("the environment variable {name}=`{value}` is not valid: {reason}")]
    Env {
        name: String,
        value: String,
        reason: String,
    },
    #[error(transparent)]
    Store(#[from] LocationError),
    #[error(
        "workers are configured ({workers}), and this praktik was built without distributed queries: build it with `cargo build --release --features distributed`, or leave out [engine] workers and --workers"
    )]
    NoDistributed { workers: String },
    #[error(
        "the environment variable {name} is not one praktik reads; known: PRAKTIK_CONFIG, PRAKTIK_STORE, PRAKTIK_OUT, PRAKTIK_SOURCE, PRAKTIK_REPORTS, PRAKTIK_JOBINDSATS_URL, PRAKTIK_WORKERS, PRAKTIK_PERSON_SALT, PRAKTIK_LOG"
    )]
    UnknownEnv { name: String },
}

impl Config {
    /// Build the configuration from its layers. `file` is the `--config` flag
    /// (which must exist); without it `praktik.toml` in `dir` is read if present.
    pub fn load(
        dir: &Path,
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: &Overrides,
    ) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("PRAKTIK_"))
            .collect();
        let env_file = env
            .iter()
            .find(|(k, _)| k == "PRAKTIK_CONFIG")
            .map(|(_, v)| PathBuf::from(v));
        let mut config = Config::default();
        let mut store = "store".to_string();
        let mut store_base = dir.to_path_buf();
        let mut s3 = S3Settings::default();

        let (path, required) = match file.map(Path::to_path_buf).or(env_file) {
            Some(path) => (dir.join(path), true),
            None => (dir.join(DEFAULT_FILE), false),
        };
        if required || path.exists() {
            let text = std::fs::read_to_string(&path).map_err(|cause| ConfigError::Read {
                path: path.clone(),
                cause,
            })?;
            let (named, settings) = config.apply_file(&text, &path)?;
            if let Some(named) = named {
                store = named;
                store_base = path.parent().unwrap_or(dir).to_path_buf();
            }
            s3 = settings.unwrap_or_default();
        }
        for (name, value) in &env {
            if name == "PRAKTIK_STORE" {
                (store, store_base) = (value.clone(), dir.to_path_buf());
            }
            config.apply_env(name, value)?;
        }
        if let Some(flag) = &flags.store {
            (store, store_base) = (flag.to_string_lossy().into_owned(), dir.to_path_buf());
        }
        if let Some(out) = &flags.out {
            config.out = out.clone();
        }
        if let Some(source) = &flags.source {
            config.source = source.clone();
        }
        if let Some(workers) = &flags.workers {
            config.engine.workers = workers.clone();
        }
        if !cfg!(feature = "distributed") && !config.engine.workers.is_empty() {
            let listed: Vec<String> = config
                .engine
                .workers
                .iter()
                .map(|u| u.to_string())
                .collect();
            return Err(ConfigError::NoDistributed {
                workers: listed.join(", "),
            });
        }
        config.store = Location::parse(&store, &store_base)?;
        if let Location::Bucket(bucket) = &mut config.store {
            bucket.settings = s3;
        }
        config.out = dir.join(&config.out);
        config.reports = dir.join(&config.reports);
        Ok(config)
    }

    /// Apply the file's keys but `store` and `[s3]`, which [`Config::load`]
    /// resolves once every layer is read; the file as read.
    fn apply_file(
        &mut self,
        text: &str,
        path: &Path,
    ) -> Result<(Option<String>, Option<S3Settings>), ConfigError> {
        let file: FileConfig = toml::from_str(text).map_err(|cause| ConfigError::Parse {
            path: path.to_path_buf(),
            cause: Box::new(cause),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        if let Some(out) = file.out {
            self.out = base.join(out);
        }
        if let Some(source) = file.source {
            self.source = source;
        }
        if let Some(reports) = file.reports {
            self.reports = base.join(reports);
        }
        if let Some(formats) = file.formats {
            self.formats = formats
                .iter()
                .map(|f| f.parse())
                .collect::<Result<_, ReportError>>()
                .map_err(|e| ConfigError::Value {
                    path: path.to_path_buf(),
                    key: "formats",
                    reason: e.to_string(),
                })?;
        }
        if let Some(chromium) = file.chromium {
            self.chromium = Some(base.join(chromium));
        }
        if let Some(engine) = file.engine {
            self.engine = engine;
        }
        if let Some(mut settings) = file.jobindsats {
            settings.token_file = settings.token_file.map(|f| base.join(f));
            self.jobindsats = settings;
        }
        Ok((file.store, file.s3))
    }

    fn apply_env(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        match name {
            "PRAKTIK_OUT" => self.out = PathBuf::from(value),
            "PRAKTIK_REPORTS" => self.reports = PathBuf::from(value),
            "PRAKTIK_SOURCE" => {
                self.source =
                    value
                        .parse()
                        .map_err(|e: crate::source::UnknownSource| ConfigError::Env {
                            name: name.into(),
                            value: value.into(),
                            reason: e.to_string(),
                        })?
            }
            "PRAKTIK_JOBINDSATS_URL" => self.jobindsats.url = value.to_string(),
            "PRAKTIK_WORKERS" => {
                self.engine.workers = parse_workers(value).map_err(|reason| ConfigError::Env {
                    name: name.into(),
                    value: value.into(),
                    reason,
                })?
            }
            "PRAKTIK_PERSON_SALT" => self.person_salt = Some(Secret(value.to_string())),
            "PRAKTIK_CONFIG" | "PRAKTIK_LOG" | "PRAKTIK_STORE" => {}
            other => return Err(ConfigError::UnknownEnv { name: other.into() }),
        }
        Ok(())
    }
}

/// Workers written `http://host:port,http://host:port`.
pub fn parse_workers(text: &str) -> Result<Vec<url::Url>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(|w| {
            url::Url::parse(w)
                .map_err(|e| format!("`{w}` is not a worker URL ({e}); write http://host:port"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_secret() {
        let config = Config {
            person_salt: Some(Secret::new("pepper-4711")),
            ..Config::default()
        };
        let shown = format!("{config:?} {config:#?}");
        assert!(!shown.contains("pepper-4711"), "{shown}");
        assert!(shown.contains("not shown"));
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn each_layer_overrides_the_one_before() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let none = Overrides::default();
        assert_eq!(
            Config::load(d, None, env(&[]), &none).unwrap().store,
            Location::Folder(d.join("store"))
        );

        std::fs::write(
            d.join("praktik.toml"),
            "store = \"from-file\"\nout = \"o\"\n",
        )
        .unwrap();
        let c = Config::load(d, None, env(&[]), &none).unwrap();
        assert_eq!(
            (c.store, c.out),
            (Location::Folder(d.join("from-file")), d.join("o"))
        );

        let c = Config::load(
            d,
            None,
            env(&[("PRAKTIK_STORE", "from-env"), ("HOME", "/x")]),
            &none,
        )
        .unwrap();
        assert_eq!(c.store, Location::Folder(d.join("from-env")));
        assert_eq!(c.out, d.join("o"));

        let flags = Overrides {
            store: Some("from-flag".into()),
            ..Overrides::default()
        };
        let c = Config::load(d, None, env(&[("PRAKTIK_STORE", "from-env")]), &flags).unwrap();
        assert_eq!(c.store, Location::Folder(d.join("from-flag")));
    }

    #[test]
    fn typos_fail_loudly() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("praktik.toml"), "stor = \"x\"\n").unwrap();
        let err = Config::load(dir.path(), None, env(&[]), &Overrides::default()).unwrap_err();
        let shown = format!("{err}: {}", std::error::Error::source(&err).unwrap());
        assert!(
            shown.contains("praktik.toml") && shown.contains("stor"),
            "{shown}"
        );

        let err = Config::load(
            tempfile::tempdir().unwrap().path(),
            None,
            env(&[("PRAKTIK_STOR", "x")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("PRAKTIK_STOR"), "{err}");

        let err = Config::load(
            Path::new("/"),
            Some(Path::new("/nonexistent/p.toml")),
            env(&[]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/p.toml"), "{err}");
    }

    #[test]
    fn sources_parse_from_file_and_env() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("praktik.toml"), "source = \"file:x.csv\"\n").unwrap();
        let c = Config::load(dir.path(), None, env(&[]), &Overrides::default()).unwrap();
        assert_eq!(c.source, Source::File("x.csv".into()));
        let err = Config::load(
            dir.path(),
            None,
            env(&[("PRAKTIK_SOURCE", "ftp")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("`ftp`"), "{err}");
    }

    #[test]
    fn the_examples_in_the_readme_load() {
        let readme = include_str!("../README.md");
        let blocks: Vec<&str> = readme
            .split("```toml\n")
            .skip(1)
            .map(|b| b.split("```").next().unwrap())
            .collect();
        assert!(blocks.len() >= 2);
        for block in blocks {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("praktik.toml"), block).unwrap();
            let config = Config::load(dir.path(), None, env(&[]), &Overrides::default())
                .unwrap_or_else(|e| panic!("{e}: {:?}\n{block}", std::error::Error::source(&e)));
            if block.contains("[jobindsats]") {
                assert_eq!(config.source, Source::Jobindsats);
                assert_eq!(config.jobindsats.areas["Esbjerg-Fanø"].as_str(), "561/563");
            }
        }
    }
}
