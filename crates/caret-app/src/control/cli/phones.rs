//! `caret-desktop pair`, `devices` and `revoke`: the paired phones.

use clap::Args;
use qrcode::render::unicode::Dense1x2;

use super::unexpected_answer;
use crate::config::AppConfig;
use crate::control::{ControlRequest, ControlResponse, request};
use crate::error::Result;
use crate::phones::views::{DeviceView, PairingView};

/// Start pairing a phone: prints the QR code to scan and the short code to type (valid two minutes).
#[derive(Debug, Clone, Args)]
pub struct Pair {
    /// Print the pairing as JSON (link, short code, fingerprint, expiry).
    #[arg(long)]
    json: bool,
}

impl Pair {
    pub async fn run(self, config: &AppConfig) -> Result<()> {
        let ControlResponse::Pairing { pairing } =
            request(&config.paths, &ControlRequest::StartPairing).await?
        else {
            return Err(unexpected_answer());
        };
        if self.json {
            println!("{}", serde_json::to_string(&pairing).unwrap_or_default());
        } else {
            print!("{}", pairing_text(&pairing));
        }
        Ok(())
    }
}

/// List paired phones.
#[derive(Debug, Clone, Args)]
pub struct Devices {
    #[arg(long)]
    json: bool,
}

impl Devices {
    pub async fn run(self, config: &AppConfig) -> Result<()> {
        let ControlResponse::Devices { devices } = request(&config.paths, &ControlRequest::Devices).await?
        else {
            return Err(unexpected_answer());
        };
        if self.json {
            for device in &devices {
                println!("{}", serde_json::to_string(device).unwrap_or_default());
            }
        } else {
            print!("{}", devices_text(&devices));
        }
        Ok(())
    }
}

/// Revoke a phone: its token stops working at once, also on an open connection.
#[derive(Debug, Clone, Args)]
pub struct Revoke {
    device_id: String,
}

impl Revoke {
    pub async fn run(self, config: &AppConfig) -> Result<()> {
        let device_id = self.device_id;
        let answer = request(
            &config.paths,
            &ControlRequest::Revoke {
                device_id: device_id.clone(),
            },
        )
        .await?;
        match answer {
            ControlResponse::Revoked { revoked: true } => println!("Revoked {device_id}."),
            _ => println!("{device_id} was not an active device; nothing changed."),
        }
        Ok(())
    }
}

/// The pairing as a person reads it in a terminal: the QR code, then the code and the fingerprint.
fn pairing_text(pairing: &PairingView) -> String {
    let qr = qrcode::QrCode::new(pairing.link.as_bytes())
        .map(|code| code.render::<Dense1x2>().quiet_zone(true).build())
        .unwrap_or_default();
    format!(
        "{qr}\nScan this with the phone's camera, or type the code {code} in caret-phone (caret-phone pair --code).\n\
         Valid until {expires} (one phone, one use).\n\
         Desktop address: {addresses} port {port}\n\
         Certificate fingerprint (the phone must show the same):\n  {fingerprint}\n",
        code = pairing.short_code,
        expires = pairing.expires_at,
        addresses = pairing.addresses.join(", "),
        port = pairing.port,
        fingerprint = pairing.fingerprint,
    )
}

fn format_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|time| {
            time.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|| "?".into())
}

fn devices_text(devices: &[DeviceView]) -> String {
    if devices.is_empty() {
        return "No phone paired yet. Run `caret-desktop pair`.\n".into();
    }
    let mut text = String::new();
    for device in devices {
        let status = if device.revoked {
            "revoked".to_owned()
        } else if device.online {
            "online".to_owned()
        } else {
            match device.last_seen_ms {
                Some(ms) => format!("last seen {}", format_time(ms)),
                None => "never connected".to_owned(),
            }
        };
        text.push_str(&format!(
            "{}  {:<24}  paired {}  {}\n",
            device.id,
            device.name,
            format_time(device.paired_at_ms),
            status
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_device_list_says_who_is_online_revoked_or_never_seen() {
        let device = DeviceView {
            id: "d_1".into(),
            name: "Pixel".into(),
            paired_at_ms: 0,
            last_seen_ms: None,
            online: false,
            revoked: false,
        };
        let text = devices_text(&[
            device.clone(),
            DeviceView {
                online: true,
                ..device.clone()
            },
            DeviceView {
                revoked: true,
                ..device
            },
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].ends_with("never connected"));
        assert!(lines[1].ends_with("online"));
        assert!(lines[2].ends_with("revoked"));
        assert!(devices_text(&[]).contains("caret-desktop pair"));
    }
}
