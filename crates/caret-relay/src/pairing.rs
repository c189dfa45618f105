//! Device tokens and the pairing window.
//!
//! A paired phone holds a device id and a 256-bit token; the desktop keeps only the token's SHA-256 and
//! compares in constant time. Pairing is possible only while the user has opened a window on the desktop: a
//! one-time secret valid for two minutes, used once, and closed after five wrong attempts. (The QR code
//! carries the secret with the certificate fingerprint; the typed short code will be bound to the TLS channel
//! by a PAKE, see docs/relay-threat-model.md when it lands.)

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
        .map_err(|_| RelayError::Tls("the system random generator failed".into()))?;
    Ok(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
        let id = format!("d_{}", hex(&random_bytes::<8>()?));
        let token = hex(&random_bytes::<32>()?);
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
    /// Opens a window with a fresh 128-bit secret.
    pub fn open() -> Result<PairingWindow, RelayError> {
        Ok(PairingWindow {
            secret: hex(&random_bytes::<16>()?),
            expires_at: Instant::now() + PAIRING_WINDOW,
            wrong_attempts: 0,
            state: WindowState::Open,
        })
    }

    /// The secret, for the QR code the desktop shows.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    pub fn expires_at(&self) -> Instant {
        self.expires_at
    }

    /// Checks a secret a phone presents. Right: the window is used up (single use). Wrong: counted; the fifth
    /// wrong attempt closes the window.
    pub fn redeem(&mut self, presented: &str) -> Result<(), ProtocolError> {
        match self.state {
            WindowState::Used => return Err(ProtocolError::PairingClosed),
            WindowState::LockedOut => return Err(ProtocolError::PairingLockedOut),
            WindowState::Open => {}
        }
        if Instant::now() >= self.expires_at {
            return Err(ProtocolError::PairingExpired);
        }
        let right = bool::from(presented.as_bytes().ct_eq(self.secret.as_bytes()));
        if right {
            self.state = WindowState::Used;
            return Ok(());
        }
        self.wrong_attempts += 1;
        if self.wrong_attempts >= MAX_WRONG_ATTEMPTS {
            self.state = WindowState::LockedOut;
            return Err(ProtocolError::PairingLockedOut);
        }
        Err(ProtocolError::WrongPairingSecret {
            attempts_left: MAX_WRONG_ATTEMPTS - self.wrong_attempts,
        })
    }
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
}
