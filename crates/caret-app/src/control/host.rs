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
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromHost {
    /// The picker of `opening` hid (used, dismissed or left, or it could not be shown): the next press of the
    /// shortcut opens it again. A hiding older than the last opening asked for says nothing of the picker now.
    PickerHidden { opening: u32 },
    /// The host's last window closed: it shows nothing more and exits once the app has hung up. A window asked
    /// for from now on starts a new host.
    Leaving,
    /// A window the app asked for after the host had said it was leaving, handed back unshown.
    Returned {
        window: WindowKind,
        waited_ms: f64,
        opening: u32,
    },
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

/// Starts window host number `n` (it connects with that number); the link waits for it to connect, and is
/// told if it ends before ([`HostLink::host_ended`]). Called without the link's lock held.
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
    /// The connected host's number and channel.
    connected: Option<(u64, mpsc::UnboundedSender<Outgoing>)>,
    /// Windows asked for while no host was connected, in order.
    waiting: VecDeque<Outgoing>,
    /// Counts the hosts started; only the last one started may connect.
    starts: u64,
    /// The host started last, and when, until it connects.
    starting: Option<(u64, Instant)>,
    /// The picker shows (told to open, and not hidden since), and the last opening asked for.
    picker_shown: bool,
    picker_opening: u32,
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
        let start = {
            let mut state = self.state.lock();
            if let ToHost::Open {
                window: WindowKind::Picker,
                opening,
                ..
            } = message.message
            {
                state.picker_shown = true;
                state.picker_opening = opening;
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
            Self::host_to_start(&mut state)
        };
        if let Some(number) = start {
            self.start(number);
        }
    }

    /// The number of a new host to start for the windows waiting, unless one started lately has yet to connect.
    fn host_to_start(state: &mut LinkState) -> Option<u64> {
        if state.connected.is_some()
            || state.waiting.is_empty()
            || state
                .starting
                .is_some_and(|(_, since)| since.elapsed() < CONNECT_PATIENCE)
        {
            return None;
        }
        state.starts += 1;
        state.starting = Some((state.starts, Instant::now()));
        Some(state.starts)
    }

    /// Starts host `number` (outside the lock: it starts a process).
    fn start(&self, number: u64) {
        match (self.start_host)(number) {
            Ok(()) => tracing::info!(number, "window host started"),
            Err(error) => {
                tracing::error!("cannot start the window host, so no window opens: {error}");
                let mut state = self.state.lock();
                if state.starting.is_some_and(|(started, _)| started == number) {
                    Self::give_up(&mut state);
                }
            }
        }
    }

    /// Forgets the windows asked for: no host will show them.
    fn give_up(state: &mut LinkState) {
        state.waiting.clear();
        state.starting = None;
        state.picker_shown = false;
    }

    /// Host `number` connected: what to send it, starting with the windows that waited for it. Only the host
    /// started last is taken (`None` for an older one that connects late: it has nothing to show).
    pub fn connect(&self, number: u64) -> Option<mpsc::UnboundedReceiver<Outgoing>> {
        let mut state = self.state.lock();
        if number != state.starts || state.connected.is_some() {
            return None;
        }
        let (sender, receiver) = mpsc::unbounded_channel();
        for message in state.waiting.drain(..) {
            // The receiver is in hand: this cannot fail.
            let _ = sender.send(message);
        }
        state.connected = Some((number, sender));
        state.starting = None;
        Some(receiver)
    }

    /// Host `number` hung up (it exited with its last window, or died); `channel` is the one it was given. The
    /// windows still in it wait for the next host, which starts at once if any is waiting.
    pub fn disconnect(&self, number: u64, mut channel: mpsc::UnboundedReceiver<Outgoing>) {
        let start = {
            let mut state = self.state.lock();
            Self::let_go(&mut state, number);
            // Let go under the lock, so nothing more arrives in the channel: what is in it is all it will hold.
            let mut unsent = Vec::new();
            while let Ok(message) = channel.try_recv() {
                if matches!(message.message, ToHost::Open { .. }) {
                    unsent.push(message);
                }
            }
            for message in unsent.into_iter().rev() {
                state.waiting.push_front(message);
            }
            Self::host_to_start(&mut state)
        };
        if let Some(number) = start {
            self.start(number);
        }
    }

    /// Host `number` is no longer the one windows go to (its channel closes once emptied).
    fn let_go(state: &mut LinkState, number: u64) {
        if state
            .connected
            .as_ref()
            .is_some_and(|(current, _)| *current == number)
        {
            state.connected = None;
            state.picker_shown = false;
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

    /// What host `number` said.
    pub fn notice(&self, number: u64, notice: FromHost) {
        match notice {
            FromHost::PickerHidden { opening } => {
                let mut state = self.state.lock();
                if opening == state.picker_opening {
                    state.picker_shown = false;
                }
            }
            FromHost::Leaving => Self::let_go(&mut self.state.lock(), number),
            FromHost::Returned {
                window,
                waited_ms,
                opening,
            } => self.send(ToHost::Open {
                window,
                waited_ms,
                opening,
            }),
        }
    }

    /// Whether the picker shows now (the shortcut's next keys are then its own, not kept for it).
    pub fn picker_shown(&self) -> bool {
        self.state.lock().picker_shown
    }

    /// Whether a host is connected now.
    #[cfg(test)]
    fn host_connected(&self) -> bool {
        self.state.lock().connected.is_some()
    }

    /// Answers a window's call through the shell's dispatcher.
    pub async fn call(&self, call: UiCall) -> UiOutcome {
        (self.ui)(call).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    /// A link whose starter counts the hosts it started (the last one's number is the count).
    fn link(starts: Arc<AtomicU64>) -> HostLink {
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

    fn picker(opening: u32) -> ToHost {
        ToHost::Open {
            window: WindowKind::Picker,
            waited_ms: 0.0,
            opening,
        }
    }

    fn event(name: &str) -> ToHost {
        ToHost::Event {
            name: name.into(),
            payload: Value::Null,
        }
    }

    fn received(receiver: &mut mpsc::UnboundedReceiver<Outgoing>) -> Vec<ToHost> {
        std::iter::from_fn(|| receiver.try_recv().ok().map(left)).collect()
    }

    #[test]
    fn a_window_asked_for_starts_one_host_and_waits_for_it_in_order() {
        let starts = Arc::new(AtomicU64::new(0));
        let link = link(starts.clone());
        link.send(open(WindowKind::Settings));
        link.send(event("snapshot"));
        link.send(open(WindowKind::SyncLog));
        assert_eq!(starts.load(Ordering::SeqCst), 1, "one host for both windows");
        assert!(!link.host_connected());

        let mut receiver = link.connect(1).expect("the host started");
        assert_eq!(
            received(&mut receiver),
            vec![open(WindowKind::Settings), open(WindowKind::SyncLog)],
            "the event before the host was there is dropped; the windows read what is current"
        );
        link.send(event("sync-log"));
        assert_eq!(received(&mut receiver), vec![event("sync-log")]);
        assert_eq!(starts.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn only_the_host_started_last_is_taken() {
        let starts = Arc::new(AtomicU64::new(0));
        let link = link(starts.clone());
        assert!(link.connect(1).is_none(), "no host was started");
        link.send(open(WindowKind::Settings));
        assert!(link.connect(7).is_none(), "not ours");
        let _receiver = link.connect(1).expect("host 1");
        assert!(link.connect(1).is_none(), "one connection for a host");
    }

    #[test]
    fn a_host_that_hangs_up_hands_back_the_windows_it_was_not_sent_and_a_new_one_starts_for_them() {
        let starts = Arc::new(AtomicU64::new(0));
        let link = link(starts.clone());
        link.send(open(WindowKind::Settings));
        let receiver = link.connect(1).expect("host 1");
        link.send(event("snapshot"));
        link.send(open(WindowKind::Phones));
        // The host died before its server task wrote these.
        link.disconnect(1, receiver);
        assert_eq!(
            starts.load(Ordering::SeqCst),
            2,
            "a new host for the windows not shown"
        );
        let mut receiver = link.connect(2).expect("host 2");
        assert_eq!(
            received(&mut receiver),
            vec![open(WindowKind::Settings), open(WindowKind::Phones)]
        );
    }

    #[test]
    fn a_host_that_exits_is_started_again_for_the_next_window_only() {
        let starts = Arc::new(AtomicU64::new(0));
        let link = link(starts.clone());
        link.send(open(WindowKind::Settings));
        let mut receiver = link.connect(1).expect("host 1");
        let _shown = received(&mut receiver);
        link.disconnect(1, receiver);
        link.send(event("snapshot"));
        assert_eq!(starts.load(Ordering::SeqCst), 1, "an event starts no host");
        link.send(open(WindowKind::Phones));
        assert_eq!(starts.load(Ordering::SeqCst), 2);
        let mut receiver = link.connect(2).expect("host 2");
        assert_eq!(received(&mut receiver), vec![open(WindowKind::Phones)]);
    }

    #[test]
    fn a_host_gone_without_a_word_is_noticed_at_the_next_message() {
        let starts = Arc::new(AtomicU64::new(0));
        let link = link(starts.clone());
        link.send(open(WindowKind::Settings));
        drop(link.connect(1));
        link.send(open(WindowKind::Phones));
        assert_eq!(starts.load(Ordering::SeqCst), 2);
        let mut receiver = link.connect(2).expect("host 2");
        assert_eq!(received(&mut receiver), vec![open(WindowKind::Phones)]);
    }

    /// The last window closed while the user asked for another: the host says it is leaving, what reached it
    /// since comes back, and a new host shows it.
    #[test]
    fn a_window_asked_for_while_the_host_leaves_is_shown_by_the_next_one() {
        let starts = Arc::new(AtomicU64::new(0));
        let link = link(starts.clone());
        link.send(open(WindowKind::Settings));
        let mut receiver = link.connect(1).expect("host 1");
        let _shown = received(&mut receiver);
        // Written to the host just before it said it was leaving.
        link.send(picker(4));
        let _written = received(&mut receiver);
        link.notice(1, FromHost::Leaving);
        assert!(!link.host_connected());
        link.send(open(WindowKind::SyncLog));
        assert_eq!(
            starts.load(Ordering::SeqCst),
            2,
            "a new host for what comes after"
        );
        link.notice(
            1,
            FromHost::Returned {
                window: WindowKind::Picker,
                waited_ms: 3.0,
                opening: 4,
            },
        );
        assert!(link.picker_shown(), "the picker handed back is still wanted");
        let mut receiver = link.connect(2).expect("host 2");
        assert_eq!(
            received(&mut receiver),
            vec![open(WindowKind::SyncLog), picker(4)]
        );
    }

    #[test]
    fn the_picker_shows_from_its_opening_until_the_host_says_that_opening_hid_or_goes() {
        let starts = Arc::new(AtomicU64::new(0));
        let link = link(starts.clone());
        link.send(open(WindowKind::Settings));
        let receiver = link.connect(1).expect("host 1");
        assert!(!link.picker_shown());
        link.send(picker(1));
        assert!(link.picker_shown());
        link.notice(1, FromHost::PickerHidden { opening: 1 });
        assert!(!link.picker_shown());
        link.send(picker(2));
        link.notice(1, FromHost::PickerHidden { opening: 1 });
        assert!(
            link.picker_shown(),
            "a late word about an older opening says nothing of this one"
        );
        link.disconnect(1, receiver);
        assert!(!link.picker_shown(), "a host gone takes its picker with it");
    }

    #[test]
    fn a_host_that_cannot_start_drops_the_wish_and_is_tried_again_next_time() {
        let tries = Arc::new(AtomicU64::new(0));
        let counted = tries.clone();
        let link = HostLink::new(
            Box::new(move |_| {
                counted.fetch_add(1, Ordering::SeqCst);
                Err(std::io::Error::other("no such program"))
            }),
            Arc::new(|_| Box::pin(async { Ok(Value::Null) })),
        );
        link.send(picker(1));
        assert!(!link.picker_shown());
        link.send(open(WindowKind::Settings));
        assert_eq!(tries.load(Ordering::SeqCst), 2);
        assert!(
            link.connect(2)
                .is_none_or(|mut receiver| receiver.try_recv().is_err())
        );
    }

    #[test]
    fn a_host_that_ends_before_it_connects_drops_the_wish_and_a_new_one_starts_next_time() {
        let starts = Arc::new(AtomicU64::new(0));
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
        let mut receiver = link.connect(2).expect("host 2");
        assert_eq!(
            received(&mut receiver),
            vec![open(WindowKind::Phones)],
            "the end of an older host leaves the newer one's windows alone"
        );
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
        let mut receiver = link.connect(1).expect("host 1");
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
            serde_json::from_str::<FromHost>(r#"{"type":"picker_hidden","opening":3}"#).unwrap(),
            FromHost::PickerHidden { opening: 3 }
        );
        assert_eq!(
            serde_json::from_str::<FromHost>(r#"{"type":"leaving"}"#).unwrap(),
            FromHost::Leaving
        );
        let call: UiCall = serde_json::from_str(r#"{"command":"snapshot"}"#).unwrap();
        assert_eq!(call.args, Value::Null);
        assert_eq!(call.window, None);
    }
}
