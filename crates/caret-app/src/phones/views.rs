//! The phones as the Phones window and the command line show them: the relay, the paired devices, the open
//! pairing window.

use caret_relay::PairingOffer;
use caret_store::Device;
use serde::Serialize;
use ts_rs::TS;

/// The relay as the Phones window shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, TS)]
#[ts(export)]
pub struct RelayView {
    pub running: bool,
    /// Why it is not running (e.g. its port is taken).
    pub problem: Option<String>,
    pub port: Option<u16>,
    pub addresses: Vec<String>,
    /// `AB:CD:…`
    pub fingerprint: Option<String>,
    pub loopback_only: bool,
}

/// Everything the Phones window shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, TS)]
#[ts(export)]
pub struct PhonesView {
    pub relay: RelayView,
    /// Which networks phones can reach this computer on, and whether this one is among them.
    pub reach: super::reach::ReachView,
    pub devices: Vec<DeviceView>,
    /// The open pairing window, if any (used-up and expired ones are gone).
    pub pairing: Option<PairingView>,
}

/// A pairing window as the UI and the CLI show it. `Debug` hides the link and the code (they pair a phone).
#[derive(Clone, PartialEq, Eq, Serialize, serde::Deserialize, TS)]
#[ts(export)]
pub struct PairingView {
    /// The link in the QR code (it carries the one-time secret: show it only in the pairing view).
    pub link: String,
    /// The QR code as an SVG document, made here so the UI needs no QR library.
    pub qr_svg: String,
    /// The short code to type on the phone instead (`1234-5678`).
    pub short_code: String,
    /// The relay certificate's SHA-256, `AB:CD:…`, to compare with what the phone shows.
    pub fingerprint: String,
    pub addresses: Vec<String>,
    pub port: u16,
    /// RFC 3339.
    pub expires_at: String,
}

impl std::fmt::Debug for PairingView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PairingView")
            .field("fingerprint", &self.fingerprint)
            .field("addresses", &self.addresses)
            .field("port", &self.port)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A paired device as the Devices list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, TS)]
#[ts(export)]
pub struct DeviceView {
    pub id: String,
    pub name: String,
    #[ts(type = "number")]
    pub paired_at_ms: i64,
    #[ts(type = "number | null")]
    pub last_seen_ms: Option<i64>,
    pub online: bool,
    pub revoked: bool,
}

pub(crate) fn device_view(device: Device, online: &[String]) -> DeviceView {
    DeviceView {
        online: online.contains(&device.id),
        revoked: device.revoked_at_ms.is_some(),
        id: device.id,
        // Cleaned when the phone paired; again here for names kept before that rule.
        name: caret_core::text::sanitize_free_text(&device.name),
        paired_at_ms: device.paired_at_ms,
        last_seen_ms: device.last_seen_ms,
    }
}

pub fn pairing_view(offer: &PairingOffer) -> PairingView {
    let qr_svg = qrcode::QrCode::with_error_correction_level(offer.qr_url.as_bytes(), qrcode::EcLevel::M)
        .map(|code| {
            code.render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(240, 240)
                .quiet_zone(true)
                .build()
        })
        .unwrap_or_default();
    PairingView {
        link: offer.qr_url.clone(),
        qr_svg,
        short_code: offer.short_code.clone(),
        fingerprint: offer.fingerprint.to_string(),
        addresses: offer.addresses.iter().map(ToString::to_string).collect(),
        port: offer.port,
        expires_at: offer
            .expires_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pairing_view_has_a_scannable_qr_code_and_the_colon_fingerprint() {
        let fingerprint = caret_relay::Fingerprint::of(b"certificate");
        let offer = PairingOffer {
            qr_url: format!(
                "https://192.168.1.5:47823/#pair=00ff&fp={}&hosts=192.168.1.5",
                fingerprint.hex()
            ),
            short_code: "1234-5678".into(),
            fingerprint,
            addresses: vec!["192.168.1.5".parse().unwrap()],
            port: 47823,
            expires_at: chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        };
        let view = pairing_view(&offer);
        assert!(
            view.qr_svg.starts_with("<?xml") && view.qr_svg.contains("<svg"),
            "{}",
            view.qr_svg
        );
        assert_eq!(view.fingerprint.len(), 95, "AB:CD:… form");
        assert_eq!(view.expires_at, "2027-01-15T08:00:00Z");
        assert_eq!(view.addresses, ["192.168.1.5"]);
    }
}
