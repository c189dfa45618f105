//! The long-running parts of the app, started once the async runtime runs: the database and the phone
//! relay, and the tasks that carry the relay's news to the snapshot (tray), to the phones (what the desktop
//! shows) and to the user (notifications).

use std::sync::{Arc, Mutex};

use caret_core::CaretState;
use caret_engine::{Engine, EngineConfig, EngineEvent, SystemClock};
use caret_relay::protocol::ShownStatus;
use caret_relay::{PairingOffer, PhoneFeed, Relay, RelayConfig, RelayEvent, RelayIdentity};
use caret_slack::SlackClient;
use caret_store::{Device, Store};
use serde::Serialize;
use ts_rs::TS;

use crate::core::{AppCore, PhoneLink, Snapshot};
use crate::error::{AppError, Result};
use crate::notify;
use crate::tokens::KeyringTokens;

/// The database file in the data directory.
pub const DATABASE_FILE: &str = "caret.db";

/// How long one Slack call may take before it counts as failed (and is retried by the engine).
const SLACK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

pub struct Services {
    pub store: Store,
    /// The sync engine: phone states and manual statuses in, Slack statuses out.
    pub engine: Engine,
    pub(crate) slack: SlackClient,
    pub(crate) tokens: Arc<KeyringTokens>,
    /// The async runtime the services run on, for work started from the GUI thread.
    pub runtime: tokio::runtime::Handle,
    settings_changes: Mutex<()>,
    /// Rung when a workspace is connected, disconnected or its settings saved, for the snapshot's lines.
    workspaces_changed: Arc<tokio::sync::Notify>,
    relay: std::result::Result<Relay, String>,
    /// Which networks phones can reach the relay on (its LAN listeners follow it).
    pub(crate) reach: crate::reach::ReachControl,
    /// The pairing window last opened, for the Phones window to show until it is used or expires.
    current_pairing: Arc<Mutex<Option<PairingView>>>,
    loopback_only: bool,
    /// The browser sign-in in progress, if any.
    pub(crate) oauth: crate::oauth::OAuthFlows,
}

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
    pub reach: crate::reach::ReachView,
    pub devices: Vec<DeviceView>,
    /// The open pairing window, if any (used-up and expired ones are gone).
    pub pairing: Option<PairingView>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("relay", &self.relay)
            .finish_non_exhaustive()
    }
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

fn machine_names() -> Vec<String> {
    let mut names = vec!["caret.local".to_owned(), "localhost".to_owned()];
    if let Ok(hostname) = std::fs::read_to_string("/etc/hostname") {
        let hostname = hostname.trim();
        if !hostname.is_empty() {
            names.insert(0, format!("{hostname}.local"));
        }
    }
    names
}

impl Services {
    /// Opens the database and starts the relay. A relay that cannot start (its port taken) is not fatal:
    /// the app runs on, says why, and phones cannot connect until it is fixed.
    pub async fn start(core: &AppCore) -> Result<Services> {
        let paths = &core.config().paths;
        let store = Store::open(&paths.data_dir.join(DATABASE_FILE))?;
        let slack = SlackClient::new(core.config().slack_api_url.clone(), SLACK_TIMEOUT)?;
        let tokens = KeyringTokens::new(store.clone(), slack.clone());
        let engine = Engine::start(EngineConfig::new(
            slack.clone(),
            store.clone(),
            Arc::new(SystemClock),
            tokens.clone(),
        ))?;
        let choice = crate::preferences::load(&core.config().paths)
            .map(|preferences| preferences.phone_reach)
            .unwrap_or_default();
        let reach = crate::reach::ReachControl::new(choice, core.config().relay.loopback_only);
        let relay = Self::start_relay(core, &store, &reach).await.map_err(|error| {
            tracing::error!("the phone relay is not running: {error}");
            error.to_string()
        });
        let services = Services {
            store,
            engine,
            slack,
            tokens,
            runtime: tokio::runtime::Handle::current(),
            settings_changes: Mutex::new(()),
            workspaces_changed: Arc::new(tokio::sync::Notify::new()),
            relay,
            reach,
            current_pairing: Arc::new(Mutex::new(None)),
            loopback_only: core.config().relay.loopback_only,
            oauth: crate::oauth::OAuthFlows::default(),
        };
        crate::tokens::spawn_rotation(services.tokens.clone());
        if let Ok(relay) = &services.relay {
            spawn_phone_feed(
                core.clone(),
                services.store.clone(),
                services.engine.clone(),
                relay.phone_feed(),
                relay.events(),
            );
            spawn_status_push(
                core.clone(),
                services.store.clone(),
                services.engine.subscribe(),
                relay,
            );
            spawn_relay_events(core.clone(), relay.events(), services.current_pairing.clone());
            crate::reach::spawn(
                core.clone(),
                services.store.clone(),
                services.reach.clone(),
                relay.events(),
            );
        }
        spawn_engine_notifications(core.clone(), services.engine.subscribe());
        let paused = services
            .store
            .load_input::<bool>(caret_engine::PAUSED_KEY)
            .ok()
            .flatten()
            .unwrap_or(false);
        core.update(|snapshot| snapshot.paused = paused);
        services.workspaces_changed();
        spawn_workspace_refresh(
            core.clone(),
            services.store.clone(),
            services.engine.subscribe(),
            services.workspaces_changed.clone(),
        );
        // A manual status set before a restart still shows in the tray until it ends.
        let persisted = services
            .store
            .load_input::<Option<caret_core::ManualStatus>>(caret_engine::MANUAL_KEY)
            .ok()
            .flatten()
            .flatten()
            .filter(|manual| manual.is_active(chrono::Utc::now()));
        if persisted.is_some() {
            crate::apply::show_manual(core, persisted);
        }
        Ok(services)
    }

    async fn start_relay(core: &AppCore, store: &Store, reach: &crate::reach::ReachControl) -> Result<Relay> {
        let settings = core.config().relay;
        let identity = RelayIdentity::load_or_create(&core.config().paths.data_dir, &machine_names())?;
        // Open to the LAN from the first moment only where it will stay open; the deciding task takes over.
        let network_known = caret_relay::network::current_network()
            .is_some_and(|network| store.is_known_network(&network.id).unwrap_or(false));
        let config = RelayConfig {
            port: settings.port,
            loopback_only: settings.loopback_only,
            on_lan: crate::reach::lan_wanted(reach.choice(), settings.loopback_only, network_known, false),
            ..RelayConfig::default()
        };
        Ok(Relay::start(config, &identity, store.clone()).await?)
    }

    /// Tells the snapshot's refresher that the workspaces changed (their policies, their connection).
    pub fn workspaces_changed(&self) {
        self.workspaces_changed.notify_one();
    }

    /// Held while a workspace's settings are read, changed and saved.
    pub(crate) fn lock_settings(&self) -> std::sync::MutexGuard<'_, ()> {
        lock(&self.settings_changes)
    }

    pub fn relay(&self) -> Result<&Relay> {
        self.relay
            .as_ref()
            .map_err(|why| AppError::Refused(format!("the phone relay is not running: {why}")))
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
        *lock(&self.current_pairing) = Some(view.clone());
        Ok(view)
    }

    pub fn cancel_pairing(&self) -> Result<()> {
        self.relay()?.cancel_pairing();
        self.reach.pairing_changed();
        *lock(&self.current_pairing) = None;
        Ok(())
    }

    /// Where phones can reach this computer now, and why.
    pub fn reach(&self) -> crate::reach::ReachView {
        self.reach.view()
    }

    /// Changes where phones can reach this computer; saved in the preferences. Answers once the relay has
    /// followed.
    pub async fn set_phone_reach(
        &self,
        paths: &crate::config::AppPaths,
        choice: crate::reach::PhoneReach,
    ) -> Result<crate::reach::ReachView> {
        let mut preferences = crate::preferences::load_or_reset(paths)?;
        preferences.phone_reach = choice;
        crate::preferences::save(paths, &preferences)?;
        self.reach.set_choice(choice);
        Ok(self.reach.settled_view(std::time::Duration::from_secs(2)).await)
    }

    /// Forgets one known network (by its id) or all of them: the relay closes to the LAN there until a phone
    /// is paired on it again.
    /// An id may be shortened to any unique start of it (the CLI shows 12 characters).
    pub async fn forget_networks(&self, id: Option<&str>) -> Result<crate::reach::ReachView> {
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
                        return Err(AppError::Refused(format!(
                            "no known network has the id {prefix:?}"
                        )));
                    }
                    _ => {
                        return Err(AppError::Refused(format!(
                            "{prefix:?} starts more than one known network's id: give more of it"
                        )));
                    }
                }
            }
        }
        Ok(self.reach.looked_again(std::time::Duration::from_secs(2)).await)
    }

    /// The open pairing window, unless it was used, locked out by wrong codes, cancelled or has expired.
    pub fn current_pairing(&self) -> Option<PairingView> {
        let still_open = self.relay.as_ref().is_ok_and(Relay::pairing_open);
        let mut current = lock(&self.current_pairing);
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
                problem: Some(problem.clone()),
                port: None,
                addresses: Vec::new(),
                fingerprint: None,
                loopback_only: self.loopback_only,
            },
        }
    }

    pub fn phones(&self) -> Result<PhonesView> {
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

    /// Stops cleanly: the sync engine first (so that the phones leaving is not taken for the phone going
    /// offline, and the phone's state is recorded as still holding for the next start), then the relay
    /// (phones are told `shutting_down`).
    pub async fn stop(&self) {
        self.engine.shutdown().await;
        if let Ok(relay) = &self.relay {
            let untold = relay.shutdown_gracefully(caret_relay::SHUTDOWN_DEADLINE).await;
            if untold > 0 {
                tracing::warn!(
                    "{untold} phone connection(s) did not take the goodbye in time; closed anyway"
                );
            }
        }
    }
}

/// Starts the services, attaches them to the core and opens the control socket. A control socket that
/// cannot open is logged (the CLI then cannot reach this instance) but does not stop the app.
pub async fn start_all(core: &AppCore) -> Result<()> {
    let services = Services::start(core).await?;
    core.attach_services(services);
    if let Err(error) = crate::control::start(core.clone()) {
        tracing::error!("the command line cannot reach this instance: {error}");
    }
    Ok(())
}

fn device_view(device: Device, online: &[String]) -> DeviceView {
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

/// What the tray's phone line says, from the relay's feed and whether any device is paired.
pub fn phone_link(feed: &PhoneFeed, any_device_paired: bool) -> PhoneLink {
    match (&feed.state, any_device_paired || !feed.online.is_empty()) {
        (Some(state), _) => PhoneLink::Connected { state: state.clone() },
        (None, true) => PhoneLink::Offline,
        (None, false) => PhoneLink::NotPaired,
    }
}

fn any_active_device(store: &Store) -> bool {
    store
        .devices()
        .map(|devices| devices.iter().any(|device| device.revoked_at_ms.is_none()))
        .unwrap_or(false)
}

/// Carries the relay's feed to the sync engine (the phone's state, or `None` when every phone is gone: then
/// the engine's rules take over) and to the snapshot's phone line, which pairings and revocations also
/// change ("No phone paired yet" ↔ "Phone offline") without the feed changing.
fn spawn_phone_feed(
    core: AppCore,
    store: Store,
    engine: Engine,
    mut feed: tokio::sync::watch::Receiver<PhoneFeed>,
    mut events: tokio::sync::broadcast::Receiver<RelayEvent>,
) {
    tokio::spawn(async move {
        // What the engine was last told: the state, and when it stops holding by itself.
        let mut told_engine: Option<Told> = None;
        let mut phone_came = false;
        loop {
            let current = feed.borrow_and_update().clone();
            phone_came |= !current.online.is_empty();
            if should_tell_engine(told_engine.as_ref(), &current, phone_came) {
                match engine.set_phone_state_until(current.state.clone(), current.holds_until) {
                    Ok(()) => {}
                    // The app is stopping: the engine stopped first, on purpose (see `Services::stop`).
                    Err(caret_engine::EngineError::Stopped) => return,
                    Err(error) => tracing::error!("the sync engine did not take the phone's state: {error}"),
                }
                told_engine = Some((current.state.clone(), current.holds_until));
            }
            let link = phone_link(&current, any_active_device(&store));
            core.update(|snapshot| snapshot.phone = link);
            tokio::select! {
                changed = feed.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                event = events.recv() => {
                    if matches!(event, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                        return;
                    }
                }
            }
        }
    });
}

/// Whether the feed's news is news to the engine. Until a phone connects after the start, "no phone state"
/// means "not back yet", not "gone": the engine keeps the state it restored from before the restart (until
/// it runs out) rather than clearing Slack and setting the same status again when the phone reconnects. A
/// phone that connects and leaves without reporting does count as gone.
fn should_tell_engine(told: Option<&Told>, feed: &PhoneFeed, phone_had_come: bool) -> bool {
    match (told, &feed.state) {
        (Some((state, holds_until)), _) => *state != feed.state || *holds_until != feed.holds_until,
        (None, Some(_)) => true,
        (None, None) => phone_had_come && feed.online.is_empty(),
    }
}

/// The phone's state as the engine was told it, and when it stops holding by itself.
type Told = (Option<CaretState>, Option<chrono::DateTime<chrono::Utc>>);

/// Notification bodies may be read as markup (the freedesktop spec allows a subset of HTML): a device
/// name is the phone's text, shown as text.
fn escape_markup(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The state the desktop acts on now: a manual status wins over the phone.
pub fn effective_state(snapshot: &Snapshot) -> Option<CaretState> {
    snapshot.effective_state(chrono::Utc::now())
}

/// What each connected workspace shows now, as the engine last confirmed it (a workspace showing nothing
/// of ours is left out).
fn shown_statuses(store: &Store) -> Vec<ShownStatus> {
    let Ok(workspaces) = store.workspaces() else {
        return Vec::new();
    };
    workspaces
        .into_iter()
        .filter(|workspace| workspace.connected)
        .filter_map(|workspace| {
            let applied = store.sync_state(workspace.id).ok()?.applied_status?;
            Some(ShownStatus {
                workspace: workspace.team_name,
                text: applied.text,
                emoji: applied.emoji,
            })
        })
        .collect()
}

/// Every workspace with its policy and what it shows of ours now; `None` when the store cannot say (the
/// lines shown stay as they were rather than emptying the tray's menu).
fn workspace_lines(store: &Store) -> Option<Vec<crate::core::WorkspaceLine>> {
    let workspaces = match store.workspaces() {
        Ok(workspaces) => workspaces,
        Err(error) => {
            tracing::error!("cannot list workspaces for the tray: {error}");
            return None;
        }
    };
    let now = chrono::Utc::now();
    workspaces
        .into_iter()
        .map(|workspace| {
            let shows = store
                .sync_state(workspace.id)
                .ok()
                .and_then(|state| state.applied_status)
                .map(|applied| crate::core::ShownText {
                    text: applied.text,
                    emoji: applied.emoji,
                });
            // A timed block that has run out is no block: the menu must not keep it checked.
            let mut policy = workspace.settings.policy;
            if policy.next_change(now).is_none() && policy.effective(now) != caret_core::Policy::Blocked {
                policy.blocked = None;
            }
            crate::core::WorkspaceLine {
                id: workspace.id,
                team: workspace.team_name,
                connected: workspace.connected,
                needs_user: !workspace.connected
                    && workspace.disconnect_reason.as_deref()
                        != Some(crate::workspaces::DISCONNECTED_BY_USER),
                policy,
                effective_policy: policy.effective(now),
                shows,
            }
        })
        .collect::<Vec<_>>()
        .into()
}

/// Keeps the snapshot's workspace lines current: after every engine event but the sync log's own (a sync,
/// a disconnection, a block that ended…).
fn spawn_workspace_refresh(
    core: AppCore,
    store: Store,
    mut events: tokio::sync::broadcast::Receiver<EngineEvent>,
    changed: Arc<tokio::sync::Notify>,
) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    Ok(EngineEvent::Logged { .. }) => continue,
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
                () = changed.notified() => {}
            }
            // The only writer of the lines: every change (a sync, a policy, a connection) rings it, so two
            // writers can never put an older reading over a newer one.
            if let Some(lines) = workspace_lines(&store) {
                core.update(|snapshot| snapshot.workspaces = lines);
            }
        }
    });
}

/// Waits for an engine event after which a workspace may show something else: a confirmed sync, a
/// disconnection, or a lag that may have hidden one. `false` when the engine is gone.
async fn next_shown_change(events: &mut tokio::sync::broadcast::Receiver<EngineEvent>) -> bool {
    loop {
        match events.recv().await {
            Ok(EngineEvent::Synced { .. } | EngineEvent::Disconnected { .. })
            | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return true,
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return false,
        }
    }
}

/// Tells connected phones what the desktop makes of things: the state it acts on, and what each workspace
/// shows, whenever either changes.
fn spawn_status_push(
    core: AppCore,
    store: Store,
    mut engine_events: tokio::sync::broadcast::Receiver<EngineEvent>,
    relay: &Relay,
) {
    let mut snapshots = core.subscribe();
    let publish = relay.status_publisher();
    tokio::spawn(async move {
        loop {
            let effective = effective_state(&snapshots.borrow_and_update());
            publish(effective, shown_statuses(&store));
            tokio::select! {
                changed = snapshots.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                                relevant = next_shown_change(&mut engine_events) => {
                    if !relevant {
                        return;
                    }
                }
            }
        }
    });
}

/// Capitalises the first letter (Slack's explanations are written to follow a colon).
fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// What the user must hear about from the sync engine, as a notification: a workspace that needs them, a
/// Slack that stays unreachable, a timed Blocked that ended. `None` for the rest (the sync log has them).
/// Why a workspace is disconnected, for a person (lower case, no final stop): the notification and
/// `caret-desktop workspace list` say the same.
pub fn disconnect_explanation(reason: &str) -> String {
    match caret_slack::AuthFailure::from_code(reason) {
        // A rotating token is renewed before it expires, and once more when Slack refuses it.
        Some(caret_slack::AuthFailure::TokenExpired) => {
            "the token expired and Slack would not renew it".to_owned()
        }
        Some(failure) => failure.explanation().to_owned(),
        None => reason.to_owned(),
    }
}

pub fn engine_notification(event: &EngineEvent) -> Option<(String, String)> {
    match event {
        EngineEvent::Disconnected { team, reason, .. } => Some((
            format!("Slack disconnected: {team}"),
            format!(
                "{}. Your status there is no longer updated: connect the workspace again in Settings.",
                escape_markup(&capitalise(&disconnect_explanation(reason)))
            ),
        )),
        EngineEvent::MissingScope { team, scope, .. } => Some((
            format!("Slack needs a permission: {team}"),
            format!(
                "The token lacks {}: add it to your Slack app, reinstall it, and connect again in Settings.",
                escape_markup(scope)
            ),
        )),
        EngineEvent::Unreachable { team, .. } => Some((
            format!("Slack unreachable: {team}"),
            "Slack has not answered for a few minutes. Changes are kept and sent when it is back.".to_owned(),
        )),
        EngineEvent::BlockEnded { team, .. } => Some((
            format!("Sharing resumed: {team}"),
            "The timed Blocked ended; the previous policy applies again.".to_owned(),
        )),
        _ => None,
    }
}

/// What the app does about the engine's news besides notifications.
fn on_engine_event(core: &AppCore, services: &Services, event: &EngineEvent) {
    match event {
        // Scope drift: what Slack says is missing is what the UI shows as missing.
        EngineEvent::MissingScope { workspace, scope, .. } => {
            if let Err(error) = services.scope_missing(*workspace, scope) {
                tracing::warn!("cannot note the missing scope: {error}");
            }
        }
        // A dead token is neither handed out nor refreshed any more.
        EngineEvent::Disconnected { workspace, .. } => services.tokens.forget(*workspace),
        // A timed block ended by itself: the workspace sees more again, which the notices tell.
        EngineEvent::BlockEnded { workspace, .. } => {
            let Ok(record) = services.store.workspace(*workspace) else {
                return;
            };
            let event = crate::notices::SecurityEvent::PolicyLessPrivate {
                workspace: *workspace,
                before: caret_core::Policy::Blocked,
                after: record.settings.policy.effective(chrono::Utc::now()),
                source: caret_engine::Source::Engine,
            };
            let core = core.clone();
            tokio::spawn(async move {
                if let Ok(services) = core.services() {
                    services.send_security_notice(event).await;
                }
            });
        }
        _ => {}
    }
}

fn spawn_engine_notifications(core: AppCore, mut events: tokio::sync::broadcast::Receiver<EngineEvent>) {
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(event) => {
                    if let Ok(services) = core.services() {
                        on_engine_event(&core, services, &event);
                    }
                    if let Some((summary, body)) = engine_notification(&event) {
                        notify::show(&summary, &body).await;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!("{missed} engine events were missed; the sync log has them");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
}

/// Tells the user about what happened on the relay that they should know: a new device above all.
fn spawn_relay_events(
    core: AppCore,
    mut events: tokio::sync::broadcast::Receiver<RelayEvent>,
    current_pairing: Arc<Mutex<Option<PairingView>>>,
) {
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(RelayEvent::DevicePaired { device, .. }) => {
                    // The window is used up: the Phones window stops showing its QR code.
                    *lock(&current_pairing) = None;
                    notify::show(
                        "New phone paired",
                        &format!(
                            "\"{}\" can now send your state to Caret Desktop. Not you? Revoke it in Phones.",
                            escape_markup(&device.name)
                        ),
                    )
                    .await;
                    // Its own task: Slack's answers for each workspace must not hold up the relay's next events.
                    let core = core.clone();
                    let name = device.name.clone();
                    tokio::spawn(async move {
                        if let Ok(services) = core.services() {
                            let event = crate::notices::SecurityEvent::DevicePaired { name };
                            services.send_security_notice(event).await;
                        }
                    });
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!("{missed} relay events were missed; new pairings are in the sync log");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engine_events_that_need_the_user_become_notifications_and_the_rest_do_not() {
        let (summary, body) = engine_notification(&EngineEvent::Disconnected {
            workspace: 1,
            team: "Acme <Inc>".into(),
            reason: "token revoked".into(),
        })
        .expect("a notification");
        // The summary is plain text to notification daemons; only the body may be read as markup.
        assert_eq!(summary, "Slack disconnected: Acme <Inc>");
        assert!(body.starts_with("Token revoked.") && body.contains("Settings"));
        let (_, body) = engine_notification(&EngineEvent::Disconnected {
            workspace: 1,
            team: "Acme".into(),
            reason: "token_expired".into(),
        })
        .expect("a notification");
        assert!(
            body.starts_with("The token expired and Slack would not renew it."),
            "{body}"
        );
        let (_, body) = engine_notification(&EngineEvent::Disconnected {
            workspace: 1,
            team: "Acme".into(),
            reason: "token_revoked".into(),
        })
        .expect("a notification");
        assert!(body.starts_with("The token was revoked"), "{body}");
        assert!(engine_notification(&EngineEvent::Synced { workspace: 1 }).is_none());
        assert!(
            engine_notification(&EngineEvent::BlockEnded {
                workspace: 1,
                team: "Acme".into()
            })
            .is_some()
        );
    }

    #[test]
    fn a_device_name_is_shown_as_text_in_a_notification() {
        assert_eq!(
            escape_markup("<b>Ada</b> & co"),
            "&lt;b&gt;Ada&lt;/b&gt; &amp; co"
        );
    }

    #[test]
    fn the_phone_line_follows_the_feed_and_pairing() {
        let mut feed = PhoneFeed::default();
        assert_eq!(phone_link(&feed, false), PhoneLink::NotPaired);
        assert_eq!(phone_link(&feed, true), PhoneLink::Offline);
        feed.state = Some(CaretState::InCall);
        feed.online = vec!["d_1".into()];
        assert_eq!(
            phone_link(&feed, true),
            PhoneLink::Connected {
                state: CaretState::InCall
            }
        );
    }

    #[test]
    fn a_manual_status_wins_over_the_phone_in_what_is_pushed_back() {
        let mut snapshot = Snapshot {
            phone: PhoneLink::Connected {
                state: CaretState::Walking,
            },
            ..Snapshot::default()
        };
        assert_eq!(effective_state(&snapshot), Some(CaretState::Walking));
        snapshot.manual = Some(caret_core::ManualStatus {
            state: CaretState::Busy,
            until: None,
        });
        assert_eq!(effective_state(&snapshot), Some(CaretState::Busy));
        snapshot.manual = None;
        snapshot.phone = PhoneLink::Offline;
        assert_eq!(effective_state(&snapshot), None);
    }

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

    #[test]
    fn until_a_phone_connects_after_the_start_no_phone_is_not_news() {
        let nobody = PhoneFeed::default();
        assert!(
            !should_tell_engine(None, &nobody, false),
            "the restored state holds"
        );
        let connected = PhoneFeed {
            online: vec!["d_1".into()],
            ..PhoneFeed::default()
        };
        assert!(
            !should_tell_engine(None, &connected, true),
            "connected, its snapshot on the way"
        );
        assert!(
            should_tell_engine(None, &nobody, true),
            "a phone that came and left without a word is gone"
        );
        let reporting = PhoneFeed {
            state: Some(CaretState::InCall),
            from_device: Some("d_1".into()),
            holds_until: None,
            online: vec!["d_1".into()],
        };
        let told_in_call: Told = (Some(CaretState::InCall), None);
        assert!(should_tell_engine(None, &reporting, true));
        assert!(!should_tell_engine(Some(&told_in_call), &reporting, true));
        assert!(
            should_tell_engine(Some(&told_in_call), &nobody, true),
            "gone after reporting"
        );
        let posted_again = PhoneFeed {
            holds_until: chrono::DateTime::from_timestamp(1_800_000_000, 0),
            ..reporting.clone()
        };
        assert!(
            should_tell_engine(Some(&told_in_call), &posted_again, true),
            "the same state posted again, holding until later"
        );
    }
}
