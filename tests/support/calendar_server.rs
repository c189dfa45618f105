//! A calendar server as Google Calendar, Outlook and Fastmail run one for a calendar's secret address: it serves
//! one iCalendar document at an address with a secret in its path, with an ETag, answers a request that names
//! that ETag with 304, and can be told to fail, redirect in a loop, or serve something that is not a calendar.

use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};

/// What the server answers now.
#[derive(Debug, Clone)]
pub enum Answer {
    /// The document, with an ETag that changes when it does.
    Document(String),
    /// An HTTP status and nothing else.
    Status(u16),
    /// A redirect to itself.
    RedirectLoop,
}

#[derive(Debug, Default)]
struct Served {
    answer: Option<Answer>,
    version: u64,
    requests: usize,
    /// Requests that named the current ETag (and got a 304).
    unchanged: usize,
}

/// A local calendar server; its address holds `SECRET` in its path.
#[derive(Clone)]
pub struct CalendarServer {
    served: Arc<Mutex<Served>>,
    base: String,
}

impl CalendarServer {
    /// The secret part of every address this server gives.
    pub const SECRET: &'static str = "private-9f8e7d6c5b4a";

    pub async fn start() -> CalendarServer {
        let served = Arc::new(Mutex::new(Served::default()));
        let shared = served.clone();
        let path = format!("/calendar/ical/ana%40example.com/{}/basic.ics", Self::SECRET);
        let app = Router::new().route(
            &path,
            get(move |headers: HeaderMap| {
                let shared = shared.clone();
                async move { answer(&shared, &headers) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a local port");
        let address = listener.local_addr().expect("its address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        CalendarServer {
            served,
            base: format!("http://{address}{path}"),
        }
    }

    /// The calendar's secret address.
    pub fn address(&self) -> &str {
        &self.base
    }

    pub fn answer(&self, answer: Answer) {
        let mut served = self.served.lock().unwrap_or_else(PoisonError::into_inner);
        served.answer = Some(answer);
        served.version += 1;
    }

    /// Requests so far, and how many of them were answered 304.
    pub fn requests(&self) -> (usize, usize) {
        let served = self.served.lock().unwrap_or_else(PoisonError::into_inner);
        (served.requests, served.unchanged)
    }
}

fn answer(served: &Mutex<Served>, headers: &HeaderMap) -> Response {
    let mut served = served.lock().unwrap_or_else(PoisonError::into_inner);
    served.requests += 1;
    let etag = format!("\"v{}\"", served.version);
    match served.answer.clone() {
        Some(Answer::Document(document)) => {
            if headers
                .get(header::IF_NONE_MATCH)
                .and_then(|value| value.to_str().ok())
                == Some(etag.as_str())
            {
                served.unchanged += 1;
                return StatusCode::NOT_MODIFIED.into_response();
            }
            (
                [
                    (header::ETAG, etag),
                    (header::CONTENT_TYPE, "text/calendar".to_owned()),
                ],
                document,
            )
                .into_response()
        }
        Some(Answer::Status(code)) => StatusCode::from_u16(code)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response(),
        Some(Answer::RedirectLoop) => (StatusCode::FOUND, [(header::LOCATION, "basic.ics")]).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `at` as iCalendar writes a UTC time.
pub fn ics_time(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

/// A calendar named after its owner's address (as Google names a person's main calendar), with `events`.
pub fn calendar(events: &[String]) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\n\
         X-WR-CALNAME:ana@example.com\r\n{}END:VCALENDAR\r\n",
        events.concat()
    )
}

/// An event from `start` to `end`, with any further lines (`TRANSP:…`, `ATTENDEE…`).
pub fn event(uid: &str, title: &str, start: DateTime<Utc>, end: DateTime<Utc>, more: &str) -> String {
    format!(
        "BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261201T000000Z\r\nSUMMARY:{title}\r\nDTSTART:{}\r\nDTEND:{}\r\n\
         {more}END:VEVENT\r\n",
        ics_time(start),
        ics_time(end)
    )
}
