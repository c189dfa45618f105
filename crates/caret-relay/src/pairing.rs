//! Device tokens and the pairing window.
//!
//! A paired phone holds a device id and a 256-bit token; the desktop keeps only the token's SHA-256 and
//! compares in constant time. Pairing is possible only while the user has opened a window on the desktop: a
//! one-time secret valid for two minutes, used once, and closed after five wrong attempts. (The QR code
//! carries the secret with the certificate fingerprint; the typed short code is bound to the TLS channel by
//! a PAKE, see [`crate::pake`] and docs/relay-threat-model.md.)

use std::time::Duration;

use ring::rand::{SecureRandom, SystemRandom};
use subtle::ConstantTimeEq;
use tokio::time::Instant;

use crate::error::{ProtocolError, RelayError};

/// How long a pairing window stays open.
pub const PAIRING_WINDOW: Duration = Duration::from_secs(120);
/// Wrong attempts after which the window closes.
pub const MAX_WRONG_ATTEMPTS: u8 = 5;

fn random_bytes<const N: usize>() -> Result<[u8; N], RelayError> {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| RelayError::RandomGenerator)?;
    Ok(bytes)
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// A freshly paired device's credentials: handed to the phone once, then only the hash is kept.
pub struct NewDevice {
    pub id: String,
    /// 256 bits, hex. Shown to the phone once; never stored, logged or shown again.
    pub token: String,
    pub token_hash: [u8; 32],
}

impl std::fmt::Debug for NewDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewDevice")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl NewDevice {
    pub fn generate() -> Result<NewDevice, RelayError> {
        let id = format!("d_{}", hex::encode(random_bytes::<8>()?));
        let token = hex::encode(random_bytes::<32>()?);
        let token_hash = sha256(token.as_bytes());
        Ok(NewDevice {
            id,
            token,
            token_hash,
        })
    }
}

/// Whether a presented token matches a stored hash, in constant time.
pub fn token_matches(presented: &str, stored_hash: &[u8; 32]) -> bool {
    bool::from(sha256(presented.as_bytes()).ct_eq(stored_hash))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WindowState {
    Open,
    Used,
    LockedOut,
}

/// One pairing window, opened by the user.
pub struct PairingWindow {
    secret: String,
    short_code: String,
    expires_at: Instant,
    wrong_attempts: u8,
    state: WindowState,
}

impl std::fmt::Debug for PairingWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PairingWindow")
            .field("state", &self.state)
            .field("wrong_attempts", &self.wrong_attempts)
            .finish()
    }
}

impl PairingWindow {
    /// Opens a window with a fresh 128-bit secret, for the usual two minutes.
    pub fn open() -> Result<PairingWindow, RelayError> {
        PairingWindow::open_for(PAIRING_WINDOW)
    }

    /// Opens a window that lasts `duration` (tests shorten it).
    pub fn open_for(duration: Duration) -> Result<PairingWindow, RelayError> {
        Ok(PairingWindow {
            secret: hex::encode(random_bytes::<16>()?),
            short_code: random_short_code()?,
            expires_at: Instant::now() + duration,
            wrong_attempts: 0,
            state: WindowState::Open,
        })
    }

    /// The secret, for the QR code the desktop shows.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The short code to type (`1234-5678`), the password of the PAKE exchange (see [`crate::pake`]).
    pub fn short_code(&self) -> &str {
        &self.short_code
    }

    pub fn expires_at(&self) -> Instant {
        self.expires_at
    }

    /// Whether a pairing attempt may still be made; says why not otherwise.
    pub fn ensure_open(&self) -> Result<(), ProtocolError> {
        match self.state {
            WindowState::Used => Err(ProtocolError::PairingClosed),
            WindowState::LockedOut => Err(ProtocolError::PairingLockedOut),
            WindowState::Open if Instant::now() >= self.expires_at => Err(ProtocolError::PairingExpired),
            WindowState::Open => Ok(()),
        }
    }

    /// Counts a failed attempt (a wrong secret, or a code exchange that did not confirm); the fifth closes
    /// the window.
    pub fn record_wrong_attempt(&mut self) -> ProtocolError {
        // A window already used, locked or expired is not counted against: it says why it is closed.
        if let Err(closed) = self.ensure_open() {
            return closed;
        }
        self.wrong_attempts = self.wrong_attempts.saturating_add(1);
        if self.wrong_attempts >= MAX_WRONG_ATTEMPTS {
            self.state = WindowState::LockedOut;
            return ProtocolError::PairingLockedOut;
        }
        ProtocolError::WrongPairingSecret {
            attempts_left: MAX_WRONG_ATTEMPTS - self.wrong_attempts,
        }
    }

    /// A confirmed code exchange: the window is used up, if nothing else used it first.
    pub fn consume(&mut self) -> Result<(), ProtocolError> {
        self.ensure_open()?;
        self.state = WindowState::Used;
        Ok(())
    }

    /// Checks a secret a phone presents (the QR path). Right: the window is used up (single use). Wrong:
    /// counted; the fifth wrong attempt closes the window.
    pub fn redeem(&mut self, presented: &str) -> Result<(), ProtocolError> {
        self.ensure_open()?;
        let right = bool::from(presented.as_bytes().ct_eq(self.secret.as_bytes()));
        if right {
            self.state = WindowState::Used;
            return Ok(());
        }
        Err(self.record_wrong_attempt())
    }
}

/// Eight random digits shown as `1234-5678` (26.6 bits): enough when every guess is an online PAKE exchange
/// and five wrong ones close the window (a guesser's chance is 5 in 10^8 per window).
fn random_short_code() -> Result<String, RelayError> {
    // Rejection sampling keeps the digits uniform: 4_200_000_000 is the largest multiple of 10^8 below 2^32.
    loop {
        let value = u32::from_le_bytes(random_bytes::<4>()?);
        if value < 4_200_000_000 {
            let digits = value % 100_000_000;
            return Ok(format!("{:04}-{:04}", digits / 10_000, digits % 10_000));
        }
    }
}

/// A typed code as the PAKE password: digits only, so `1234 5678`, `12345678` and `1234-5678` all work.
pub fn normalize_short_code(typed: &str) -> String {
    typed.chars().filter(char::is_ascii_digit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_tokens_are_256_bits_stored_only_as_hashes_and_checked() {
        let device = NewDevice::generate().unwrap();
        assert_eq!(device.token.len(), 64, "256 bits in hex");
        assert!(device.id.starts_with("d_") && device.id.len() == 18);
        assert!(token_matches(&device.token, &device.token_hash));
        assert!(!token_matches("0".repeat(64).as_str(), &device.token_hash));
        assert!(
            !format!("{device:?}").contains(&device.token),
            "Debug never shows the token"
        );
        let other = NewDevice::generate().unwrap();
        assert_ne!(device.token, other.token);
        assert_ne!(device.id, other.id);
    }

    #[tokio::test(start_paused = true)]
    async fn the_right_secret_pairs_once() {
        let mut window = PairingWindow::open().unwrap();
        let secret = window.secret().to_owned();
        assert_eq!(secret.len(), 32, "128 bits");
        window.redeem(&secret).unwrap();
        assert_eq!(
            window.redeem(&secret),
            Err(ProtocolError::PairingClosed),
            "a replayed secret is refused"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_window_expires_after_two_minutes() {
        let mut window = PairingWindow::open().unwrap();
        let secret = window.secret().to_owned();
        tokio::time::advance(PAIRING_WINDOW).await;
        assert_eq!(window.redeem(&secret), Err(ProtocolError::PairingExpired));
    }

    #[tokio::test(start_paused = true)]
    async fn five_wrong_secrets_close_the_window_even_to_the_right_one() {
        let mut window = PairingWindow::open().unwrap();
        let secret = window.secret().to_owned();
        for left in (1..=4).rev() {
            assert_eq!(
                window.redeem("wrong"),
                Err(ProtocolError::WrongPairingSecret { attempts_left: left })
            );
        }
        assert_eq!(window.redeem("wrong"), Err(ProtocolError::PairingLockedOut));
        assert_eq!(
            window.redeem(&secret),
            Err(ProtocolError::PairingLockedOut),
            "locked out for good"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn ten_thousand_guesses_never_pair() {
        let mut paired = 0;
        for guess in 0..10_000u32 {
            let mut window = PairingWindow::open().unwrap();
            if window.redeem(&format!("{guess:032x}")).is_ok() {
                paired += 1;
            }
        }
        assert_eq!(paired, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn short_codes_are_eight_uniform_digits_and_typed_forms_normalize() {
        let window = PairingWindow::open().unwrap();
        let code = window.short_code();
        assert_eq!(code.len(), 9);
        assert_eq!(&code[4..5], "-");
        assert_eq!(normalize_short_code(code).len(), 8);
        assert_eq!(normalize_short_code(" 1234 5678\n"), "12345678");
        let mut first_digits = std::collections::HashSet::new();
        for _ in 0..400 {
            first_digits.insert(random_short_code().unwrap().as_bytes()[0]);
        }
        assert_eq!(first_digits.len(), 10, "every leading digit occurs");
    }

    #[tokio::test(start_paused = true)]
    async fn a_used_window_cannot_be_consumed_again_and_wrong_code_exchanges_count() {
        let mut window = PairingWindow::open().unwrap();
        for _ in 0..4 {
            window.record_wrong_attempt();
        }
        window.consume().unwrap();
        assert_eq!(window.consume(), Err(ProtocolError::PairingClosed));
        let mut window = PairingWindow::open().unwrap();
        for _ in 0..5 {
            window.record_wrong_attempt();
        }
        assert_eq!(window.consume(), Err(ProtocolError::PairingLockedOut));
    }
}
