//! Every parser a phone's bytes reach, fed arbitrary bytes: none may panic, and what they accept must keep
//! the limits the protocol promises (docs/relay-protocol.md).

#![no_main]

use caret_relay::protocol::{
    MAX_DEVICE_NAME_CHARS, MAX_FRAME_BYTES, MAX_HTTP_STATE_SECS, PairingMessage, PhoneMessage,
    parse_http_state, parse_pairing_frame, parse_phone_frame,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|frame: &[u8]| {
    match parse_phone_frame(frame) {
        Ok(PhoneMessage::Hello { name, device_id, .. }) => {
            assert!(frame.len() <= MAX_FRAME_BYTES);
            assert!(name.is_none_or(|name| name.chars().count() <= MAX_DEVICE_NAME_CHARS && !name.contains('\n')));
            assert!(!device_id.is_empty());
        }
        Ok(PhoneMessage::State { seq, .. } | PhoneMessage::Snapshot { seq, .. }) => {
            assert!(i64::try_from(seq).is_ok(), "a seq the device record can keep");
        }
        Ok(PhoneMessage::Ping) => {}
        Err(error) => {
            // Every refusal has a stable code and a message that never repeats the whole frame.
            assert!(!error.code().is_empty());
            assert!(error.to_string().len() <= 600, "{error}");
        }
    }
    match parse_pairing_frame(frame) {
        Ok(PairingMessage::Pake { message, .. }) => assert!(message.len() <= 64),
        Ok(PairingMessage::Confirm { mac }) => assert!(mac.len() <= 64),
        Ok(PairingMessage::Pair { secret, .. }) => assert!(secret.chars().count() <= 64),
        Err(_) => {}
    }
    if let Ok((_, for_secs)) = parse_http_state(frame) {
        assert!((60..=MAX_HTTP_STATE_SECS).contains(&for_secs));
    }
});
