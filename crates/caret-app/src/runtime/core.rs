//! [`AppCore`]: the running app's state, shared by the tray, the windows and the headless mode.
//!
//! Observers (the tray menu, the UI) subscribe to [`Snapshot`]s through a `tokio::sync::watch` channel, so a
//! change is shown everywhere without anyone polling.

use std::sync::Arc;

use caret_core::{
    CaretState, DesktopSignals, Inputs, ManualStatus, Origin, Policy, PolicySetting, StatusInput,
    choose_input,
};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use ts_rs::TS;

use crate::config::AppConfig;

/// What we know of the phone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "link", rename_all = "snake_case")]
#[ts(export)]
pub enum PhoneLink {
    /// No phone has been paired with this desktop yet.
    #[default]
    NotPaired,
    /// A phone is paired but not connected (no heartbeat).
    Offline,
    /// A connected phone and the state it reported last.
    Connected { state: CaretState },
}

/// What one workspace's Slack shows of ours, as the engine last confirmed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ShownText {
    pub text: String,
    pub emoji: String,
}

/// A workspace as the tray lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct WorkspaceLine {
    #[ts(type = "number")]
    pub id: i64,
    pub team: String,
    pub connected: bool,
    /// Disconnected by Slack (token revoked or expired), not by the user: the tray's badge asks for attention.
    pub needs_user: bool,
    /// As set, with a timed block that has run out already removed.
    pub policy: PolicySetting,
    pub effective_policy: Policy,
    /// `None`: no status of ours in this workspace.
    pub shows: Option<ShownText>,
}

impl WorkspaceLine {
    /// The read-only tray line: what this workspace's Slack shows.
    pub fn tray_line(&self) -> String {
        if !self.connected {
            return format!("{}: disconnected — reconnect in Settings", self.team);
        }
        match (&self.shows, self.effective_policy) {
            (_, Policy::Blocked) => format!("{}: blocked, shows nothing", self.team),
            (Some(shown), _) => format!("{} shows “{}”", self.team, shown.text),
            (None, _) => format!("{} shows no status", self.team),
        }
    }
}

/// Everything observers show about the app at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct Snapshot {
    pub phone: PhoneLink,
    pub manual: Option<ManualStatus>,
    /// Syncing to Slack is paused by the user.
    pub paused: bool,
    pub workspaces: Vec<WorkspaceLine>,
    /// What the desktop's own sources the user turned on see (a microphone in use).
    pub desktop: DesktopSignals,
    /// The input in force when the snapshot last changed, chosen by the engine's rule
    /// ([`caret_core::choose_input`]) from what the snapshot knows (kept current by [`AppCore::update`]): what
    /// the windows say you are, and where that comes from.
    pub input: Option<StatusInput>,
}

impl Snapshot {
    /// The input in force, as the engine chooses it ([`caret_core::choose_input`]): a manual status first,
    /// then a call from any source, then the phone; `None` when nothing is known.
    pub fn effective_input(&self, now: chrono::DateTime<chrono::Utc>) -> Option<StatusInput> {
        let phone = match &self.phone {
            PhoneLink::Connected { state } => Some(state),
            PhoneLink::NotPaired | PhoneLink::Offline => None,
        };
        choose_input(
            Inputs {
                manual: self.manual.as_ref(),
                phone,
                desktop: &self.desktop,
            },
            now,
        )
    }

    /// The state the tray icon shows (see [`Snapshot::effective_input`]).
    pub fn effective_state(&self, now: chrono::DateTime<chrono::Utc>) -> Option<CaretState> {
        self.effective_input(now).map(|input| input.state)
    }

    /// Whether any workspace needs the user (Slack refused its token); one the user disconnected does not.
    pub fn any_disconnected(&self) -> bool {
        self.workspaces.iter().any(|workspace| workspace.needs_user)
    }

    /// The tray menu's first lines (the state, then a line per workspace) and the facts behind them.
    pub fn report(&self, now: chrono::DateTime<chrono::Utc>) -> StateReport {
        let lines = std::iter::once(self.state_line())
            .chain(self.workspaces.iter().map(WorkspaceLine::tray_line))
            .collect();
        let manual = self.manual.as_ref().filter(|manual| manual.is_active(now));
        let input = self.effective_input(now);
        StateReport {
            lines,
            state: input.as_ref().map(|input| input.state.kind()),
            source: input.map(|input| input.source().name().to_owned()),
            until: manual
                .and_then(|manual| manual.until)
                .map(|until| until.to_rfc3339()),
            paused: self.paused,
            workspaces: self.workspaces.clone(),
        }
    }

    /// The read-only first line of the tray menu: what Caret Desktop believes your state is.
    pub fn state_line(&self) -> String {
        let line = self.input_line();
        // The lock makes Slack's presence away whatever the state, where anything is shared: the line says so
        // (as `state` prints it), and not when nothing is sent (paused, every workspace blocked or gone).
        let away_somewhere = !self.paused
            && self
                .workspaces
                .iter()
                .any(|workspace| workspace.connected && workspace.effective_policy != Policy::Blocked);
        // Off work counts unless a status the person chose speaks (caret_core::decide_inputs).
        let chosen = self
            .manual
            .as_ref()
            .is_some_and(|manual| manual.is_active(chrono::Utc::now()));
        let off_work = self.desktop.off_hours.is_some() && !chosen;
        let why = match (self.desktop.screen_locked, off_work) {
            (true, true) => "screen locked, off work",
            (true, false) => "screen locked",
            (false, true) => "off work",
            (false, false) => return line,
        };
        if away_somewhere {
            format!("{line} · away ({why})")
        } else {
            line
        }
    }

    fn input_line(&self) -> String {
        if let Some(manual) = &self.manual {
            return format!("Status: {} (set by you)", manual.state.kind().label());
        }
        // A source of the desktop's own that wins over the phone says so: "Status: In a call (microphone)".
        if let Some(input) = self.effective_input(chrono::Utc::now())
            && let Origin::Desktop { .. } = input.origin
        {
            return format!(
                "Status: {} ({})",
                input.state.kind().label(),
                input.source().label()
            );
        }
        match &self.phone {
            PhoneLink::NotPaired => "No phone paired yet".to_owned(),
            PhoneLink::Offline => "Phone offline".to_owned(),
            PhoneLink::Connected { state } => format!("Phone: {}", state.kind().label()),
        }
    }
}

/// What `caret-desktop state` prints: the tray menu's first lines, and the same facts for scripts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateReport {
    /// The tray menu's first lines, in its words: the state, then what each workspace's Slack shows.
    pub lines: Vec<String>,
    /// The state in force (a status set by hand wins over the phone's); `None` when none is known.
    pub state: Option<caret_core::StateKind>,
    /// Where it comes from: "you" (set by hand), "phone", or the desktop's source ("microphone", "camera",
    /// "calendar"); `None` with no state.
    pub source: Option<String>,
    /// When a status set by hand ends (RFC 3339); `None` for the phone's, or one set until cleared.
    pub until: Option<String>,
    /// Nothing is written to Slack until syncing is resumed.
    pub paused: bool,
    pub workspaces: Vec<WorkspaceLine>,
}

/// Facts about the running app the UI shows in its About section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct AppInfo {
    pub version: String,
    pub headless: bool,
    pub config_dir: String,
    pub data_dir: String,
    pub slack_api_url: String,
    pub state_line: String,
}

/// A cheap-to-clone handle on the running app.
#[derive(Clone)]
pub struct AppCore {
    inner: Arc<Inner>,
}

struct Inner {
    config: AppConfig,
    headless: bool,
    snapshot: watch::Sender<Snapshot>,
    /// Attached once the async runtime runs (see [`crate::runtime::services`]).
    services: std::sync::OnceLock<crate::runtime::services::Services>,
    /// Carries out the actions only the tray app can (windows, quitting), for the control socket. Unset when
    /// headless.
    shell: std::sync::OnceLock<ShellHandler>,
    /// The link to the process that shows the windows. Unset when headless.
    window_host: std::sync::OnceLock<Arc<crate::control::host::HostLink>>,
}

/// The shell's handler for the actions that need a display.
pub type ShellHandler = Box<dyn Fn(crate::action::Action) + Send + Sync>;

impl AppCore {
    pub fn new(config: AppConfig, headless: bool) -> AppCore {
        let (snapshot, _) = watch::channel(Snapshot::default());
        AppCore {
            inner: Arc::new(Inner {
                config,
                headless,
                snapshot,
                services: std::sync::OnceLock::new(),
                shell: std::sync::OnceLock::new(),
                window_host: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Attaches the started services; only the first call counts.
    pub fn attach_services(&self, services: crate::runtime::services::Services) {
        if self.inner.services.set(services).is_err() {
            tracing::warn!("services were already attached; the second set is ignored");
        }
    }

    /// Registers the tray app's handler for window and quit actions; only the first call counts.
    pub fn attach_shell(&self, handler: ShellHandler) {
        if self.inner.shell.set(handler).is_err() {
            tracing::warn!("a shell was already attached; the second is ignored");
        }
    }

    /// Registers the tray app's link to its window host; only the first call counts.
    pub fn attach_window_host(&self, link: Arc<crate::control::host::HostLink>) {
        if self.inner.window_host.set(link).is_err() {
            tracing::warn!("a window host link was already attached; the second is ignored");
        }
    }

    /// The link to the window host, in the tray app.
    pub fn window_host(&self) -> crate::error::Result<&Arc<crate::control::host::HostLink>> {
        self.inner
            .window_host
            .get()
            .ok_or(crate::error::AppError::NeedsTray {
                action: crate::action::Action::OpenWindow {
                    window: crate::action::WindowKind::Settings,
                },
            })
    }

    /// Hands an action that needs a display (a window, the picker, quitting) to the tray app.
    pub fn shell_action(&self, action: crate::action::Action) -> crate::error::Result<()> {
        match self.inner.shell.get() {
            Some(handler) => {
                handler(action);
                Ok(())
            }
            None => Err(crate::error::AppError::NeedsTray { action }),
        }
    }

    /// The database and the relay, once started.
    pub fn services(&self) -> crate::error::Result<&crate::runtime::services::Services> {
        self.inner.services.get().ok_or(crate::error::AppError::Refused(
            crate::error::Refusal::StillStarting,
        ))
    }

    pub fn config(&self) -> &AppConfig {
        &self.inner.config
    }

    pub fn snapshot(&self) -> Snapshot {
        self.inner.snapshot.borrow().clone()
    }

    /// A receiver that sees every later change of the snapshot.
    pub fn subscribe(&self) -> watch::Receiver<Snapshot> {
        self.inner.snapshot.subscribe()
    }

    /// Changes the snapshot and tells every observer, if anything changed.
    pub fn update(&self, change: impl FnOnce(&mut Snapshot)) {
        self.inner.snapshot.send_if_modified(|snapshot| {
            let before = snapshot.clone();
            change(snapshot);
            snapshot.input = snapshot.effective_input(chrono::Utc::now());
            *snapshot != before
        });
    }

    /// Tells every observer to look again even though nothing changed: a tray menu whose check mark the
    /// toolkit flipped on a click that changed nothing puts it back.
    pub fn republish(&self) {
        self.inner.snapshot.send_modify(|_| {});
    }

    pub fn info(&self) -> AppInfo {
        let config = &self.inner.config;
        AppInfo {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            headless: self.inner.headless,
            config_dir: config.paths.config_dir.display().to_string(),
            data_dir: config.paths.data_dir.display().to_string(),
            slack_api_url: config.slack_api_url.to_string(),
            state_line: self.snapshot().state_line(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AppPaths;
    use caret_core::{CaretState, StateSource};

    fn core() -> AppCore {
        let paths = AppPaths {
            config_dir: "/c".into(),
            data_dir: "/d".into(),
        };
        let config = AppConfig {
            paths,
            slack_api_url: "https://slack.com/api".parse().unwrap(),
            relay: crate::config::RelaySettings {
                port: 0,
                loopback_only: true,
            },
            oauth_port: 0,
            browser: None,
        };
        AppCore::new(config, false)
    }

    #[test]
    fn the_state_line_says_what_is_known_and_that_a_manual_status_wins() {
        let core = core();
        assert_eq!(core.snapshot().state_line(), "No phone paired yet");
        core.update(|s| {
            s.phone = PhoneLink::Connected {
                state: CaretState::InCall,
            }
        });
        assert_eq!(core.snapshot().state_line(), "Phone: In a call");
        core.update(|s| {
            s.manual = Some(ManualStatus {
                state: CaretState::Busy,
                until: None,
            })
        });
        assert_eq!(core.snapshot().state_line(), "Status: Busy (set by you)");
        core.update(|s| s.phone = PhoneLink::Offline);
        core.update(|s| s.manual = None);
        assert_eq!(core.snapshot().state_line(), "Phone offline");
    }

    #[test]
    fn the_tray_says_away_for_the_lock_and_off_work_only_where_a_workspace_shares_anything() {
        let core = core();
        let workspace = |effective_policy: Policy| WorkspaceLine {
            id: 1,
            team: "Acme".into(),
            connected: true,
            needs_user: false,
            policy: PolicySetting::default(),
            effective_policy,
            shows: None,
        };
        core.update(|s| {
            s.phone = PhoneLink::Connected {
                state: CaretState::Walking,
            };
            s.desktop.screen_locked = true;
        });
        assert_eq!(
            core.snapshot().state_line(),
            "Phone: Walking",
            "no workspace, nobody to be away for"
        );
        core.update(|s| s.workspaces = vec![workspace(Policy::Blocked)]);
        assert_eq!(
            core.snapshot().state_line(),
            "Phone: Walking",
            "Blocked shares nothing"
        );
        core.update(|s| s.workspaces = vec![workspace(Policy::Blocked), workspace(Policy::Default)]);
        assert_eq!(
            core.snapshot().state_line(),
            "Phone: Walking · away (screen locked)"
        );
        let off_work = caret_core::OffHours {
            back_at: None,
            show_status: true,
        };
        core.update(|s| s.desktop.off_hours = Some(off_work));
        assert_eq!(
            core.snapshot().state_line(),
            "Phone: Walking · away (screen locked, off work)"
        );
        core.update(|s| s.desktop.screen_locked = false);
        assert_eq!(core.snapshot().state_line(), "Phone: Walking · away (off work)");
        core.update(|s| {
            s.manual = Some(ManualStatus {
                state: CaretState::Busy,
                until: None,
            })
        });
        assert_eq!(
            core.snapshot().state_line(),
            "Status: Busy (set by you)",
            "the person's own choice beats the working hours"
        );
        core.update(|s| {
            s.manual = None;
            s.desktop.screen_locked = true;
            s.paused = true;
        });
        assert_eq!(
            core.snapshot().state_line(),
            "Phone: Walking",
            "paused: nothing is sent"
        );
    }

    #[test]
    fn a_microphone_in_use_is_a_call_the_tray_names_the_source_of() {
        let core = core();
        core.update(|s| {
            s.phone = PhoneLink::Connected {
                state: CaretState::Walking,
            };
            s.desktop.microphone_in_use = true;
        });
        let snapshot = core.snapshot();
        assert_eq!(snapshot.state_line(), "Status: In a call (microphone)");
        assert_eq!(
            snapshot.input.as_ref().map(StatusInput::source),
            Some(StateSource::Microphone),
            "the windows are told too"
        );
        assert_eq!(
            snapshot.effective_state(chrono::Utc::now()),
            Some(CaretState::InCall)
        );
        let report = snapshot.report(chrono::Utc::now());
        assert_eq!(report.state, Some(caret_core::StateKind::InCall));
        assert_eq!(report.source.as_deref(), Some("microphone"));
        // The phone's own call is the phone's.
        core.update(|s| {
            s.phone = PhoneLink::Connected {
                state: CaretState::InCall,
            }
        });
        assert_eq!(core.snapshot().state_line(), "Phone: In a call");
        // Your own choice still wins.
        core.update(|s| {
            s.manual = Some(ManualStatus {
                state: CaretState::Busy,
                until: None,
            })
        });
        assert_eq!(
            core.snapshot().report(chrono::Utc::now()).source.as_deref(),
            Some("you")
        );
    }

    #[tokio::test]
    async fn observers_are_told_of_changes_and_not_of_non_changes() {
        let core = core();
        let mut observer = core.subscribe();
        core.update(|s| s.phone = PhoneLink::NotPaired);
        assert!(!observer.has_changed().unwrap(), "nothing changed");
        core.update(|s| s.phone = PhoneLink::Offline);
        assert!(observer.has_changed().unwrap());
        assert_eq!(observer.borrow_and_update().phone, PhoneLink::Offline);
    }
}
