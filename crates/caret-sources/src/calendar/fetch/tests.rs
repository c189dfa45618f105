//! Against a local HTTP server that answers as calendar servers do: validators and 304s, errors with and
//! without Retry-After, redirects, an enormous document, and a port nobody listens on.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Response, StatusCode};
use axum::routing::get;

use super::*;

const DOCUMENT: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n";

/// The request headers each route saw, in order.
type Seen = Arc<Mutex<Vec<HeaderMap>>>;

async fn serve(seen: Seen) -> String {
    let etag_route = {
        let seen = seen.clone();
        move |headers: HeaderMap| {
            seen.lock().expect("not poisoned").push(headers.clone());
            async move {
                if headers.get("if-none-match").and_then(|value| value.to_str().ok()) == Some("\"v1\"") {
                    return Response::builder()
                        .status(StatusCode::NOT_MODIFIED)
                        .body(Body::empty())
                        .expect("a response");
                }
                Response::builder()
                    .header("etag", "\"v1\"")
                    .body(Body::from(DOCUMENT))
                    .expect("a response")
            }
        }
    };
    let modified_route = move |headers: HeaderMap| {
        seen.lock().expect("not poisoned").push(headers.clone());
        async move {
            let date = "Mon, 07 Dec 2026 09:00:00 GMT";
            if headers.get("if-modified-since") == Some(&HeaderValue::from_static(date)) {
                return Response::builder()
                    .status(StatusCode::NOT_MODIFIED)
                    .body(Body::empty())
                    .expect("a response");
            }
            Response::builder()
                .header("last-modified", date)
                .body(Body::from(DOCUMENT))
                .expect("a response")
        }
    };
    let status = |code: u16, retry: Option<&'static str>| {
        move || async move {
            let mut response = Response::builder().status(code);
            if let Some(seconds) = retry {
                response = response.header("retry-after", seconds);
            }
            response.body(Body::from("<html>no</html>")).expect("a response")
        }
    };
    let redirect = |to: &'static str| {
        move || async move {
            Response::builder()
                .status(StatusCode::FOUND)
                .header("location", to)
                .body(Body::empty())
                .expect("a response")
        }
    };
    let app = Router::new()
        .route("/s3cr3t/etag.ics", get(etag_route))
        .route("/s3cr3t/modified.ics", get(modified_route))
        .route("/s3cr3t/gone.ics", get(status(404, None)))
        .route("/s3cr3t/busy.ics", get(status(503, Some("120"))))
        .route("/s3cr3t/limited.ics", get(status(429, Some("30"))))
        .route("/s3cr3t/moved.ics", get(redirect("/s3cr3t/etag.ics")))
        .route("/s3cr3t/loop.ics", get(redirect("/s3cr3t/loop.ics")))
        .route(
            "/s3cr3t/huge-streamed.ics",
            get(|| async {
                // No Content-Length: the size is only known as it arrives.
                let chunk = axum::body::Bytes::from(vec![b'X'; 1024 * 1024]);
                let chunks = (0..17).map(move |_| Ok::<_, std::io::Error>(chunk.clone()));
                Body::from_stream(futures_util::stream::iter(chunks))
            }),
        )
        .route(
            "/s3cr3t/huge.ics",
            get(|| async { "X".repeat(MAX_DOCUMENT_BYTES + 1) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a local port");
    let address = listener.local_addr().expect("its address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

fn at(base: &str, path: &str) -> CalendarLocation {
    CalendarLocation::Web(SecretAddress::parse(&format!("{base}{path}")).expect("an address"))
}

fn fetcher() -> CalendarFetcher {
    CalendarFetcher::new(Duration::from_secs(5)).expect("a client")
}

fn reason(error: SourceError) -> (String, Option<Duration>) {
    match error {
        SourceError::CalendarFetch { reason, retry_after } => (reason, retry_after),
        other => panic!("not a fetch error: {other}"),
    }
}

#[tokio::test]
async fn an_unchanged_calendar_costs_a_304_by_etag_or_by_date() {
    let seen = Seen::default();
    let base = serve(seen.clone()).await;
    let fetcher = fetcher();
    for path in ["/s3cr3t/etag.ics", "/s3cr3t/modified.ics"] {
        let location = at(&base, path);
        let Fetched::Changed { document, validators } = fetcher
            .fetch(&location, &Validators::default())
            .await
            .expect("fetched")
        else {
            panic!("{path}: the first fetch reads the document");
        };
        assert_eq!(document, DOCUMENT);
        assert_eq!(
            fetcher.fetch(&location, &validators).await.expect("fetched"),
            Fetched::Unchanged,
            "{path}"
        );
    }
    let seen = seen.lock().expect("not poisoned");
    assert_eq!(seen.len(), 4);
    assert_eq!(
        seen[1].get("if-none-match").map(HeaderValue::as_bytes),
        Some(&b"\"v1\""[..])
    );
    assert!(seen[3].get("if-modified-since").is_some());
    assert!(seen[0].get("if-none-match").is_none() && seen[2].get("if-modified-since").is_none());
}

#[tokio::test]
async fn errors_say_what_happened_and_when_to_come_back_without_the_address() {
    let base = serve(Seen::default()).await;
    let fetcher = fetcher();
    for (path, says, retry) in [
        ("/s3cr3t/gone.ics", "refused the address (HTTP 404)", None),
        (
            "/s3cr3t/busy.ics",
            "failed (HTTP 503)",
            Some(Duration::from_secs(120)),
        ),
        (
            "/s3cr3t/limited.ics",
            "come back later (HTTP 429)",
            Some(Duration::from_secs(30)),
        ),
        ("/s3cr3t/loop.ics", "redirects too often", None),
        ("/s3cr3t/huge.ics", "larger than 16 MiB", None),
        ("/s3cr3t/huge-streamed.ics", "larger than 16 MiB", None),
    ] {
        let error = fetcher
            .fetch(&at(&base, path), &Validators::default())
            .await
            .expect_err(path);
        let (message, retry_after) = reason(error);
        assert!(message.contains(says), "{path}: {message}");
        assert!(
            !message.contains("s3cr3t") && !message.contains("127.0.0.1"),
            "{message}"
        );
        assert_eq!(retry_after, retry, "{path}");
    }
    // Nobody listens there.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let port = closed.local_addr().expect("its address").port();
    drop(closed);
    let error = fetcher
        .fetch(
            &at(&format!("http://127.0.0.1:{port}"), "/s3cr3t/x.ics"),
            &Validators::default(),
        )
        .await
        .expect_err("unreachable");
    let (message, _) = reason(error);
    assert_eq!(message, "the calendar's server cannot be reached");
}

#[tokio::test]
async fn a_redirect_is_followed() {
    let base = serve(Seen::default()).await;
    let fetched = fetcher()
        .fetch(&at(&base, "/s3cr3t/moved.ics"), &Validators::default())
        .await
        .expect("followed");
    assert!(matches!(fetched, Fetched::Changed { document, .. } if document == DOCUMENT));
}

/// The redirect rule itself: the local server speaks plain http only, so the refusal to go from https to
/// http is shown here on the rule reqwest's policy asks at each redirect (`loop.ics` above shows the policy
/// in use, through its "too many").
#[test]
fn a_redirect_never_goes_from_https_to_plain_http_anywhere_along_the_way() {
    let url = |text: &str| Url::parse(text).expect("url");
    let https = url("https://calendar.example/s3cr3t.ics");
    let http = url("http://calendar.example/s3cr3t.ics");
    let elsewhere_http = url("http://elsewhere.example/moved.ics");
    let elsewhere_https = url("https://elsewhere.example/moved.ics");
    assert_eq!(
        refused_redirect(&http, std::slice::from_ref(&https)),
        Some("https to http")
    );
    assert_eq!(
        refused_redirect(&elsewhere_http, &[https.clone(), elsewhere_https.clone()]),
        Some("https to http"),
        "once https, never http again, even after a second https hop"
    );
    assert_eq!(
        refused_redirect(&elsewhere_https, std::slice::from_ref(&http)),
        None,
        "http up to https"
    );
    assert_eq!(
        refused_redirect(&elsewhere_http, std::slice::from_ref(&http)),
        None,
        "http as asked"
    );
    assert_eq!(
        refused_redirect(&elsewhere_https, std::slice::from_ref(&https)),
        None
    );
    let chain = |hops: usize| vec![https.clone(); hops];
    assert_eq!(refused_redirect(&elsewhere_https, &chain(MAX_REDIRECTS)), None);
    assert_eq!(
        refused_redirect(&elsewhere_https, &chain(MAX_REDIRECTS + 1)),
        Some("too many")
    );
}

#[tokio::test]
async fn a_file_is_read_again_only_when_it_changed() {
    let directory = tempfile::tempdir().expect("a directory");
    let path = directory.path().join("work.ics");
    std::fs::write(&path, DOCUMENT).expect("written");
    let location = CalendarLocation::File(path.clone());
    let fetcher = fetcher();
    let Fetched::Changed { validators, .. } = fetcher
        .fetch(&location, &Validators::default())
        .await
        .expect("read")
    else {
        panic!("the first read reads it");
    };
    assert_eq!(
        fetcher.fetch(&location, &validators).await.expect("read"),
        Fetched::Unchanged
    );
    let file = std::fs::File::options().write(true).open(&path).expect("opened");
    file.set_modified(SystemTime::now() + Duration::from_secs(60))
        .expect("touched");
    assert!(matches!(
        fetcher.fetch(&location, &validators).await.expect("read"),
        Fetched::Changed { .. }
    ));
    std::fs::remove_file(&path).expect("removed");
    let (message, _) = reason(fetcher.fetch(&location, &validators).await.expect_err("gone"));
    assert!(message.starts_with("the file cannot be read"), "{message}");
}

#[test]
fn addresses_are_read_as_pasted_and_never_shown() {
    let webcal =
        SecretAddress::parse(" webcal://calendar.google.com/calendar/ical/a%40b/private-s3cr3t/basic.ics ")
            .expect("webcal");
    assert_eq!(
        webcal.expose(),
        "https://calendar.google.com/calendar/ical/a%40b/private-s3cr3t/basic.ics"
    );
    assert_eq!(webcal.host(), "calendar.google.com");
    assert_eq!(format!("{webcal:?}"), "SecretAddress(on calendar.google.com)");
    assert!(
        SecretAddress::parse("webcals://example.com/c.ics").is_ok_and(|a| a.expose().starts_with("https://"))
    );
    assert!(SecretAddress::parse("http://127.0.0.1:8080/c.ics").is_ok());
    for bad in [
        "ftp://example.com/s3cr3t.ics",
        "not an address s3cr3t",
        "https://",
        "file:///tmp/s3cr3t.ics",
    ] {
        let message = SecretAddress::parse(bad).expect_err(bad).to_string();
        assert!(!message.contains("s3cr3t"), "{message}");
    }
}
