//! Which networks a phone can reach this computer on: the relay's LAN listeners follow the user's choice and
//! the network the computer is on (docs/relay-threat-model.md, "Which networks hear the relay").
//!
//! By default ([`PhoneReach::KnownNetworks`]) the relay is open to the LAN only on a network where a phone was
//! paired (recognised by its gateway, see `caret_relay::network`) and, anywhere, while a pairing window is
//! open; elsewhere (a café's Wi-Fi) it listens on this computer only and announces nothing. Pairing a phone
//! makes the network it happened on known. The user can instead open it on any network, or keep it on this
//! computer only; `CARET_RELAY_LOOPBACK=1` forces the latter.
//!
//! One task ([`spawn`]) decides: it wakes when the kernel reports a network change, a pairing window opens or
//! ends, a phone pairs, or the choice changes, never on a timer except to look again at a network whose
//! gateway the kernel has not resolved yet.

use std::sync::Arc;
use std::time::Duration;

use caret_relay::RelayEvent;
use caret_relay::network::{Network, NetworkWatch, current_network};
use caret_store::{KnownNetwork, Store};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, watch};
use ts_rs::TS;

pub use crate::preferences::PhoneReach;

/// Whether the relay should be open to the LAN now.
pub fn lan_wanted(choice: PhoneReach, forced_local: bool, network_known: bool, pairing_open: bool) -> bool {
    !forced_local
        && match choice {
            PhoneReach::ThisComputer => false,
            PhoneReach::AnyNetwork => true,
            PhoneReach::KnownNetworks => network_known || pairing_open,
        }
}

/// Where phones can reach the computer now, and why: for Settings, the Phones window and the CLI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ReachView {
    pub choice: PhoneReach,
    /// `CARET_RELAY_LOOPBACK=1`: this computer only, whatever the choice.
    pub forced_local: bool,
    /// The relay listens on the LAN now.
    pub open_to_lan: bool,
    /// The network the computer is on ("192.168.1.0/24 via 192.168.1.1"), if it can be recognised.
    pub network: Option<String>,
    /// That network is one where a phone was paired.
    pub network_known: bool,
    /// One sentence saying what the above means for a phone.
    pub explanation: String,
    pub known_networks: Vec<KnownNetwork>,
}

impl ReachView {
    fn new(
        choice: PhoneReach,
        forced_local: bool,
        network: Option<&Network>,
        network_known: bool,
        pairing_open: bool,
        known_networks: Vec<KnownNetwork>,
    ) -> ReachView {
        let open_to_lan = lan_wanted(choice, forced_local, network_known, pairing_open);
        ReachView {
            choice,
            forced_local,
            open_to_lan,
            network: network.map(|network| network.label.clone()),
            network_known,
            explanation: explain(choice, forced_local, network, network_known, pairing_open),
            known_networks,
        }
    }

    /// What `caret-desktop reach` prints.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "Phones can reach this computer {} ({}).\n{}\n",
            self.choice.words(),
            if self.open_to_lan {
                "open to the LAN now"
            } else {
                "this computer only now"
            },
            self.explanation
        );
        if self.known_networks.is_empty() {
            text.push_str("No known networks yet: pairing a phone makes the network it is on known.\n");
        } else {
            text.push_str("Known networks (where a phone was paired):\n");
            for network in &self.known_networks {
                let paired = chrono::DateTime::from_timestamp_millis(network.paired_at_ms)
                    .map(|at| {
                        at.with_timezone(&chrono::Local)
                            .format("%Y-%m-%d %H:%M")
                            .to_string()
                    })
                    .unwrap_or_default();
                text.push_str(&format!(
                    "  {}  {}  paired {paired}\n",
                    &network.id[..network.id.len().min(12)],
                    network.label
                ));
            }
        }
        text
    }

    /// Before anything is known (the relay is not running, or the app is starting).
    pub fn closed(choice: PhoneReach, forced_local: bool) -> ReachView {
        ReachView::new(choice, forced_local, None, false, false, Vec::new())
    }
}

fn explain(
    choice: PhoneReach,
    forced_local: bool,
    network: Option<&Network>,
    network_known: bool,
    pairing_open: bool,
) -> String {
    if forced_local {
        return "Phones can reach this computer only through a tunnel: CARET_RELAY_LOOPBACK=1 keeps the relay \
                on 127.0.0.1."
            .to_owned();
    }
    match (choice, network, network_known, pairing_open) {
        (PhoneReach::ThisComputer, ..) => {
            "Phones can reach this computer only through a tunnel you set up (the relay listens on 127.0.0.1)."
                .to_owned()
        }
        (PhoneReach::AnyNetwork, ..) => "Phones on any network this computer joins can reach it.".to_owned(),
        (PhoneReach::KnownNetworks, Some(network), true, _) => format!(
            "Phones on this network ({}) can reach this computer: you paired a phone here.",
            network.label
        ),
        (PhoneReach::KnownNetworks, _, _, true) => {
            "Phones on this network can reach this computer while the pairing window is open; pairing a phone \
             here makes the network known."
                .to_owned()
        }
        (PhoneReach::KnownNetworks, Some(network), false, false) => format!(
            "This network ({}) is not one where you paired a phone: the relay listens only on this computer and \
             announces nothing. Pair a phone here to let phones reach it on this network.",
            network.label
        ),
        (PhoneReach::KnownNetworks, None, _, false) => {
            "This network cannot be recognised (no gateway): the relay listens only on this computer. Choose \"on \
             any network\" to let phones reach it here."
                .to_owned()
        }
    }
}

/// The handle the rest of the app holds: the choice, and a bell for pairing windows.
#[derive(Debug, Clone)]
pub struct ReachControl {
    choice: watch::Sender<PhoneReach>,
    forced_local: bool,
    wake: Arc<Notify>,
    view: watch::Sender<ReachView>,
    /// Held while deciding and opening or closing the relay, and while a pairing window opens: otherwise the
    /// deciding task could close the relay right after pairing opened it, on what it read just before. A
    /// parking_lot `Mutex`, not tokio's: neither side holds it across an `.await`.
    deciding: Arc<parking_lot::Mutex<()>>,
}

impl ReachControl {
    pub fn new(choice: PhoneReach, forced_local: bool) -> ReachControl {
        ReachControl {
            choice: watch::Sender::new(choice),
            forced_local,
            wake: Arc::new(Notify::new()),
            view: watch::Sender::new(ReachView::closed(choice, forced_local)),
            deciding: Arc::default(),
        }
    }

    pub fn choice(&self) -> PhoneReach {
        *self.choice.borrow()
    }

    /// Whether pairing may open the relay to the LAN (the pairing window itself is what opens it).
    pub fn pairing_may_open_lan(&self) -> bool {
        lan_wanted(self.choice(), self.forced_local, false, true)
    }

    pub fn set_choice(&self, choice: PhoneReach) {
        self.choice.send_replace(choice);
    }

    /// A pairing window opened or closed: look again.
    pub fn pairing_changed(&self) {
        self.wake.notify_one();
    }

    /// Keeps the deciding task from opening or closing the relay until the guard is dropped.
    pub fn hold(&self) -> parking_lot::MutexGuard<'_, ()> {
        self.deciding.lock()
    }

    /// Something changed (a network forgotten): waits until the deciding task has looked again (at most
    /// `patience`), and returns what it found.
    pub async fn looked_again(&self, patience: Duration) -> ReachView {
        let mut views = self.view.subscribe();
        views.mark_unchanged();
        self.wake.notify_one();
        let _ = tokio::time::timeout(patience, views.changed()).await;
        self.view()
    }

    pub fn view(&self) -> ReachView {
        self.view.borrow().clone()
    }

    /// The view once the deciding task has acted on the current choice (at most `patience` later: the view
    /// as it stands then).
    pub async fn settled_view(&self, patience: Duration) -> ReachView {
        let choice = self.choice();
        let mut views = self.view.subscribe();
        let settled = tokio::time::timeout(patience, views.wait_for(|view| view.choice == choice)).await;
        match settled {
            Ok(Ok(view)) => view.clone(),
            _ => self.view(),
        }
    }

    fn publish(&self, view: ReachView) {
        self.view.send_replace(view);
    }
}

/// How soon to look again at a network the kernel has not resolved the gateway of (its hardware address
/// comes with the first packets through it).
const UNRESOLVED_RETRIES: [Duration; 4] = [
    Duration::from_secs(2),
    Duration::from_secs(5),
    Duration::from_secs(15),
    Duration::from_secs(60),
];

/// A change arrives as a burst of notifications; wait for it to settle before looking.
const SETTLE: Duration = Duration::from_millis(300);

/// Starts the task that opens and closes the relay to the LAN. Without the kernel's notifications (not
/// Linux, or refused) it says so and looks again every minute instead.
pub fn spawn(
    relay: Arc<caret_relay::Relay>,
    store: Store,
    control: ReachControl,
    mut events: tokio::sync::broadcast::Receiver<RelayEvent>,
) {
    tokio::spawn(async move {
        let mut watch = NetworkWatch::start()
            .inspect_err(|error| {
                tracing::warn!("network changes cannot be watched ({error}); looking every minute instead");
            })
            .ok();
        let mut choices = control.choice.subscribe();
        let mut unresolved_tries = 0;
        loop {
            let choice = *choices.borrow_and_update();
            let (network, pairing_open) = decide_and_apply(&control, &store, &relay, choice);

            // A default route whose gateway is not resolved yet: the network will be recognised soon.
            let look_again = match (&network, gateway_pending()) {
                (None, true) if unresolved_tries < UNRESOLVED_RETRIES.len() => {
                    unresolved_tries += 1;
                    Some(UNRESOLVED_RETRIES[unresolved_tries - 1])
                }
                (None, _) => None,
                (Some(_), _) => {
                    unresolved_tries = 0;
                    None
                }
            };
            let look_again = look_again.or_else(|| watch.is_none().then_some(Duration::from_secs(60)));
            tokio::select! {
                changed = async {
                    match watch.as_mut() {
                        Some(watch) => watch.changed().await,
                        None => std::future::pending().await,
                    }
                } => {
                    if let Err(error) = changed {
                        tracing::warn!("network changes cannot be watched any more ({error})");
                        watch = None;
                    }
                    tokio::time::sleep(SETTLE).await;
                    unresolved_tries = 0;
                }
                changed = choices.changed() => if changed.is_err() { return },
                () = control.wake.notified() => {}
                event = events.recv() => match event {
                    Ok(RelayEvent::DevicePaired { from_lan: true, .. }) => remember_network(&store),
                    // Paired through a tunnel on 127.0.0.1: that says nothing about this network.
                    Ok(RelayEvent::DevicePaired { from_lan: false, .. }) => {}
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
                () = async {
                    match look_again {
                        Some(after) => tokio::time::sleep(after).await,
                        None => std::future::pending().await,
                    }
                } => {}
                // The pairing window's end, when it expires unused.
                () = tokio::time::sleep(Duration::from_secs(5)), if pairing_open => {}
            }
        }
    });
}

/// Looks at the network, the pairing window and the choice, opens or closes the relay to the LAN, and
/// publishes the view; returns what it found. Under the deciding lock, so that a pairing window opening
/// meanwhile is not undone on an old reading.
fn decide_and_apply(
    control: &ReachControl,
    store: &Store,
    relay: &caret_relay::Relay,
    choice: PhoneReach,
) -> (Option<Network>, bool) {
    let deciding = control.hold();
    let network = current_network();
    let network_known = network
        .as_ref()
        .is_some_and(|network| store.is_known_network(&network.id).unwrap_or(false));
    let pairing_open = relay.pairing_open();
    let mut view = ReachView::new(
        choice,
        control.forced_local,
        network.as_ref(),
        network_known,
        pairing_open,
        store.known_networks().unwrap_or_default(),
    );
    if view.open_to_lan != relay.lan_open() {
        let now = if view.open_to_lan {
            "open to the LAN"
        } else {
            "on this computer only"
        };
        tracing::info!("relay {now}: {}", view.explanation);
    }
    // Also when it stays open: addresses may have come or gone.
    let failed = relay.set_lan_open(view.open_to_lan);
    drop(deciding);
    if !failed.is_empty() {
        // Another program (another user's, even) holds the port on that address: phones cannot reach this
        // computer there, and the user should know why.
        let failures: Vec<String> = failed
            .iter()
            .map(|(address, error)| format!("{address} ({error})"))
            .collect();
        view.explanation
            .push_str(&format!(" Could not listen on {}.", failures.join(", ")));
    }
    control.publish(view);
    (network, pairing_open)
}

/// A phone was paired: the network the computer is on becomes known (if it can be recognised).
fn remember_network(store: &Store) {
    let Some(network) = current_network() else {
        tracing::info!("a phone was paired on a network that cannot be recognised; it is not remembered");
        return;
    };
    match store.add_known_network(&network.id, &network.label, chrono::Utc::now().timestamp_millis()) {
        Ok(()) => tracing::info!("network {} is now known: a phone was paired on it", network.label),
        Err(error) => tracing::error!("cannot remember the network a phone was paired on: {error}"),
    }
}

/// Whether there is a default route at all (so an unrecognised network may just be waiting for its gateway's
/// hardware address).
fn gateway_pending() -> bool {
    std::fs::read_to_string("/proc/net/route")
        .map(|table| {
            table
                .lines()
                .skip(1)
                .any(|line| line.split_whitespace().nth(1) == Some("00000000"))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relay_opens_to_the_lan_exactly_when_the_choice_and_the_network_say_so() {
        use PhoneReach::*;
        // (choice, forced local, network known, pairing open) → open to the LAN
        let table = [
            (KnownNetworks, false, false, false, false),
            (KnownNetworks, false, true, false, true),
            (KnownNetworks, false, false, true, true),
            (KnownNetworks, false, true, true, true),
            (AnyNetwork, false, false, false, true),
            (AnyNetwork, false, true, true, true),
            (ThisComputer, false, true, true, false),
            (ThisComputer, false, false, false, false),
        ];
        for (choice, forced, known, pairing, open) in table {
            assert_eq!(
                lan_wanted(choice, forced, known, pairing),
                open,
                "{choice:?} known={known} pairing={pairing}"
            );
            assert!(
                !lan_wanted(choice, true, known, pairing),
                "forced local always wins"
            );
        }
    }

    #[test]
    fn the_explanation_says_what_a_phone_can_do_here() {
        let home = Network {
            id: "x".into(),
            label: "192.168.1.0/24 via 192.168.1.1".into(),
        };
        let view = ReachView::new(
            PhoneReach::KnownNetworks,
            false,
            Some(&home),
            false,
            false,
            Vec::new(),
        );
        assert!(!view.open_to_lan);
        assert!(
            view.explanation.contains("not one where you paired a phone"),
            "{}",
            view.explanation
        );
        assert!(
            view.explanation.contains("192.168.1.0/24"),
            "{}",
            view.explanation
        );
        let known = ReachView::new(
            PhoneReach::KnownNetworks,
            false,
            Some(&home),
            true,
            false,
            Vec::new(),
        );
        assert!(known.open_to_lan && known.explanation.contains("you paired a phone here"));
        let pairing = ReachView::new(PhoneReach::KnownNetworks, false, None, false, true, Vec::new());
        assert!(pairing.open_to_lan && pairing.explanation.contains("pairing window"));
        let unknown = ReachView::new(PhoneReach::KnownNetworks, false, None, false, false, Vec::new());
        assert!(
            unknown.explanation.contains("cannot be recognised"),
            "{}",
            unknown.explanation
        );
        let forced = ReachView::new(PhoneReach::AnyNetwork, true, Some(&home), true, true, Vec::new());
        assert!(!forced.open_to_lan && forced.explanation.contains("CARET_RELAY_LOOPBACK"));
    }

    #[test]
    fn the_words_the_command_line_takes() {
        assert_eq!(
            PhoneReach::parse("known-networks"),
            Some(PhoneReach::KnownNetworks)
        );
        assert_eq!(PhoneReach::parse("any-network"), Some(PhoneReach::AnyNetwork));
        assert_eq!(PhoneReach::parse("this-computer"), Some(PhoneReach::ThisComputer));
        assert_eq!(PhoneReach::parse("everywhere"), None);
    }
}
