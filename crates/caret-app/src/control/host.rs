//! The window host: the tray app shows its windows in a child process of its own (`caret-desktop
//! --window-host`), which exits with its last window. A webview leaves WebKit's pages, its web context and its
//! network process in whichever process made it, for good (docs/performance.md, issue 17's goal 9); in a
//! child that exits, they go with it, and the tray process stays at its tray-only size.
//!
//! Both sides talk over the control socket:
//! - the host keeps one connection open ([`super::ControlRequest::WindowHost`]) on which the app sends what
//!   it has for the windows ([`ToHost`]: open this one, an event for all of them) and the host says what the
//!   app cannot see ([`FromHost`]: the picker hidden);
//! - each call a window makes is a connection of its own ([`super::ControlRequest::Ui`]), answered by the
//!   shell's dispatcher ([`UiHandler`]) as if the window were in the app's process.
//!
//! Here: the messages, and the app's end of the link ([`HostLink`]): at most one host at a time, started when
//! a window is wanted and none is connected; what is meant for it before it connects waits for it.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::action::WindowKind;

/// What the app tells its window host, one JSON line each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToHost {
    /// Show this window: the one already there, or a new one. `waited_ms` is how long ago the user asked (the
    /// shortcut's key press), for the picker's timing in the log; `opening` numbers the picker's showings.
    Open {
        window: WindowKind,
        #[serde(default)]
        waited_ms: f64,
        #[serde(default)]
        opening: u32,
    },
    /// An event for every window (see the shell's list of events).
    Event { name: String, payload: Value },
}

/// What the window host tells the app, one JSON line each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromHost {
    /// The picker hid (used, dismissed or left): the next press of the shortcut opens it again.
    PickerHidden,
}

/// A message on its way to the host, with when it was handed to the link: a window that waited for its host
/// to start has waited that long more.
#[derive(Debug)]
pub struct Outgoing {
    message: ToHost,
    handed_at: Instant,
}

impl Outgoing {
    /// The message as it leaves now: an opening's wait counts the time it spent in the link.
    pub fn leave(self) -> ToHost {
        match self.message {
            ToHost::Open {
                window,
                waited_ms,
                opening,
            } => ToHost::Open {
                window,
                waited_ms: waited_ms + self.handed_at.elapsed().as_secs_f64() * 1000.0,
                opening,
            },
            event => event,
        }
    }
}

/// A call a window made, handed to the app by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UiCall {
    pub command: String,
    /// The arguments as the window passed them: a JSON object keyed as the generated bindings say.
    #[serde(default)]
    pub args: Value,
    /// The window that asked (the picker's actions are logged as the shortcut's).
    #[serde(default)]
    pub window: Option<WindowKind>,
}

/// The answer to a call: its result, or the error as the UI reads it (`{code, message}`).
pub type UiOutcome = Result<Value, Value>;

/// The shell's dispatcher for the windows' calls.
pub type UiHandler = Arc<dyn Fn(UiCall) -> Pin<Box<dyn Future<Output = UiOutcome> + Send>> + Send + Sync>;

/// Starts window host number `n`; the link waits for it to connect, and is told if it ends before
/// ([`HostLink::host_ended`]).
pub type HostStarter = Box<dyn Fn(u64) -> std::io::Result<()> + Send + Sync>;

/// How long a started host may take to connect before a new wish for a window starts another.
const CONNECT_PATIENCE: Duration = Duration::from_secs(20);

/// The app's end of the link to its window host, with the shell's dispatcher for the windows' calls.
pub struct HostLink {
    state: Mutex<LinkState>,
    start_host: HostStarter,
    ui: UiHandler,
}

#[derive(Default)]
struct LinkState {
    /// The connected host's channel, and its number (a host that hangs up after a newer one connected must
    /// not cut the newer one off).
    connected: Option<(u64, mpsc::UnboundedSender<Outgoing>)>,
    connections: u64,
    /// Windows asked for while no host was connected, in order.
    waiting: VecDeque<Outgoing>,
    /// Counts the hosts started.
    starts: u64,
    /// The host started last, and when, until it connects.
    starting: Option<(u64, Instant)>,
    /// The picker shows (told to open, and not hidden since).
    picker_shown: bool,
}

impl HostLink {
    pub fn new(start_host: HostStarter, ui: UiHandler) -> HostLink {
        HostLink {
            state: Mutex::new(LinkState::default()),
            start_host,
            ui,
        }
    }

    /// Hands a message to the host: at once if one is connected; a window asked for otherwise waits, and a host
    /// is started for it. An event with no host is dropped: no window is there to show it, and a window that
    /// opens later reads what is current.
    pub fn send(&self, message: ToHost) {
        let message = Outgoing {
            message,
            handed_at: Instant::now(),
        };
        let mut state = self.state.lock();
        if let ToHost::Open {
            window: WindowKind::Picker,
            ..
        } = message.message
        {
            state.picker_shown = true;
        }
        let message = match &state.connected {
            Some((_, sender)) => match sender.send(message) {
                Ok(()) => return,
                // The host's connection ended and its server task has not said so yet.
                Err(mpsc::error::SendError(message)) => {
                    state.connected = None;
                    message
                }
            },
            None => message,
        };
        if matches!(message.message, ToHost::Event { .. }) {
            return;
        }
        state.waiting.push_back(message);
        self.start_unless_starting(&mut state);
    }

    fn start_unless_starting(&self, state: &mut LinkState) {
        if state
            .starting
            .is_some_and(|(_, since)| since.elapsed() < CONNECT_PATIENCE)
        {
            return;
        }
        state.starts += 1;
        let number = state.starts;
        match (self.start_host)(number) {
            Ok(()) => {
                tracing::info!("window host started");
                state.starting = Some((number, Instant::now()));
            }
            Err(error) => {
                tracing::error!("cannot start the window host, so no window opens: {error}");
                Self::give_up(state);
            }
        }
    }

    /// Forgets the windows asked for: no host will show them.
    fn give_up(state: &mut LinkState) {
        state.waiting.clear();
        state.starting = None;
        state.picker_shown = false;
    }

    /// A host connected: its number and what to send it, starting with the windows that waited for it. A host
    /// connected before is let go (its channel closes).
    pub fn connect(&self) -> (u64, mpsc::UnboundedReceiver<Outgoing>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let mut state = self.state.lock();
        for message in state.waiting.drain(..) {
            // The receiver is in hand: this cannot fail.
            let _ = sender.send(message);
        }
        state.connections += 1;
        let id = state.connections;
        state.connected = Some((id, sender));
        state.starting = None;
        (id, receiver)
    }

    /// Host `id` hung up (it exited with its last window, or died). A window asked for since starts a new one.
    pub fn disconnect(&self, id: u64) {
        let mut state = self.state.lock();
        if state
            .connected
            .as_ref()
            .is_some_and(|(current, _)| *current == id)
        {
            state.connected = None;
            state.picker_shown = false;
            if !state.waiting.is_empty() {
                self.start_unless_starting(&mut state);
            }
        }
    }

    /// Host number `started` ended. One that never connected takes the windows that waited for it along
    /// (they are said in the log); the next wish for a window starts a new one.
    pub fn host_ended(&self, started: u64) {
        let mut state = self.state.lock();
        if state.starting.is_some_and(|(number, _)| number == started) {
            tracing::error!("the window host ended before it connected, so no window opens");
            Self::give_up(&mut state);
        }
    }

    /// What the host said.
    pub fn notice(&self, notice: FromHost) {
        match notice {
            FromHost::PickerHidden => self.state.lock().picker_shown = false,
        }
    }

    /// Whether the picker shows now (the shortcut's next keys are then its own, not kept for it).
    pub fn picker_shown(&self) -> bool {
        self.state.lock().picker_shown
    }

    /// Whether a host is connected now.
    pub fn host_connected(&self) -> bool {
        self.state.lock().connected.is_some()
    }

    /// Answers a window's call through the shell's dispatcher.
    pub async fn call(&self, call: UiCall) -> UiOutcome {
        (self.ui)(call).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn link(starts: Arc<AtomicUsize>) -> HostLink {
        HostLink::new(
            Box::new(move |_| {
                starts.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }),
            Arc::new(|call| Box::pin(async move { Ok(Value::String(call.command)) })),
        )
    }

    /// The message as it leaves, its wait left out (it depends on the time the test takes).
    fn left(outgoing: Outgoing) -> ToHost {
        match outgoing.leave() {
            ToHost::Open { window, opening, .. } => ToHost::Open {
                window,
                waited_ms: 0.0,
                opening,
            },
            event => event,
        }
    }

    fn open(window: WindowKind) -> ToHost {
        ToHost::Open {
            window,
            waited_ms: 0.0,
            opening: 0,
        }
    }

    fn event(name: &str) -> ToHost {
        ToHost::Event {
            name: name.into(),
            payload: Value::Null,
        }
    }

    #[test]
    fn a_window_asked_for_starts_one_host_and_waits_for_it_in_order() {
        let starts = Arc::new(AtomicUsize::new(0));
        let link = link(starts.clone());
        link.send(open(WindowKind::Settings));
        link.send(event("snapshot"));
        link.send(open(WindowKind::SyncLog));
        assert_eq!(starts.load(Ordering::SeqCst), 1, "one host for both windows");
        assert!(!link.host_connected());

        let (_, mut receiver) = link.connect();
        assert_eq!(
            receiver.try_recv().ok().map(left),
            Some(open(WindowKind::Settings))
        );
        assert_eq!(
            receiver.try_recv().ok().map(left),
            Some(open(WindowKind::SyncLog)),
            "the event before the host was there is dropped; the windows read what is current"
        );
        assert!(receiver.try_recv().is_err());
        link.send(event("sync-log"));
        assert_eq!(receiver.try_recv().ok().map(left), Some(event("sync-log")));
        assert_eq!(starts.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_host_that_exits_is_started_again_for_the_next_window_only() {
        let starts = Arc::new(AtomicUsize::new(0));
        let link = link(starts.clone());
        link.send(open(WindowKind::Settings));
        let (first, receiver) = link.connect();
        link.disconnect(first);
        drop(receiver);
        link.send(event("snapshot"));
        assert_eq!(starts.load(Ordering::SeqCst), 1, "an event starts no host");
        link.send(open(WindowKind::Phones));
        assert_eq!(starts.load(Ordering::SeqCst), 2);
        let (_, mut receiver) = link.connect();
        assert_eq!(receiver.try_recv().ok().map(left), Some(open(WindowKind::Phones)));
    }

    #[test]
    fn a_host_gone_without_a_word_is_noticed_at_the_next_message() {
        let starts = Arc::new(AtomicUsize::new(0));
        let link = link(starts.clone());
        let (_, receiver) = link.connect();
        drop(receiver);
        link.send(open(WindowKind::Settings));
        assert_eq!(starts.load(Ordering::SeqCst), 1);
        let (_, mut receiver) = link.connect();
        assert_eq!(
            receiver.try_recv().ok().map(left),
            Some(open(WindowKind::Settings))
        );
    }

    #[test]
    fn an_older_host_hanging_up_leaves_the_newer_one_connected() {
        let link = link(Arc::default());
        let (older, _older_receiver) = link.connect();
        let (_, mut newer) = link.connect();
        link.disconnect(older);
        assert!(link.host_connected());
        link.send(event("snapshot"));
        assert_eq!(newer.try_recv().ok().map(left), Some(event("snapshot")));
    }

    #[test]
    fn the_picker_shows_from_its_opening_until_the_host_says_it_hid_or_goes() {
        let link = link(Arc::default());
        let (id, _receiver) = link.connect();
        assert!(!link.picker_shown());
        link.send(open(WindowKind::Picker));
        assert!(link.picker_shown());
        link.notice(FromHost::PickerHidden);
        assert!(!link.picker_shown());
        link.send(open(WindowKind::Picker));
        link.disconnect(id);
        assert!(!link.picker_shown(), "a host gone takes its picker with it");
    }

    #[test]
    fn a_host_that_cannot_start_drops_the_wish_and_is_tried_again_next_time() {
        let tries = Arc::new(AtomicUsize::new(0));
        let counted = tries.clone();
        let link = HostLink::new(
            Box::new(move |_| {
                counted.fetch_add(1, Ordering::SeqCst);
                Err(std::io::Error::other("no such program"))
            }),
            Arc::new(|_| Box::pin(async { Ok(Value::Null) })),
        );
        link.send(open(WindowKind::Picker));
        assert!(!link.picker_shown());
        link.send(open(WindowKind::Settings));
        assert_eq!(tries.load(Ordering::SeqCst), 2);
        let (_, mut receiver) = link.connect();
        assert!(receiver.try_recv().is_err(), "nothing stale is shown later");
    }

    #[test]
    fn a_host_that_ends_before_it_connects_drops_the_wish_and_a_new_one_starts_next_time() {
        let starts = Arc::new(AtomicUsize::new(0));
        let link = link(starts.clone());
        link.send(open(WindowKind::Settings));
        link.host_ended(1);
        link.send(open(WindowKind::Phones));
        assert_eq!(
            starts.load(Ordering::SeqCst),
            2,
            "not held back by the patience for the first"
        );
        link.host_ended(1);
        let (_, mut receiver) = link.connect();
        assert_eq!(
            receiver.try_recv().ok().map(left),
            Some(open(WindowKind::Phones)),
            "the end of an older host leaves the newer one's windows alone"
        );
        assert!(receiver.try_recv().is_err());
        link.host_ended(2);
        assert!(
            link.host_connected(),
            "a host that connected is let go by its connection, not here"
        );
    }

    #[test]
    fn an_opening_that_waited_for_its_host_says_so() {
        let link = link(Arc::default());
        link.send(ToHost::Open {
            window: WindowKind::Picker,
            waited_ms: 5.0,
            opening: 1,
        });
        std::thread::sleep(Duration::from_millis(30));
        let (_, mut receiver) = link.connect();
        let Some(ToHost::Open { waited_ms, .. }) = receiver.try_recv().ok().map(Outgoing::leave) else {
            panic!("the opening waits for the host");
        };
        assert!(
            waited_ms >= 35.0,
            "the asked-for wait and the time in the link: {waited_ms}"
        );
    }

    #[test]
    fn messages_have_a_stable_json_form() {
        assert_eq!(
            serde_json::to_string(&open(WindowKind::SyncLog)).unwrap(),
            r#"{"type":"open","window":"sync_log","waited_ms":0.0,"opening":0}"#
        );
        assert_eq!(
            serde_json::from_str::<FromHost>(r#"{"type":"picker_hidden"}"#).unwrap(),
            FromHost::PickerHidden
        );
        let call: UiCall = serde_json::from_str(r#"{"command":"snapshot"}"#).unwrap();
        assert_eq!(call.args, Value::Null);
        assert_eq!(call.window, None);
    }
}
