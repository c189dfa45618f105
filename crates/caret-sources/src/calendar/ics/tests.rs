//! Documents as Google Calendar, Outlook and Fastmail write them, read across the autumn daylight-saving
//! change of 2026 (Europe: 25 October; the United States: 1 November).

use chrono::{Local, NaiveDate, TimeZone as _};

use super::*;

fn utc(text: &str) -> DateTime<Utc> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M")
        .expect("a time")
        .and_utc()
}

fn document(events: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\n\
         X-WR-CALNAME:ana@example.com\r\nX-WR-TIMEZONE:Europe/Berlin\r\n\
         BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nX-LIC-LOCATION:Europe/Berlin\r\n\
         BEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\nDTSTART:19700329T020000\r\n\
         RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\n\
         BEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nDTSTART:19701025T030000\r\n\
         RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n{events}END:VCALENDAR\r\n"
    )
}

fn event(lines: &str) -> String {
    format!("BEGIN:VEVENT\r\nDTSTAMP:20261001T000000Z\r\n{lines}END:VEVENT\r\n")
}

fn autumn() -> std::ops::Range<DateTime<Utc>> {
    utc("2026-10-01 00:00")..utc("2026-12-01 00:00")
}

fn read_all(document: &str, options: &CalendarOptions) -> Reading {
    read(document, autumn(), options).expect("reads")
}

fn starts_and_titles(reading: &Reading) -> Vec<(DateTime<Utc>, DateTime<Utc>, &str)> {
    reading
        .occurrences
        .iter()
        .map(|occurrence| (occurrence.start, occurrence.end, occurrence.title.as_str()))
        .collect()
}

/// A weekly 09:00 standup in Berlin from 19 October, with one week off (an EXDATE), one moved and retitled
/// (a RECURRENCE-ID), one cancelled, and the series ending in November.
fn standups() -> String {
    let series = event(
        "UID:standup@example.com\r\nSUMMARY:Standup\r\n\
         DTSTART;TZID=Europe/Berlin:20261019T090000\r\nDTEND;TZID=Europe/Berlin:20261019T091500\r\n\
         RRULE:FREQ=WEEKLY;BYDAY=MO;UNTIL=20261123T080000Z\r\n\
         EXDATE;TZID=Europe/Berlin:20261102T090000\r\n",
    );
    let moved = event(
        "UID:standup@example.com\r\nRECURRENCE-ID;TZID=Europe/Berlin:20261109T090000\r\n\
         SUMMARY:Standup\\, late\r\nDTSTART;TZID=Europe/Berlin:20261109T110000\r\n\
         DTEND;TZID=Europe/Berlin:20261109T111500\r\n",
    );
    let cancelled = event(
        "UID:standup@example.com\r\nRECURRENCE-ID;TZID=Europe/Berlin:20261116T090000\r\nSTATUS:CANCELLED\r\n\
         SUMMARY:Standup\r\nDTSTART;TZID=Europe/Berlin:20261116T090000\r\nDTEND;TZID=Europe/Berlin:20261116T091500\r\n",
    );
    document(&format!("{series}{moved}{cancelled}"))
}

#[test]
fn a_weekly_series_keeps_its_wall_time_across_the_change_with_its_exceptions() {
    let reading = read_all(&standups(), &CalendarOptions::default());
    assert_eq!(
        starts_and_titles(&reading),
        vec![
            // Summer time: 09:00 is 07:00 UTC.
            (utc("2026-10-19 07:00"), utc("2026-10-19 07:15"), "Standup"),
            // Winter time from 25 October: 09:00 is 08:00 UTC.
            (utc("2026-10-26 08:00"), utc("2026-10-26 08:15"), "Standup"),
            // 2 November: the week off. 9 November: moved to 11:00, the escaped comma read.
            (utc("2026-11-09 10:00"), utc("2026-11-09 10:15"), "Standup, late"),
            // 16 November: cancelled. 23 November: the UNTIL (08:00 UTC = 09:00 Berlin) includes it.
            (utc("2026-11-23 08:00"), utc("2026-11-23 08:15"), "Standup"),
        ]
    );
    assert_eq!(
        (
            reading.unknown_zones,
            reading.broken_rules,
            reading.unreadable_events
        ),
        (0, 0, 0)
    );
}

#[test]
fn free_cancelled_and_declined_events_do_not_count_and_an_accepted_one_does() {
    let at_ten = "DTSTART:20261105T100000Z\r\nDTEND:20261105T110000Z\r\n";
    let events = [
        event(&format!("UID:a\r\nSUMMARY:Focus (free)\r\nTRANSP:TRANSPARENT\r\n{at_ten}")),
        event(&format!("UID:b\r\nSUMMARY:Outlook free\r\nX-MICROSOFT-CDO-BUSYSTATUS:FREE\r\n{at_ten}")),
        event(&format!("UID:c\r\nSUMMARY:Called off\r\nSTATUS:CANCELLED\r\n{at_ten}")),
        // Declined by the calendar's owner (its name is her address).
        event(&format!(
            "UID:d\r\nSUMMARY:Declined\r\n{at_ten}\
             ATTENDEE;CN=Ana;PARTSTAT=DECLINED:mailto:ANA@example.com\r\n\
             ATTENDEE;CN=Bo;PARTSTAT=ACCEPTED:mailto:bo@example.com\r\n"
        )),
        // Declined by someone else only.
        event(&format!(
            "UID:e\r\nSUMMARY:Planning\r\n{at_ten}\
             ATTENDEE;PARTSTAT=ACCEPTED:mailto:ana@example.com\r\nATTENDEE;PARTSTAT=DECLINED:mailto:bo@example.com\r\n"
        )),
        // Declined at an address the person gave.
        event(&format!(
            "UID:f\r\nSUMMARY:Other address\r\n{at_ten}ATTENDEE;PARTSTAT=DECLINED:mailto:ana@work.example\r\n"
        )),
        event(&format!("UID:g\r\nSUMMARY:Busy, said so\r\nTRANSP:OPAQUE\r\n{at_ten}")),
    ]
    .concat();
    let options = CalendarOptions {
        own_addresses: vec!["ana@work.example".to_owned()],
        ..CalendarOptions::default()
    };
    let titles: Vec<String> = read_all(&document(&events), &options)
        .occurrences
        .into_iter()
        .map(|occurrence| occurrence.title)
        .collect();
    assert_eq!(titles, ["Busy, said so", "Planning"]);
}

#[test]
fn a_declined_occurrence_of_an_accepted_series_and_an_accepted_one_of_a_declined_series() {
    let accepted = event(
        "UID:weekly\r\nSUMMARY:Weekly\r\nDTSTART:20261102T150000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\n\
         ATTENDEE;PARTSTAT=ACCEPTED:mailto:ana@example.com\r\n",
    );
    let declined_once = event(
        "UID:weekly\r\nRECURRENCE-ID:20261109T150000Z\r\nSUMMARY:Weekly\r\nDTSTART:20261109T150000Z\r\n\
         DURATION:PT1H\r\nATTENDEE;PARTSTAT=DECLINED:mailto:ana@example.com\r\n",
    );
    let declined_series = event(
        "UID:monthly\r\nSUMMARY:Monthly\r\nDTSTART:20261003T090000Z\r\nDURATION:PT30M\r\nRRULE:FREQ=MONTHLY;COUNT=2\r\n\
         ATTENDEE;PARTSTAT=DECLINED:mailto:ana@example.com\r\n",
    );
    let accepted_once = event(
        "UID:monthly\r\nRECURRENCE-ID:20261103T090000Z\r\nSUMMARY:Monthly\r\nDTSTART:20261103T090000Z\r\n\
         DURATION:PT30M\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:ana@example.com\r\n",
    );
    let reading = read_all(
        &document(&format!(
            "{accepted}{declined_once}{declined_series}{accepted_once}"
        )),
        &CalendarOptions::default(),
    );
    assert_eq!(
        starts_and_titles(&reading),
        vec![
            (utc("2026-11-02 15:00"), utc("2026-11-02 16:00"), "Weekly"),
            (utc("2026-11-03 09:00"), utc("2026-11-03 09:30"), "Monthly"),
            (utc("2026-11-16 15:00"), utc("2026-11-16 16:00"), "Weekly"),
        ]
    );
}

#[test]
fn all_day_events_count_only_when_asked_and_then_in_the_readers_own_days() {
    let conference = event(
        "UID:conf\r\nSUMMARY:Conference\r\nDTSTART;VALUE=DATE:20261110\r\nDTEND;VALUE=DATE:20261112\r\n",
    );
    let holiday = event("UID:holiday\r\nSUMMARY:Holiday\r\nDTSTART;VALUE=DATE:20261120\r\n");
    let text = document(&format!("{conference}{holiday}"));
    assert!(
        read_all(&text, &CalendarOptions::default())
            .occurrences
            .is_empty()
    );
    let asked = CalendarOptions {
        include_all_day: true,
        ..CalendarOptions::default()
    };
    let local_midnight = |day: u32| {
        let date = NaiveDate::from_ymd_opt(2026, 11, day).expect("a date");
        Local
            .from_local_datetime(&date.and_time(NaiveTime::MIN))
            .earliest()
            .expect("midnight exists")
            .with_timezone(&Utc)
    };
    let reading = read_all(&text, &asked);
    assert_eq!(
        starts_and_titles(&reading),
        vec![
            (local_midnight(10), local_midnight(12), "Conference"),
            // No end: one day.
            (local_midnight(20), local_midnight(21), "Holiday"),
        ]
    );
    assert!(reading.occurrences.iter().all(|occurrence| occurrence.all_day));
}

#[test]
fn outlook_s_windows_zones_are_read_from_the_document_s_own_rules() {
    let text = "BEGIN:VCALENDAR\r\nPRODID:Microsoft Exchange Server 2010\r\nVERSION:2.0\r\n\
        BEGIN:VTIMEZONE\r\nTZID:Eastern Standard Time\r\n\
        BEGIN:STANDARD\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\n\
        RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=1SU;BYMONTH=11\r\nEND:STANDARD\r\n\
        BEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\n\
        RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=2SU;BYMONTH=3\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n\
        BEGIN:VEVENT\r\nUID:040000008200E00074C5B7101A82E008\r\nSUMMARY;LANGUAGE=en-US:1:1 with Sam\r\n\
        DTSTART;TZID=Eastern Standard Time:20261026T140000\r\nDTEND;TZID=Eastern Standard Time:20261026T143000\r\n\
        RRULE:FREQ=WEEKLY;COUNT=3;INTERVAL=1;BYDAY=MO;WKST=SU\r\nX-MICROSOFT-CDO-BUSYSTATUS:BUSY\r\n\
        END:VEVENT\r\nEND:VCALENDAR\r\n";
    let reading = read_all(text, &CalendarOptions::default());
    assert_eq!(
        starts_and_titles(&reading),
        vec![
            (utc("2026-10-26 18:00"), utc("2026-10-26 18:30"), "1:1 with Sam"),
            // The United States change on 1 November: 14:00 is 19:00 UTC from then on.
            (utc("2026-11-02 19:00"), utc("2026-11-02 19:30"), "1:1 with Sam"),
            (utc("2026-11-09 19:00"), utc("2026-11-09 19:30"), "1:1 with Sam"),
        ]
    );
}

#[test]
fn folded_lines_durations_and_utc_times_are_read() {
    let text = document(&event(
        "UID:long\r\nSUMMARY:A title long enough that the calendar folded it onto a second\r\n  line\r\n\
         DTSTART:20261105T100000Z\r\nDURATION:P1DT2H30M\r\n",
    ));
    let reading = read_all(&text, &CalendarOptions::default());
    assert_eq!(
        starts_and_titles(&reading),
        vec![(
            utc("2026-11-05 10:00"),
            utc("2026-11-06 12:30"),
            "A title long enough that the calendar folded it onto a second line"
        )]
    );
}

#[test]
fn only_occurrences_overlapping_the_window_are_kept_and_one_under_way_at_its_start_is() {
    let text = document(&event(
        "UID:daily\r\nSUMMARY:Daily\r\nDTSTART:20260901T233000Z\r\nDTEND:20260902T003000Z\r\nRRULE:FREQ=DAILY\r\n",
    ));
    let window = utc("2026-11-05 00:00")..utc("2026-11-07 00:00");
    let reading = read(&text, window, &CalendarOptions::default()).expect("reads");
    let starts: Vec<_> = reading
        .occurrences
        .iter()
        .map(|occurrence| occurrence.start)
        .collect();
    assert_eq!(
        starts,
        [
            utc("2026-11-04 23:30"),
            utc("2026-11-05 23:30"),
            utc("2026-11-06 23:30")
        ]
    );
}

#[test]
fn what_cannot_be_read_is_counted_and_the_rest_still_counts() {
    let events = [
        event("UID:zone\r\nSUMMARY:Unknown zone\r\nDTSTART;TZID=Mars/Olympus:20261105T100000\r\nDURATION:PT1H\r\n"),
        event("UID:rule\r\nSUMMARY:Broken rule\r\nDTSTART:20261106T100000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=SOMETIMES\r\n"),
        event("UID:start\r\nSUMMARY:No start\r\nDURATION:PT1H\r\n"),
        event("UID:fine\r\nSUMMARY:Fine\r\nDTSTART:20261107T100000Z\r\nDURATION:PT1H\r\n"),
    ]
    .concat();
    let reading = read_all(&document(&events), &CalendarOptions::default());
    let titles: Vec<&str> = reading
        .occurrences
        .iter()
        .map(|occurrence| occurrence.title.as_str())
        .collect();
    assert_eq!(titles, ["Unknown zone", "Broken rule", "Fine"]);
    assert_eq!(
        (
            reading.unknown_zones,
            reading.broken_rules,
            reading.unreadable_events
        ),
        (1, 1, 1)
    );
}

#[test]
fn a_document_that_is_not_icalendar_is_refused_without_quoting_it() {
    for (text, says) in [
        (
            "<html><body>Sign in to continue</body></html>",
            "not an iCalendar document",
        ),
        ("", "not an iCalendar document"),
        (
            "BEGIN:VEVENT\r\nSUMMARY:secret plans\r\nEND:VEVENT\r\n",
            "no VCALENDAR",
        ),
        (
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:secret plans\r\n",
            "not an iCalendar document",
        ),
    ] {
        let error = read(text, autumn(), &CalendarOptions::default()).expect_err(text);
        let message = error.to_string();
        assert!(message.contains(says), "{text:?}: {message}");
        assert!(
            !message.contains("secret") && !message.contains("Sign in"),
            "{message}"
        );
    }
}

#[test]
fn hostile_documents_are_refused_or_cut_and_nothing_overflows() {
    // Nested deeper than any calendar: refused before the parser recurses into it.
    let nested = format!("BEGIN:VCALENDAR\r\n{}", "BEGIN:X\r\n".repeat(100_000));
    let error = read(&nested, autumn(), &CalendarOptions::default()).expect_err("too deep");
    assert!(error.to_string().contains("nest deeper than 8"), "{error}");
    // Lengths past any arithmetic, a length of more than a year, an end before the start: left out, counted.
    let events = [
        event("UID:huge\r\nSUMMARY:Huge\r\nDTSTART:20261105T100000Z\r\nDURATION:P99999999D\r\n"),
        event("UID:sum\r\nSUMMARY:Sum\r\nDTSTART:20261105T100000Z\r\nDURATION:P15000000000W15000000000W\r\n"),
        event("UID:year\r\nSUMMARY:Year\r\nDTSTART:20261105T100000Z\r\nDURATION:P400D\r\n"),
        event("UID:back\r\nSUMMARY:Back\r\nDTSTART:20261105T100000Z\r\nDTEND:20261104T100000Z\r\n"),
        // Every second since 2020: cut where the document's steps run out, the rest still read.
        event("UID:sec\r\nSUMMARY:Every second\r\nDTSTART:20200101T000000Z\r\nDURATION:PT1S\r\nRRULE:FREQ=SECONDLY\r\n"),
        event(&format!("UID:long\r\nSUMMARY:{}\r\nDTSTART:20261106T100000Z\r\nDURATION:PT1H\r\n", "T".repeat(5000))),
    ]
    .concat();
    let reading = read_all(&document(&events), &CalendarOptions::default());
    assert_eq!(reading.unreadable_events, 4, "{reading:?}");
    assert_eq!(reading.broken_rules, 1, "the endless rule cut, and said");
    let titles: Vec<usize> = reading
        .occurrences
        .iter()
        .map(|occurrence| occurrence.title.len())
        .collect();
    assert_eq!(titles, [LONGEST_TITLE], "the only one left, its title cut");
}

#[test]
fn an_end_in_another_zone_gives_every_occurrence_its_exact_length() {
    // A flight from Tokyo at 17:00 to Los Angeles at 10:00 the same day: 10 hours.
    let flight = event(
        "UID:flight\r\nSUMMARY:Flight\r\nDTSTART;TZID=Asia/Tokyo:20261105T170000\r\n\
         DTEND;TZID=America/Los_Angeles:20261105T100000\r\n",
    );
    let reading = read_all(&document(&flight), &CalendarOptions::default());
    assert_eq!(
        starts_and_titles(&reading),
        vec![(utc("2026-11-05 08:00"), utc("2026-11-05 18:00"), "Flight")]
    );
}

#[test]
fn durations_are_read_as_written() {
    assert_eq!(parse_duration("PT1H30M"), Some(Duration::minutes(90)));
    assert_eq!(parse_duration("P2W"), Some(Duration::weeks(2)));
    assert_eq!(
        parse_duration("P1DT1S"),
        Some(Duration::days(1) + Duration::seconds(1))
    );
    assert_eq!(parse_duration("-PT15M"), Some(Duration::minutes(15)));
    for bad in ["", "P", "PT", "1H", "PT1X", "P1H", "PT1", "P1M"] {
        assert_eq!(parse_duration(bad), None, "{bad:?}");
    }
}
