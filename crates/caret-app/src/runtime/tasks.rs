//! The tasks that keep things current while the app runs: the phone's feed to the engine and the tray, the
//! workspaces' lines in the tray, and what the desktop shows pushed back to the phones.

use std::sync::Arc;

use caret_core::CaretState;
use caret_engine::{Engine, EngineEvent};
use caret_relay::protocol::ShownStatus;
use caret_relay::{PhoneFeed, Relay, RelayEvent};
use caret_store::Store;

use super::core::{AppCore, PhoneLink, Snapshot, WorkspaceLine};

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
pub(super) fn spawn_phone_feed(
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
                // The engine goes first: its coordinator was woken on this thread and would otherwise wait
                // for the database read and the snapshot's watchers below before a workspace looks at Slack.
                tokio::task::yield_now().await;
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
fn workspace_lines(store: &Store) -> Option<Vec<WorkspaceLine>> {
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
                .map(|applied| crate::runtime::core::ShownText {
                    text: applied.text,
                    emoji: applied.emoji,
                });
            // A timed block that has run out is no block: the menu must not keep it checked.
            let mut policy = workspace.settings.policy;
            if policy.next_change(now).is_none() && policy.effective(now) != caret_core::Policy::Blocked {
                policy.blocked = None;
            }
            WorkspaceLine {
                id: workspace.id,
                team: workspace.team_name,
                connected: workspace.connected,
                needs_user: !workspace.connected
                    && workspace.disconnect_reason.as_deref()
                        != Some(crate::slack::workspaces::DISCONNECTED_BY_USER),
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
pub(super) fn spawn_workspace_refresh(
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

/// Shows what the desktop's sources see in the tray (its state line and icon), at every change.
pub(super) fn spawn_desktop_signals(
    core: AppCore,
    mut signals: tokio::sync::watch::Receiver<caret_core::DesktopSignals>,
) {
    tokio::spawn(async move {
        loop {
            let now = signals.borrow_and_update().clone();
            core.update(|snapshot| snapshot.desktop = now);
            if signals.changed().await.is_err() {
                return;
            }
        }
    });
}

/// Tells connected phones what the desktop makes of things: the state it acts on, and what each workspace
/// shows, whenever either changes.
pub(super) fn spawn_status_push(
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

#[cfg(test)]
mod tests {
    use super::*;

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
