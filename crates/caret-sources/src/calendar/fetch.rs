//! Getting a calendar's document: from its secret web address with conditional requests, or from a file.
//!
//! The address is a secret (anyone who has it reads the calendar): [`SecretAddress`] never shows it, in
//! `Debug` or in an error; errors say what went wrong in words of their own, never reqwest's (which quote
//! the address). A document is asked for again with the validators the last answer gave (`If-None-Match`,
//! `If-Modified-Since`), so an unchanged calendar costs a 304 and nothing is read again. Redirects are followed
//! a few times, never from https to plain http (the address would then cross the network in clear). A document
//! larger than [`MAX_DOCUMENT_BYTES`] is refused as it arrives, not after.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{ETAG, HeaderMap, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, RETRY_AFTER};
use url::Url;

use crate::{Result, SourceError};

/// The largest document read: a calendar with years of history is a few megabytes.
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;
/// How many redirects are followed.
const MAX_REDIRECTS: usize = 5;

/// Why a redirect to `next` is not followed after the addresses in `previous` (the first is the one asked
/// for), if it is not: never from https to plain http anywhere along the way (the secret address, or the
/// one it moved to, would cross the network in clear), and not past [`MAX_REDIRECTS`].
fn refused_redirect(next: &Url, previous: &[Url]) -> Option<&'static str> {
    if next.scheme() == "http" && previous.iter().any(|url| url.scheme() == "https") {
        Some("https to http")
    } else if previous.len() > MAX_REDIRECTS {
        Some("too many")
    } else {
        None
    }
}

/// A calendar's secret web address (`https://`, `http://`, or the `webcal://` spelling of either).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretAddress(Url);

impl SecretAddress {
    /// Reads an address as the person pasted it. The error does not repeat it.
    pub fn parse(text: &str) -> Result<Self> {
        let refused = |why: &str| SourceError::CalendarAddress(why.to_owned());
        let mut url = Url::parse(text.trim()).map_err(|_| refused("this is not a web address"))?;
        let scheme = match url.scheme() {
            "webcal" | "webcals" | "https" => "https",
            "http" => "http",
            _ => {
                return Err(refused(
                    "a calendar's address starts with https://, http:// or webcal://",
                ));
            }
        };
        if url.scheme() != scheme {
            // `set_scheme` refuses to turn a non-special scheme into a special one: rebuild the text instead.
            let rest = &url.as_str()[url.scheme().len()..];
            url = Url::parse(&format!("{scheme}{rest}")).map_err(|_| refused("this is not a web address"))?;
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(refused("the address has no host"));
        }
        Ok(Self(url))
    }

    /// The host alone, which is not secret: what Settings shows for the calendar ("calendar.google.com").
    pub fn host(&self) -> &str {
        self.0.host_str().unwrap_or("")
    }

    /// The whole address, for the keyring only.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }
}

impl std::fmt::Debug for SecretAddress {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "SecretAddress(on {})", self.host())
    }
}

/// Where a calendar's document is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CalendarLocation {
    Web(SecretAddress),
    File(PathBuf),
}

/// What the last answer said that lets the next request ask whether anything changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    etag: Option<String>,
    last_modified: Option<String>,
    file_modified: Option<SystemTime>,
}

/// A fetch's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// A document, new or changed, with what to send next time.
    Changed {
        document: String,
        validators: Validators,
    },
    /// The same as last time.
    Unchanged,
}

/// An HTTP client for calendars; one serves every calendar.
#[derive(Debug, Clone)]
pub struct CalendarFetcher {
    http: reqwest::Client,
}

impl CalendarFetcher {
    /// `timeout` bounds each request from connect to the last byte.
    pub fn new(timeout: Duration) -> Result<Self> {
        let _already_installed = rustls::crypto::ring::default_provider().install_default();
        let redirects = reqwest::redirect::Policy::custom(|attempt| {
            match refused_redirect(attempt.url(), attempt.previous()) {
                Some(why) => attempt.error(why),
                None => attempt.follow(),
            }
        });
        let http = reqwest::Client::builder()
            .user_agent(concat!("caret-desktop/", env!("CARGO_PKG_VERSION")))
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(redirects)
            .build()
            .map_err(|error| SourceError::CalendarFetch {
                reason: format!("cannot set up the web client: {}", error.without_url()),
                retry_after: None,
            })?;
        Ok(Self { http })
    }

    /// The document at `location`, unless it is the same as when `validators` were given.
    pub async fn fetch(&self, location: &CalendarLocation, validators: &Validators) -> Result<Fetched> {
        match location {
            CalendarLocation::Web(address) => self.fetch_web(address, validators).await,
            CalendarLocation::File(path) => fetch_file(path, validators).await,
        }
    }

    async fn fetch_web(&self, address: &SecretAddress, validators: &Validators) -> Result<Fetched> {
        let mut request = self.http.get(address.0.clone());
        if let Some(etag) = &validators.etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        if let Some(modified) = &validators.last_modified {
            request = request.header(IF_MODIFIED_SINCE, modified);
        }
        let mut response = request.send().await.map_err(|error| failed(&error))?;
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::Unchanged);
        }
        if !status.is_success() {
            return Err(refused(status, response.headers()));
        }
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|value: &reqwest::header::HeaderValue| value.to_str().ok())
                .map(str::to_owned)
        };
        let validators = Validators {
            etag: header(ETAG),
            last_modified: header(LAST_MODIFIED),
            file_modified: None,
        };
        if response
            .content_length()
            .is_some_and(|length| length > MAX_DOCUMENT_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|error| failed(&error))? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched::Changed {
            document: String::from_utf8_lossy(&body).into_owned(),
            validators,
        })
    }
}

async fn fetch_file(path: &std::path::Path, validators: &Validators) -> Result<Fetched> {
    let unreadable = |error: std::io::Error| SourceError::CalendarFetch {
        reason: format!("the file cannot be read: {error}"),
        retry_after: None,
    };
    let metadata = tokio::fs::metadata(path).await.map_err(unreadable)?;
    if metadata.len() > MAX_DOCUMENT_BYTES as u64 {
        return Err(too_large());
    }
    let modified = metadata.modified().ok();
    if modified.is_some() && modified == validators.file_modified {
        return Ok(Fetched::Unchanged);
    }
    let body = tokio::fs::read(path).await.map_err(unreadable)?;
    Ok(Fetched::Changed {
        document: String::from_utf8_lossy(&body).into_owned(),
        validators: Validators {
            file_modified: modified,
            ..Validators::default()
        },
    })
}

fn too_large() -> SourceError {
    SourceError::CalendarFetch {
        reason: format!(
            "the calendar is larger than {} MiB",
            MAX_DOCUMENT_BYTES / (1024 * 1024)
        ),
        retry_after: None,
    }
}

/// A request that got no answer, said without the address.
fn failed(error: &reqwest::Error) -> SourceError {
    let reason = if error.is_redirect() {
        "the address redirects too often, or from https to plain http".to_owned()
    } else if error.is_timeout() {
        "the calendar's server did not answer in time".to_owned()
    } else if error.is_connect() {
        "the calendar's server cannot be reached".to_owned()
    } else {
        "the calendar's server broke off the answer".to_owned()
    };
    SourceError::CalendarFetch {
        reason,
        retry_after: None,
    }
}

/// An answer other than the document.
fn refused(status: StatusCode, headers: &HeaderMap) -> SourceError {
    let retry_after = headers
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let code = status.as_u16();
    let reason = match code {
        401 | 403 | 404 | 410 => {
            format!(
                "the calendar's server refused the address (HTTP {code}): it may have been reset or removed"
            )
        }
        429 => format!("the calendar's server asks to come back later (HTTP {code})"),
        500..=599 => format!("the calendar's server failed (HTTP {code})"),
        _ => format!("the calendar's server answered HTTP {code}, not a calendar"),
    };
    SourceError::CalendarFetch { reason, retry_after }
}

#[cfg(test)]
mod tests;
