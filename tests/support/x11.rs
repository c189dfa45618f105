//! Windows as the X server sees them. There is no window manager under Xvfb, so closing a window is done the
//! way a window manager does it: a `WM_DELETE_WINDOW` client message, which GTK turns into a close request.

use std::time::Duration;

use x11rb::connection::Connection as _;
use x11rb::protocol::xproto::{ClientMessageEvent, ConnectionExt as _, EventMask};

/// The visible windows whose title is exactly `title`.
pub fn windows_titled(title: &str) -> Vec<u32> {
    let pattern = format!("^{}$", regex_escape(title));
    let output = std::process::Command::new("xdotool")
        .args(["search", "--onlyvisible", "--name", &pattern])
        .output()
        .expect("xdotool runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.trim().parse().ok())
        .collect()
}

/// Waits until `count` windows have `title`, or panics after `timeout`.
pub async fn wait_for_windows(title: &str, count: usize, timeout: Duration) -> Vec<u32> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let found = windows_titled(title);
        if found.len() == count {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected {count} window(s) titled {title:?} within {timeout:?}, found {}",
            found.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Asks a window to close, as a window manager's close button does.
pub fn request_close(window: u32) {
    let (connection, _) = x11rb::connect(None).expect("connect to X");
    let atom = |name: &[u8]| {
        connection
            .intern_atom(false, name)
            .expect("intern")
            .reply()
            .expect("atom")
            .atom
    };
    let (protocols, delete) = (atom(b"WM_PROTOCOLS"), atom(b"WM_DELETE_WINDOW"));
    let message = ClientMessageEvent::new(32, window, protocols, [delete, x11rb::CURRENT_TIME, 0, 0, 0]);
    connection
        .send_event(false, window, EventMask::NO_EVENT, message)
        .expect("send WM_DELETE_WINDOW");
    // A round trip before the connection closes: a client that sends and disconnects at once can lose what it
    // sent when the server, busy, sees the hang-up first (under load the close request then never arrived).
    connection
        .get_input_focus()
        .expect("ask X for the focus")
        .reply()
        .expect("X answers");
}

/// Closes a window the way a person does, clicking close again if the first request seems lost; fails if it is
/// still there after four requests 5 s apart.
pub async fn close_window(window: u32, title: &str) {
    for attempt in 1..=4 {
        request_close(window);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while tokio::time::Instant::now() < deadline {
            if windows_titled(title).is_empty() {
                if attempt > 1 {
                    eprintln!("window {title:?} closed after {attempt} close requests");
                }
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    panic!("window {title:?} still open after 4 close requests");
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if "\\^$.|?*+()[]{}".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}

/// Another application holding a key combination (a grab on the root window, kept while the returned
/// connection lives): `keysym` with `modifiers` (X modifier bits: Control 4, Mod1/Alt 8).
pub fn hold_key_combination(keysym: u32, modifiers: u16) -> x11rb::rust_connection::RustConnection {
    use x11rb::protocol::xproto::{GrabMode, ModMask};
    let (connection, screen) = x11rb::connect(None).expect("the X server");
    let root = connection.setup().roots[screen].root;
    let (first, last) = (connection.setup().min_keycode, connection.setup().max_keycode);
    let mapping = connection
        .get_keyboard_mapping(first, last - first + 1)
        .expect("keyboard mapping")
        .reply()
        .expect("keyboard mapping reply");
    let index = mapping
        .keysyms
        .chunks(usize::from(mapping.keysyms_per_keycode.max(1)))
        .position(|symbols| symbols.contains(&keysym))
        .expect("a key for the keysym");
    let keycode = first + u8::try_from(index).expect("a keycode");
    connection
        .grab_key(
            false,
            root,
            ModMask::from(modifiers),
            keycode,
            GrabMode::ASYNC,
            GrabMode::ASYNC,
        )
        .expect("grab request")
        .check()
        .expect("the grab");
    connection
}
