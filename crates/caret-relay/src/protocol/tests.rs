//! Every kind of bad frame gets its documented code; good frames parse to what they say.

use super::*;

fn code_of(frame: &str) -> &'static str {
    parse_phone_frame(frame.as_bytes())
        .map(|m| panic!("{frame} parsed as {m:?}"))
        .unwrap_or_else(|e| e.code())
}

#[test]
fn good_frames_parse() {
    assert_eq!(
        parse_phone_frame(br#"{"type":"state","seq":7,"state":"in_call"}"#).unwrap(),
        PhoneMessage::State {
            seq: 7,
            state: CaretState::InCall
        }
    );
    assert_eq!(
        parse_phone_frame(br#"{"type":"snapshot","seq":1,"state":{"kind":"walking"}}"#).unwrap(),
        PhoneMessage::Snapshot {
            seq: 1,
            state: CaretState::Walking
        }
    );
    assert_eq!(
        parse_phone_frame(br#"{"type":"ping"}"#).unwrap(),
        PhoneMessage::Ping
    );
    let event = parse_phone_frame(
        br#"{"type":"state","seq":8,"state":{"kind":"event","title":"Standup","start":"2026-11-23T09:00:00Z","end":"2026-11-23T09:15:00+00:00"}}"#,
    )
    .unwrap();
    let PhoneMessage::State {
        state: CaretState::Event(details),
        ..
    } = event
    else {
        panic!("{event:?}")
    };
    assert_eq!(details.title, "Standup");
    assert_eq!((details.end - details.start).num_minutes(), 15);
}

#[test]
fn hello_carries_the_device_and_never_shows_its_token() {
    let hello = parse_phone_frame(
        br#"{"type":"hello","protocol":1,"device_id":"d_7f3a","token":"s3cr3tT0k3n","name":"Ada's\nPixel"}"#,
    )
    .unwrap();
    let PhoneMessage::Hello {
        device_id,
        token,
        name,
        ..
    } = &hello
    else {
        panic!()
    };
    assert_eq!(device_id, "d_7f3a");
    assert_eq!(token.expose(), "s3cr3tT0k3n");
    assert_eq!(name.as_deref(), Some("Ada's Pixel"), "names are one clean line");
    assert!(!format!("{hello:?}").contains("s3cr3t"));
}

#[test]
fn every_bad_frame_gets_its_documented_code() {
    let huge = format!(r#"{{"type":"ping","pad":"{}"}}"#, "x".repeat(MAX_FRAME_BYTES));
    let long_title = format!(
        r#"{{"type":"state","seq":1,"state":{{"kind":"event","title":"{}","start":"2026-11-23T09:00:00Z","end":"2026-11-23T10:00:00Z"}}}}"#,
        "t".repeat(MAX_TITLE_CHARS + 1)
    );
    // Within the size limit, but far deeper than serde_json's recursion limit (128).
    let deep = format!("{}{}", "[".repeat(4_000), "]".repeat(4_000));
    let cases: Vec<(&str, &str)> = vec![
        (&huge, "frame_too_large"),
        ("", "malformed_json"),
        ("{", "malformed_json"),
        ("\u{0}\u{1}", "malformed_json"),
        (&deep, "malformed_json"),
        ("[1,2]", "missing_type"),
        (r#"{"seq":1}"#, "missing_type"),
        (r#"{"type":7}"#, "missing_type"),
        (r#"{"type":"teleport"}"#, "unknown_type"),
        (r#"{"type":"state","state":"in_call"}"#, "invalid_field"),
        (r#"{"type":"state","seq":-1,"state":"in_call"}"#, "invalid_field"),
        (r#"{"type":"state","seq":1.5,"state":"in_call"}"#, "invalid_field"),
        (r#"{"type":"state","seq":1}"#, "invalid_field"),
        (r#"{"type":"state","seq":1,"state":42}"#, "invalid_field"),
        (
            r#"{"type":"state","seq":1,"state":{"title":"x"}}"#,
            "invalid_field",
        ),
        (r#"{"type":"state","seq":1,"state":"driving"}"#, "unknown_state"),
        (
            r#"{"type":"state","seq":1,"state":{"kind":"IN_CALL"}}"#,
            "unknown_state",
        ),
        (r#"{"type":"state","seq":1,"state":"event"}"#, "invalid_event"),
        (
            r#"{"type":"state","seq":1,"state":{"kind":"event","start":"2026-11-23T09:00:00Z"}}"#,
            "invalid_event",
        ),
        (
            r#"{"type":"state","seq":1,"state":{"kind":"event","start":"yesterday","end":"2026-11-23T09:00:00Z"}}"#,
            "invalid_event",
        ),
        (
            r#"{"type":"state","seq":1,"state":{"kind":"event","start":"2026-11-23T10:00:00Z","end":"2026-11-23T09:00:00Z"}}"#,
            "invalid_event",
        ),
        (
            r#"{"type":"state","seq":1,"state":{"kind":"event","title":7,"start":"2026-11-23T09:00:00Z","end":"2026-11-23T10:00:00Z"}}"#,
            "invalid_event",
        ),
        (&long_title, "invalid_event"),
        (
            r#"{"type":"hello","protocol":2,"device_id":"d1","token":"t"}"#,
            "unsupported_version",
        ),
        (
            r#"{"type":"hello","device_id":"d1","token":"t"}"#,
            "invalid_field",
        ),
        (
            r#"{"type":"hello","protocol":1,"device_id":"d 1","token":"t"}"#,
            "invalid_field",
        ),
        (
            r#"{"type":"hello","protocol":1,"device_id":"d1"}"#,
            "invalid_field",
        ),
        (
            r#"{"type":"hello","protocol":1,"device_id":"d1","token":"t","name":["x"]}"#,
            "invalid_field",
        ),
    ];
    for (frame, code) in cases {
        assert_eq!(
            code_of(frame),
            code,
            "{}",
            frame.chars().take(120).collect::<String>()
        );
    }
}

#[test]
fn an_unknown_type_or_state_is_quoted_back_but_never_at_length() {
    let frame = format!(r#"{{"type":"state","seq":1,"state":"{}"}}"#, "z".repeat(5000));
    let error = parse_phone_frame(frame.as_bytes()).unwrap_err();
    assert!(error.to_string().len() < 200, "{}", error.to_string().len());
}

/// Found by the fuzz target: an event time that is not a time was quoted back whole (up to the frame's 8 KiB).
#[test]
fn a_bad_event_time_is_quoted_back_but_never_at_length() {
    let frame = format!(
        r#"{{"type":"state","seq":1,"state":{{"kind":"event","start":"2026-11-23T09:00:00Z","end":"2{}"}}}}"#,
        "\u{7f}".repeat(3000)
    );
    let error = parse_phone_frame(frame.as_bytes()).unwrap_err();
    assert_eq!(error.code(), "invalid_event");
    assert!(error.to_string().len() < 300, "{}", error.to_string().len());
}

/// A cheap stand-in for the fuzz target (which runs for longer, see docs/relay-protocol.md): thousands of
/// mutations of good frames never panic and always answer a parse or a documented error.
#[test]
fn mutated_frames_never_panic() {
    let seeds: [&[u8]; 4] = [
        br#"{"type":"state","seq":7,"state":"in_call"}"#,
        br#"{"type":"hello","protocol":1,"device_id":"d_7f3a","token":"abc","name":"Pixel"}"#,
        br#"{"type":"state","seq":8,"state":{"kind":"event","title":"Standup","start":"2026-11-23T09:00:00Z","end":"2026-11-23T09:15:00Z"}}"#,
        br#"{"type":"ping"}"#,
    ];
    let mut rng: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for round in 0..20_000 {
        let mut frame = seeds[round % seeds.len()].to_vec();
        for _ in 0..(next() % 4 + 1) {
            let at = usize::try_from(next() % (frame.len() as u64 + 1)).unwrap();
            match next() % 3 {
                0 if at < frame.len() => frame[at] = u8::try_from(next() % 256).unwrap(),
                1 => frame.insert(at, b"{}[]\",:0-e\\"[usize::try_from(next() % 11).unwrap()]),
                _ if at < frame.len() => {
                    frame.remove(at);
                }
                _ => {}
            }
        }
        if let Err(error) = parse_phone_frame(&frame) {
            assert!(!error.code().is_empty());
        }
    }
}

#[test]
fn desktop_messages_serialise_with_a_type_tag() {
    let welcome = DesktopMessage::Welcome {
        protocol: 1,
        heartbeat_secs: 20,
        last_seq: Some(6),
    };
    assert_eq!(
        welcome.to_json(),
        r#"{"type":"welcome","protocol":1,"heartbeat_secs":20,"last_seq":6}"#
    );
    assert_eq!(
        DesktopMessage::Ack { seq: 7 }.to_json(),
        r#"{"type":"ack","seq":7}"#
    );
    let error = ProtocolError::UnknownState("driving".into()).to_message(Some(7));
    assert_eq!(
        DesktopMessage::Error(error).to_json(),
        r#"{"type":"error","code":"unknown_state","message":"unknown state \"driving\"","seq":7}"#
    );
}
