//! The phones' side of the app: the relay they connect to, pairing, the paired devices, and which networks
//! they can reach this computer on.
//!
//! [`Phones`] is the one handle on it. It knows the relay and the store, nothing of the runtime around it.
//!
//! - [`views`]: the relay, devices and pairing window as the Phones window and the CLI show them.
//! - [`reach`]: the relay opens to the LAN on networks where a phone was paired (or as the user chose), and
//!   only there.

pub mod reach;
pub mod views;

use std::sync::Arc;

use caret_relay::{Relay, RelayConfig, RelayIdentity};
use caret_store::Store;
use parking_lot::Mutex;

use self::reach::{PhoneReach, ReachControl, ReachView};
use self::views::{DeviceView, PairingView, PhonesView, RelayView, device_view, pairing_view};
use crate::config::{AppConfig, AppPaths};
use crate::error::{AppError, Refusal, Result};

/// The handle on the phones' side. Clones share everything.
#[derive(Clone)]
pub struct Phones {
    store: Store,
    /// The relay, or why it is not running (its port taken): the app runs on without it.
    relay: std::result::Result<Arc<Relay>, Arc<AppError>>,
    /// Which networks phones can reach the relay on (its LAN listeners follow it).
    reach: ReachControl,
    /// The pairing window last opened, for the Phones window to show until it is used or expires.
    current_pairing: Arc<Mutex<Option<PairingView>>>,
    loopback_only: bool,
}

impl std::fmt::Debug for Phones {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Phones")
            .field("relay", &self.relay)
            .finish_non_exhaustive()
    }
}

/// The names the relay's certificate is made for: this machine's `.local` name (as mDNS announces it), then
/// the fixed ones.
fn machine_names() -> Vec<String> {
    let mut names = vec!["caret.local".to_owned(), "localhost".to_owned()];
    if let Some(hostname) = caret_relay::advertise::hostname() {
        names.insert(0, format!("{hostname}.local"));
    }
    names
}

impl Phones {
    /// Starts the relay. One that cannot start (its port taken) is not fatal: the app runs on, says why, and
    /// phones cannot connect until it is fixed.
    pub async fn start(config: &AppConfig, store: Store) -> Phones {
        let choice = crate::preferences::load(&config.paths)
            .map(|preferences| preferences.phone_reach)
            .unwrap_or_default();
        let control = ReachControl::new(choice, config.relay.loopback_only);
        let relay = start_relay(config, &store, &control)
            .await
            .map(Arc::new)
            .map_err(|error| {
                tracing::error!("the phone relay is not running: {error}");
                Arc::new(error)
            });
        if let Ok(relay) = &relay {
            reach::spawn(relay.clone(), store.clone(), control.clone(), relay.events());
        }
        Phones {
            store,
            relay,
            reach: control,
            current_pairing: Arc::new(Mutex::new(None)),
            loopback_only: config.relay.loopback_only,
        }
    }

    /// A new device paired: the pairing window is used up, and the Phones window stops showing its QR code.
    pub fn pairing_used(&self) {
        *self.current_pairing.lock() = None;
    }

    pub fn relay(&self) -> Result<&Relay> {
        self.relay.as_deref().map_err(|source| AppError::RelayNotRunning {
            source: source.clone(),
        })
    }

    /// Stops the relay: phones are told `shutting_down`.
    pub async fn stop(&self) {
        if let Ok(relay) = &self.relay {
            let untold = relay.shutdown_gracefully(caret_relay::SHUTDOWN_DEADLINE).await;
            if untold > 0 {
                tracing::warn!(
                    "{untold} phone connection(s) did not take the goodbye in time; closed anyway"
                );
            }
        }
    }

    /// Opens a pairing window (two minutes) and returns what to show. Unless phones may reach this computer
    /// only from itself, the relay is open to the LAN for the window (so that the QR code's addresses work
    /// on any network), and announced there.
    pub fn start_pairing(&self) -> Result<PairingView> {
        let relay = self.relay()?;
        let offer = {
            let _deciding = self.reach.hold();
            if self.reach.pairing_may_open_lan() {
                relay.set_lan_open(true);
            }
            relay.start_pairing()?
        };
        self.reach.pairing_changed();
        let view = pairing_view(&offer);
        *self.current_pairing.lock() = Some(view.clone());
        Ok(view)
    }

    pub fn cancel_pairing(&self) -> Result<()> {
        self.relay()?.cancel_pairing();
        self.reach.pairing_changed();
        *self.current_pairing.lock() = None;
        Ok(())
    }

    /// Where phones can reach this computer now, and why.
    pub fn reach(&self) -> ReachView {
        self.reach.view()
    }

    /// Changes where phones can reach this computer; saved in the preferences. Answers once the relay has
    /// followed.
    pub async fn set_phone_reach(&self, paths: &AppPaths, choice: PhoneReach) -> Result<ReachView> {
        let mut preferences = crate::preferences::load_or_reset(paths)?;
        preferences.phone_reach = choice;
        crate::preferences::save(paths, &preferences)?;
        self.reach.set_choice(choice);
        Ok(self.reach.settled_view(std::time::Duration::from_secs(2)).await)
    }

    /// Forgets one known network (by its id) or all of them: the relay closes to the LAN there until a phone
    /// is paired on it again.
    /// An id may be shortened to any unique start of it (the CLI shows 12 characters).
    pub async fn forget_networks(&self, id: Option<&str>) -> Result<ReachView> {
        match id {
            None => {
                self.store.forget_known_networks(None)?;
            }
            Some(prefix) => {
                let matching: Vec<String> = self
                    .store
                    .known_networks()?
                    .into_iter()
                    .map(|network| network.id)
                    .filter(|id| !prefix.is_empty() && id.starts_with(prefix))
                    .collect();
                match matching.as_slice() {
                    [id] => {
                        self.store.forget_known_networks(Some(id))?;
                    }
                    [] => {
                        return Err(AppError::Refused(Refusal::UnknownNetwork {
                            prefix: prefix.to_owned(),
                        }));
                    }
                    _ => {
                        return Err(AppError::Refused(Refusal::AmbiguousNetwork {
                            prefix: prefix.to_owned(),
                        }));
                    }
                }
            }
        }
        Ok(self.reach.looked_again(std::time::Duration::from_secs(2)).await)
    }

    /// The open pairing window, unless it was used, locked out by wrong codes, cancelled or has expired.
    pub fn current_pairing(&self) -> Option<PairingView> {
        let still_open = self.relay.as_ref().is_ok_and(|relay| relay.pairing_open());
        let mut current = self.current_pairing.lock();
        if !still_open {
            *current = None;
        }
        current.clone()
    }

    pub fn relay_view(&self) -> RelayView {
        match &self.relay {
            Ok(relay) => RelayView {
                running: true,
                problem: None,
                port: Some(relay.local_addr().port()),
                addresses: relay.addresses().iter().map(ToString::to_string).collect(),
                fingerprint: Some(relay.fingerprint().to_string()),
                loopback_only: self.loopback_only,
            },
            Err(problem) => RelayView {
                running: false,
                problem: Some(problem.to_string()),
                port: None,
                addresses: Vec::new(),
                fingerprint: None,
                loopback_only: self.loopback_only,
            },
        }
    }

    /// Everything the Phones window shows.
    pub fn view(&self) -> Result<PhonesView> {
        Ok(PhonesView {
            relay: self.relay_view(),
            reach: self.reach(),
            devices: self.devices()?,
            pairing: self.current_pairing(),
        })
    }

    pub fn devices(&self) -> Result<Vec<DeviceView>> {
        let online = match &self.relay {
            Ok(relay) => relay.phone_feed().borrow().online.clone(),
            Err(_) => Vec::new(),
        };
        Ok(self
            .store
            .devices()?
            .into_iter()
            .map(|device| device_view(device, &online))
            .collect())
    }

    /// Revokes a device; its open connection closes at once.
    pub fn revoke(&self, device_id: &str) -> Result<bool> {
        match &self.relay {
            Ok(relay) => Ok(relay.revoke(device_id)?),
            Err(_) => Ok(self
                .store
                .revoke_device(device_id, chrono::Utc::now().timestamp_millis())?),
        }
    }
}

async fn start_relay(config: &AppConfig, store: &Store, control: &ReachControl) -> Result<Relay> {
    let settings = config.relay;
    let identity = RelayIdentity::load_or_create(&config.paths.data_dir, &machine_names())?;
    // Open to the LAN from the first moment only where it will stay open; the deciding task takes over.
    let network_known = caret_relay::network::current_network()
        .is_some_and(|network| store.is_known_network(&network.id).unwrap_or(false));
    let relay_config = RelayConfig {
        port: settings.port,
        loopback_only: settings.loopback_only,
        on_lan: reach::lan_wanted(control.choice(), settings.loopback_only, network_known, false),
        ..RelayConfig::default()
    };
    Ok(Relay::start(relay_config, &identity, store.clone()).await?)
}
