//! HTTP to the Jobindsats API: timeouts, bounded retries with backoff and
//! jitter on what may pass (connection errors, timeouts, 429, 5xx), clear
//! errors on what will not (400, 401, 403, 404, 422). The key is sent as a
//! sensitive header and never written anywhere.

use std::time::{Duration, Instant};

use rand::Rng;
use reqwest::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use tracing::{debug, info, warn};

use super::settings::{ApiVersion, Settings, TOKEN_ENV};
use crate::source::PullError;

/// The longest single wait between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The API key. Its `Debug` shows nothing.
struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(***)")
    }
}

#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    settings: Settings,
    token: Token,
}

/// One request to make, possibly more than once.
pub struct Request {
    pub method: Method,
    pub url: String,
    pub query: Vec<(String, String)>,
    pub json: Option<serde_json::Value>,
}

impl Request {
    pub fn get(url: String, query: Vec<(String, String)>) -> Request {
        Request {
            method: Method::GET,
            url,
            query,
            json: None,
        }
    }

    /// The URL as errors and provenance name it (no key is ever in it).
    pub fn shown(&self) -> String {
        if self.query.is_empty() {
            return format!("{} {}", self.method, self.url);
        }
        let query: Vec<String> = self.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{} {}?{}", self.method, self.url, query.join("&"))
    }
}

/// Why one attempt failed, and whether another may succeed.
enum Attempt {
    Retry {
        reason: String,
        wait: Option<Duration>,
    },
    Fail(PullError),
}

impl Client {
    pub fn new(settings: &Settings) -> Result<Client, PullError> {
        let token = match std::env::var(TOKEN_ENV) {
            Ok(token) if !token.trim().is_empty() => token.trim().to_string(),
            _ => match &settings.token_file {
                Some(path) => std::fs::read_to_string(path)
                    .map_err(|cause| PullError::TokenFile {
                        path: path.clone(),
                        cause,
                    })?
                    .trim()
                    .to_string(),
                None => return Err(PullError::NoToken),
            },
        };
        let http = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout())
            .timeout(settings.timeout())
            .user_agent(concat!("praktik/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| PullError::Client(e.to_string()))?;
        Ok(Client {
            http,
            settings: settings.clone(),
            token: Token(token),
        })
    }

    fn authorization(&self) -> Result<HeaderValue, PullError> {
        let text = match self.settings.api {
            ApiVersion::V3 => format!("Bearer {}", self.token.0),
            ApiVersion::V2 => self.token.0.clone(),
        };
        let mut value = HeaderValue::from_str(&text).map_err(|_| PullError::BadToken)?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// The body of a successful response, after as many attempts as allowed.
    pub async fn fetch(&self, request: &Request) -> Result<Vec<u8>, PullError> {
        let shown = request.shown();
        let started = Instant::now();
        let max_wait = Duration::from_secs(self.settings.max_wait_secs);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let began = Instant::now();
            let (reason, wait) = match self.attempt(request, &shown).await {
                Ok(body) => {
                    info!(url = %shown, bytes = body.len(), ms = began.elapsed().as_millis() as u64, attempt, "received");
                    return Ok(body);
                }
                Err(Attempt::Fail(error)) => return Err(error),
                Err(Attempt::Retry { reason, wait }) => (reason, wait),
            };
            let wait = wait.unwrap_or_else(|| self.backoff(attempt));
            if attempt > self.settings.retries || started.elapsed() + wait > max_wait {
                return Err(PullError::GaveUp {
                    url: shown,
                    attempts: attempt,
                    last: reason,
                });
            }
            warn!(url = %shown, attempt, %reason, wait_ms = wait.as_millis() as u64, "retrying");
            tokio::time::sleep(wait).await;
        }
    }

    /// Exponential backoff with ±25 % jitter.
    fn backoff(&self, attempt: u32) -> Duration {
        let base = Duration::from_millis(self.settings.backoff_ms)
            .saturating_mul(1 << (attempt - 1).min(16));
        let jitter = rand::rng().random_range(0.75..1.25);
        base.mul_f64(jitter).min(MAX_BACKOFF)
    }

    async fn attempt(&self, request: &Request, shown: &str) -> Result<Vec<u8>, Attempt> {
        let fail = |e| Attempt::Fail(e);
        let mut builder = self
            .http
            .request(request.method.clone(), &request.url)
            .header(AUTHORIZATION, self.authorization().map_err(fail)?)
            .query(&request.query);
        if let Some(json) = &request.json {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(json.to_string());
        }
        let mut response = match builder.send().await {
            Ok(response) => response,
            Err(e) => {
                return Err(Attempt::Retry {
                    reason: describe(&e, &self.settings),
                    wait: None,
                });
            }
        };
        let status = response.status();
        debug!(url = %shown, %status, "response");
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            let wait = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            return Err(Attempt::Retry {
                reason: format!("HTTP {status}"),
                wait,
            });
        }
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) => {
                    return Err(Attempt::Retry {
                        reason: format!(
                            "the connection broke after {} bytes of the body: {}",
                            body.len(),
                            describe(&e, &self.settings)
                        ),
                        wait: None,
                    });
                }
            }
        }
        if status.is_success() {
            if self.settings.api == ApiVersion::V2 && is_v2_bad_key(&body) {
                return Err(fail(PullError::Unauthorized {
                    url: shown.into(),
                    status: status.as_u16(),
                }));
            }
            return Ok(body);
        }
        Err(fail(match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => PullError::Unauthorized {
                url: shown.into(),
                status: status.as_u16(),
            },
            StatusCode::UNPROCESSABLE_ENTITY => {
                let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                let text = |k: &str| {
                    json.get(k)
                        .and_then(|v| v.as_str())
                        .unwrap_or("")
                        .to_string()
                };
                PullError::Unprocessable {
                    url: shown.into(),
                    cause: text("cause"),
                    request_id: text("request_id"),
                }
            }
            _ => {
                if is_v2_bad_key(&body) {
                    PullError::Unauthorized {
                        url: shown.into(),
                        status: status.as_u16(),
                    }
                } else {
                    PullError::Http {
                        url: shown.into(),
                        status: status.as_u16(),
                        body: snippet(&body),
                    }
                }
            }
        }))
    }
}

/// A transport error in words, with the limits that applied.
fn describe(error: &reqwest::Error, settings: &Settings) -> String {
    if error.is_timeout() {
        format!(
            "no complete answer within the timeout ({} s)",
            settings.timeout_secs
        )
    } else if error.is_connect() {
        "could not connect".to_string()
    } else {
        let mut text = error.to_string();
        let mut cause = std::error::Error::source(error);
        while let Some(c) = cause {
            text.push_str(&format!(": {c}"));
            cause = c.source();
        }
        text
    }
}

/// v2 answers a wrong or expired key with `{"Forkert nøgle eller nøglen er udløbet.": ""}`.
fn is_v2_bad_key(body: &[u8]) -> bool {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(body)
        .is_ok_and(|map| map.keys().any(|k| k.to_lowercase().contains("nøgle")))
}

/// The start of a body, for an error message.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text: String = text.chars().take(200).collect();
    text.replace('\n', " ")
}
