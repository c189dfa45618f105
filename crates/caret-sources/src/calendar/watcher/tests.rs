//! The watcher against a local server whose answer each test changes, with events a second or two from now.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;

use super::*;
use crate::calendar::fetch::SecretAddress;

/// What the server answers now, and how many requests it had.
#[derive(Clone, Default)]
struct Server {
    answer: Arc<Mutex<(u16, String)>>,
    requests: Arc<AtomicUsize>,
    /// How long it takes to answer.
    delay: Arc<Mutex<Duration>>,
    /// Requests being answered now, and the most at once (servers may share one).
    in_flight: Arc<(AtomicUsize, AtomicUsize)>,
}

impl Server {
    fn answer(&self, status: u16, body: String) {
        *self.answer.lock().expect("not poisoned") = (status, body);
    }

    async fn start(&self) -> String {
        let server = self.clone();
        let app = Router::new().route(
            "/private/basic.ics",
            get(move || {
                let server = server.clone();
                async move {
                    server.requests.fetch_add(1, Ordering::SeqCst);
                    let delay = *server.delay.lock().expect("not poisoned");
                    let (now, most) = &*server.in_flight;
                    most.fetch_max(now.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                    tokio::time::sleep(delay).await;
                    now.fetch_sub(1, Ordering::SeqCst);
                    let (status, body) = server.answer.lock().expect("not poisoned").clone();
                    (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), body)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a local port");
        let address = listener.local_addr().expect("its address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{address}/private/basic.ics")
    }
}

fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

/// A calendar with one event from `start` to `end`.
fn calendar_with(title: &str, start: DateTime<Utc>, end: DateTime<Utc>) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:1\r\nDTSTAMP:20261201T000000Z\r\nSUMMARY:{title}\r\n\
         DTSTART:{}\r\nDTEND:{}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        stamp(start),
        stamp(end)
    )
}

fn config(id: &str, address: &str) -> CalendarConfig {
    CalendarConfig {
        id: id.to_owned(),
        location: CalendarLocation::Web(SecretAddress::parse(address).expect("an address")),
        options: CalendarOptions::default(),
    }
}

fn fetcher() -> CalendarFetcher {
    CalendarFetcher::new(Duration::from_secs(5)).expect("a client")
}

/// Waits until the view passes `check`, or fails after 10 s saying what it was.
async fn until(view: &mut watch::Receiver<CalendarView>, what: &str, check: impl Fn(&CalendarView) -> bool) {
    let waited = tokio::time::timeout(Duration::from_secs(10), view.wait_for(|shown| check(shown))).await;
    assert!(
        waited.is_ok_and(|seen| seen.is_ok()),
        "{what}: the view stayed {:?}",
        *view.borrow()
    );
}

fn title(view: &CalendarView) -> Option<&str> {
    view.now.as_ref().map(|occurrence| occurrence.title.as_str())
}

#[tokio::test]
async fn an_event_speaks_from_its_start_to_its_end_without_fetching_again() {
    let server = Server::default();
    let address = server.start().await;
    // Whole seconds: the document's times have no fractions.
    let start = DateTime::from_timestamp(Utc::now().timestamp() + 4, 0).expect("a time");
    server.answer(
        200,
        calendar_with("Design review", start, start + chrono::Duration::seconds(3)),
    );
    // An hour between fetches: what happens next is the watcher waking for the start and the end.
    let timing = Timing {
        refetch: Duration::from_secs(3600),
        longest_backoff: Duration::from_secs(3600),
    };
    let watcher = CalendarWatcher::start(fetcher(), vec![config("Work", &address)], timing);
    let mut view = watcher.view();
    until(&mut view, "read", |view| {
        view.calendars
            .first()
            .is_some_and(|state| state.read_at.is_some())
    })
    .await;
    assert_eq!(title(&view.borrow()), None, "not yet");
    assert_eq!(view.borrow().calendars[0].events_today, 1);
    until(&mut view, "under way", |view| {
        title(view) == Some("Design review")
    })
    .await;
    assert!(Utc::now() >= start);
    until(&mut view, "over", |view| view.now.is_none()).await;
    assert!(Utc::now() >= start + chrono::Duration::seconds(3));
    assert_eq!(server.requests.load(Ordering::SeqCst), 1, "fetched once");
}

#[tokio::test]
async fn an_error_keeps_the_last_good_calendar_says_so_and_clears_when_it_is_read_again() {
    let server = Server::default();
    let address = server.start().await;
    let now = Utc::now();
    let meeting = calendar_with(
        "All hands",
        now - chrono::Duration::minutes(5),
        now + chrono::Duration::hours(1),
    );
    server.answer(200, meeting.clone());
    let timing = Timing {
        refetch: Duration::from_millis(200),
        longest_backoff: Duration::from_millis(400),
    };
    let watcher = CalendarWatcher::start(fetcher(), vec![config("Work", &address)], timing);
    let mut view = watcher.view();
    until(&mut view, "under way", |view| title(view) == Some("All hands")).await;

    server.answer(503, "down".to_owned());
    until(&mut view, "the problem said", |view| {
        view.calendars[0].problem.as_deref() == Some("the calendar's server failed (HTTP 503)")
    })
    .await;
    assert_eq!(
        title(&view.borrow()),
        Some("All hands"),
        "the last good document still speaks"
    );

    // A sign-in page instead of the calendar: said, and the meeting still there.
    server.answer(200, "<html>Sign in</html>".to_owned());
    until(&mut view, "not a calendar", |view| {
        view.calendars[0]
            .problem
            .as_deref()
            .is_some_and(|problem| problem.contains("not an iCalendar document"))
    })
    .await;
    assert_eq!(title(&view.borrow()), Some("All hands"));

    server.answer(200, calendar_with("Retro", now, now + chrono::Duration::hours(1)));
    until(&mut view, "read again", |view| {
        title(view) == Some("Retro") && view.calendars[0].problem.is_none()
    })
    .await;
}

#[tokio::test]
async fn a_calendar_added_is_fetched_at_once_and_one_removed_stops_speaking() {
    let (work, home) = (Server::default(), Server::default());
    let (work_address, home_address) = (work.start().await, home.start().await);
    let now = Utc::now();
    work.answer(
        200,
        calendar_with("Planning", now, now + chrono::Duration::hours(1)),
    );
    home.answer(
        200,
        calendar_with(
            "Dentist",
            now + chrono::Duration::minutes(1),
            now + chrono::Duration::hours(2),
        ),
    );
    let timing = Timing::default();
    let watcher = CalendarWatcher::start(fetcher(), vec![config("Work", &work_address)], timing);
    let mut view = watcher.view();
    until(&mut view, "work read", |view| title(view) == Some("Planning")).await;
    watcher.set_calendars(vec![config("Work", &work_address), config("Home", &home_address)]);
    until(&mut view, "home read", |view| {
        view.calendars.len() == 2 && view.calendars[1].read_at.is_some()
    })
    .await;
    assert_eq!(
        work.requests.load(Ordering::SeqCst),
        1,
        "the calendar kept was not fetched again"
    );
    watcher.set_calendars(vec![config("Home", &home_address)]);
    until(&mut view, "work gone", |view| {
        view.calendars.len() == 1 && view.now.is_none()
    })
    .await;
}

#[tokio::test]
async fn slow_calendars_are_fetched_side_by_side() {
    let work = Server::default();
    let home = Server {
        in_flight: work.in_flight.clone(),
        ..Server::default()
    };
    let (work_address, home_address) = (work.start().await, home.start().await);
    let now = Utc::now();
    for (server, title) in [(&work, "Work"), (&home, "Home")] {
        *server.delay.lock().expect("not poisoned") = Duration::from_secs(2);
        server.answer(200, calendar_with(title, now, now + chrono::Duration::hours(1)));
    }
    let watcher = CalendarWatcher::start(
        fetcher(),
        vec![config("Work", &work_address), config("Home", &home_address)],
        Timing::default(),
    );
    let mut view = watcher.view();
    until(&mut view, "both read", |view| {
        view.calendars.len() == 2 && view.calendars.iter().all(|state| state.read_at.is_some())
    })
    .await;
    assert_eq!(
        work.in_flight.1.load(Ordering::SeqCst),
        2,
        "both servers were asked at once"
    );
}

#[test]
fn the_wait_after_errors_doubles_up_to_the_longest_and_respects_the_server() {
    let timing = Timing::default();
    let minutes = |count: u64| Duration::from_secs(count * 60);
    let waits: Vec<Duration> = (1..=6)
        .map(|failures| timing.after_failures(failures, None))
        .collect();
    assert_eq!(
        waits,
        [
            minutes(5),
            minutes(10),
            minutes(20),
            minutes(40),
            minutes(60),
            minutes(60)
        ]
    );
    assert_eq!(timing.after_failures(1, Some(minutes(30))), minutes(30));
    assert_eq!(timing.after_failures(u32::MAX, None), minutes(60));
}
