//! The typed-code pairing exchange: SPAKE2 over the (not yet trusted) TLS channel, then key confirmation
//! bound to the certificate fingerprint each side sees.
//!
//! Why: a phone that types a short code has no fingerprint to pin, so an attacker on the LAN could sit in the
//! middle of the TLS connection. SPAKE2 turns the short code into a strong shared key that an attacker can
//! only get by guessing the code online (one guess per exchange, five per pairing window). The phone then
//! proves it knows the key *and* which certificate it saw: if someone is in the middle, the phone saw the
//! attacker's certificate, the desktop's check fails, and the attempt counts as a wrong code. See
//! docs/relay-threat-model.md.
//!
//! Messages (hex-encoded on the wire, see docs/relay-protocol.md):
//! 1. phone → desktop: SPAKE2 message;  2. desktop → phone: SPAKE2 message;
//! 3. phone → desktop: `phone_mac = HMAC(K, "caret phone v1" ‖ fingerprint seen)`;
//! 4. desktop → phone (only if 3 checks): the device credentials and
//!    `desktop_mac = HMAC(K, "caret desktop v1" ‖ fingerprint ‖ device id ‖ token)`.
//!
//! The construction byte for byte (group, points, password scalar, key hash, MAC layout) is written out in
//! docs/relay-protocol.md for phones in other languages; `tests/interop.rs` holds it to python-spake2.

use ring::hmac;
use spake2::{Ed25519Group, Identity, Password, Spake2};

use crate::identity::Fingerprint;
use crate::pairing::normalize_short_code;

/// Binds the exchange to this protocol, so a key from it is useless anywhere else.
const EXCHANGE_IDENTITY: &[u8] = b"caret-desktop relay pairing v1";
const PHONE_LABEL: &[u8] = b"caret phone v1";
const DESKTOP_LABEL: &[u8] = b"caret desktop v1";

/// One side of a running exchange. Both sides use the symmetric SPAKE2 variant.
pub struct PakeExchange {
    state: Spake2<Ed25519Group>,
}

impl std::fmt::Debug for PakeExchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PakeExchange(…)")
    }
}

/// The key both sides share after a exchange with the same code.
pub struct PakeKey(hmac::Key);

impl PakeExchange {
    /// Starts an exchange with a short code as typed or shown; returns the message to send.
    pub fn start(short_code: &str) -> (PakeExchange, Vec<u8>) {
        let password = Password::new(normalize_short_code(short_code).as_bytes());
        let (state, outbound) =
            Spake2::<Ed25519Group>::start_symmetric(&password, &Identity::new(EXCHANGE_IDENTITY));
        (PakeExchange { state }, outbound)
    }

    /// Finishes with the other side's message. A malformed message is an error; a wrong code is not
    /// detected here (the keys just differ) but by the confirmation MACs.
    pub fn finish(self, inbound: &[u8]) -> Option<PakeKey> {
        let key = self.state.finish(inbound).ok()?;
        Some(PakeKey(hmac::Key::new(hmac::HMAC_SHA256, &key)))
    }
}

impl PakeKey {
    /// What the phone sends: proof of the key, bound to the certificate it saw.
    pub fn phone_mac(&self, seen: &Fingerprint) -> Vec<u8> {
        self.sign(&[PHONE_LABEL, seen.bytes()])
    }

    /// Checks the phone's proof against the desktop's own certificate (constant time).
    pub fn verify_phone_mac(&self, own: &Fingerprint, mac: &[u8]) -> bool {
        self.verify(&[PHONE_LABEL, own.bytes()], mac)
    }

    /// What the desktop sends with the credentials, so the phone knows they came from the code's holder.
    pub fn desktop_mac(&self, own: &Fingerprint, device_id: &str, token: &str) -> Vec<u8> {
        self.sign(&[DESKTOP_LABEL, own.bytes(), device_id.as_bytes(), token.as_bytes()])
    }

    pub fn verify_desktop_mac(&self, seen: &Fingerprint, device_id: &str, token: &str, mac: &[u8]) -> bool {
        self.verify(
            &[
                DESKTOP_LABEL,
                seen.bytes(),
                device_id.as_bytes(),
                token.as_bytes(),
            ],
            mac,
        )
    }

    fn message(parts: &[&[u8]]) -> Vec<u8> {
        // Length-prefixed, so no two different lists of parts give the same bytes.
        let mut message = Vec::new();
        for part in parts {
            message.extend_from_slice(&(part.len() as u64).to_be_bytes());
            message.extend_from_slice(part);
        }
        message
    }

    fn sign(&self, parts: &[&[u8]]) -> Vec<u8> {
        hmac::sign(&self.0, &Self::message(parts)).as_ref().to_vec()
    }

    fn verify(&self, parts: &[&[u8]], mac: &[u8]) -> bool {
        hmac::verify(&self.0, &Self::message(parts), mac).is_ok()
    }
}

/// Lowercase hex, the wire form of PAKE messages and MACs.
pub fn to_hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// Reads hex back; `None` for anything else (odd length, other characters) or more than `max_bytes`.
pub fn from_hex(text: &str, max_bytes: usize) -> Option<Vec<u8>> {
    if text.len() / 2 > max_bytes {
        return None;
    }
    hex::decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fingerprint(byte: u8) -> Fingerprint {
        Fingerprint::of(&[byte])
    }

    fn exchange(phone_code: &str, desktop_code: &str) -> (PakeKey, PakeKey) {
        let (phone, to_desktop) = PakeExchange::start(phone_code);
        let (desktop, to_phone) = PakeExchange::start(desktop_code);
        (
            phone.finish(&to_phone).unwrap(),
            desktop.finish(&to_desktop).unwrap(),
        )
    }

    #[test]
    fn the_same_code_confirms_both_ways_whatever_its_typed_form() {
        let own = fingerprint(1);
        let (phone, desktop) = exchange("1234 5678", "1234-5678");
        assert!(desktop.verify_phone_mac(&own, &phone.phone_mac(&own)));
        let mac = desktop.desktop_mac(&own, "d_1", "token");
        assert!(phone.verify_desktop_mac(&own, "d_1", "token", &mac));
        assert!(
            !phone.verify_desktop_mac(&own, "d_1", "other", &mac),
            "the MAC covers the token"
        );
    }

    #[test]
    fn a_wrong_code_never_confirms() {
        let own = fingerprint(1);
        let (phone, desktop) = exchange("1234-5679", "1234-5678");
        assert!(!desktop.verify_phone_mac(&own, &phone.phone_mac(&own)));
    }

    #[test]
    fn a_man_in_the_middle_is_caught_by_the_fingerprint_binding() {
        // The attacker relays the SPAKE2 messages untouched (it cannot do better without the code), so both
        // ends share a key, but the phone saw the attacker's certificate.
        let (desktop_fingerprint, attacker_fingerprint) = (fingerprint(1), fingerprint(2));
        let (phone, desktop) = exchange("1234-5678", "1234-5678");
        let mac = phone.phone_mac(&attacker_fingerprint);
        assert!(!desktop.verify_phone_mac(&desktop_fingerprint, &mac));
    }

    #[test]
    fn garbage_exchange_messages_are_refused_and_hex_is_strict() {
        let (desktop, _) = PakeExchange::start("1234-5678");
        assert!(desktop.finish(b"short").is_none());
        assert_eq!(from_hex("0aFF", 8), Some(vec![0x0a, 0xff]));
        assert_eq!(from_hex("0a f", 8), None);
        assert_eq!(from_hex("abc", 8), None);
        assert_eq!(from_hex("zz", 8), None);
        assert_eq!(from_hex(&"00".repeat(9), 8), None);
        assert_eq!(from_hex("é0", 8), None);
    }
}
