//! The phone WebSocket (`GET /v1/ws`): a phone says `hello` with its token, is welcomed, then sends its
//! states and receives the desktop's status until it leaves, misses its heartbeats, is revoked or replaced.

use std::ops::ControlFlow;
use std::sync::Arc;

use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::extract::{Extension, State};
use axum::response::{IntoResponse, Response};
use caret_store::Device;
use tokio::sync::watch;

use super::{Incoming, close_with, next_frame, send_text, too_big, upgrade_limits};
use crate::error::ProtocolError;
use crate::hub::{Authenticated, Hub};
use crate::protocol::{DesktopMessage, PROTOCOL_VERSION, PhoneMessage, parse_phone_frame};
use crate::server::ConnectionSlot;
use crate::session::SequenceTracker;

/// `GET /v1/ws`: a phone's stream.
pub(super) async fn phone_socket(
    State(hub): State<Arc<Hub>>,
    Extension(slot): Extension<ConnectionSlot>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let permit = slot.take();
    // Dropped with the task, or with the callback if the upgrade never completes.
    let session = hub.track_session();
    upgrade_limits(upgrade)
        .on_upgrade(move |socket| async move {
            run_phone_session(hub, socket).await;
            drop(permit);
            drop(session);
        })
        .into_response()
}

/// A phone's WebSocket session: `hello`, the welcome, then its messages until the connection ends.
async fn run_phone_session(hub: Arc<Hub>, mut socket: WebSocket) {
    // 1. `hello`, in time, and the welcome with the current status.
    let device = match await_hello(&hub, &mut socket).await {
        Ok(device) => device,
        Err(ending) => return end_session(&mut socket, ending).await,
    };
    let mut phone = match welcome_phone(&hub, &mut socket, &device).await {
        Ok(phone) => phone,
        Err(ending) => return end_session(&mut socket, ending).await,
    };
    // 2. Messages until the phone leaves, misses its heartbeats, is revoked or replaced.
    let ending = serve_phone(&hub, &mut socket, &mut phone).await;
    end_session(&mut socket, ending).await;
    hub.disconnect(&phone.device_id, phone.session.connection);
}

/// Tells the phone why its session ends, if there is someone left to tell (`None`: it is gone or not
/// reading).
async fn end_session(socket: &mut WebSocket, ending: Option<ProtocolError>) {
    if let Some(error) = ending {
        close_with(socket, &error).await;
    }
}

/// Reads the phone's first message, which must be a `hello` with a valid token and come within the relay's
/// patience: the device, or how the session ends (a relay stopping meanwhile says so at once rather than
/// wait for the `hello`).
async fn await_hello(hub: &Hub, socket: &mut WebSocket) -> Result<Device, Option<ProtocolError>> {
    let first = tokio::select! {
        () = hub.until_stopping() => return Err(Some(ProtocolError::ShuttingDown)),
        read = tokio::time::timeout(hub.config.patience, next_frame(socket)) => read,
    };
    let first = match first {
        Ok(Incoming::Frame(frame)) => frame,
        Ok(Incoming::Gone) => return Err(None),
        Ok(Incoming::TooBig) => return Err(Some(too_big())),
        Ok(Incoming::NotUtf8) => return Err(Some(ProtocolError::TextNotUtf8)),
        Err(_) => return Err(Some(ProtocolError::Timeout)),
    };
    let device = match parse_phone_frame(&first) {
        Ok(PhoneMessage::Hello { device_id, token, .. }) => {
            hub.authenticate(&device_id, token.expose()).map_err(Some)?
        }
        Ok(_) => return Err(Some(ProtocolError::HelloRequired)),
        Err(error) if error.closes_connection() => return Err(Some(error)),
        Err(_) => return Err(Some(ProtocolError::HelloRequired)),
    };
    if hub.is_stopping() {
        return Err(Some(ProtocolError::ShuttingDown));
    }
    Ok(device)
}

/// What a phone's session keeps between messages, once the phone is welcomed.
struct WelcomedPhone {
    device_id: String,
    sequence: SequenceTracker,
    /// Its registration as the device's live connection, and the channel that closes it.
    session: Authenticated,
    status: watch::Receiver<DesktopMessage>,
    /// Refused messages in a row; at the relay's limit the connection is closed.
    consecutive_errors: u32,
}

/// Registers the phone as its device's live connection and sends the welcome and the current status. On
/// failure the registration is already undone and the error says how the session ends.
async fn welcome_phone(
    hub: &Hub,
    socket: &mut WebSocket,
    device: &Device,
) -> Result<WelcomedPhone, Option<ProtocolError>> {
    let device_id = device.id.clone();
    let sequence = SequenceTracker::resume(device.last_seq.and_then(|seq| u64::try_from(seq).ok()));
    let session = hub.connect(device);
    // A revocation that landed between the token check and the registration found no connection to close:
    // look again now that this one is registered (a later revocation will find and close it).
    if let Err(error) = hub.check_active(&device_id) {
        hub.disconnect(&device_id, session.connection);
        return Err(Some(error));
    }
    let welcome = DesktopMessage::Welcome {
        protocol: PROTOCOL_VERSION,
        heartbeat_secs: hub.heartbeat_secs(),
        last_seq: sequence.last(),
    };
    let mut status = hub.status();
    let status_now = status.borrow_and_update().to_json();
    if !send_text(socket, welcome.to_json()).await || !send_text(socket, status_now).await {
        hub.disconnect(&device_id, session.connection);
        return Err(None);
    }
    Ok(WelcomedPhone {
        device_id,
        sequence,
        session,
        status,
        consecutive_errors: 0,
    })
}

/// Serves a welcomed phone (its messages, and the status whenever it changes) until the phone leaves,
/// misses its heartbeats, is revoked or replaced, or the relay stops; returns how the session ends.
async fn serve_phone(
    hub: &Arc<Hub>,
    socket: &mut WebSocket,
    phone: &mut WelcomedPhone,
) -> Option<ProtocolError> {
    // Only what the phone sends counts as a beat: pushing a status to it proves nothing about the phone.
    let silence_limit = hub.config.heartbeat * 3;
    let mut silent_until = tokio::time::Instant::now() + silence_limit;
    loop {
        tokio::select! {
            kicked = &mut phone.session.kicked => {
                return Some(kicked.unwrap_or(ProtocolError::ShuttingDown));
            }
            () = hub.until_stopping() => return Some(ProtocolError::ShuttingDown),
            changed = phone.status.changed() => {
                if changed.is_err() {
                    return Some(ProtocolError::ShuttingDown);
                }
                let json = phone.status.borrow_and_update().to_json();
                if !send_text(socket, json).await {
                    return None;
                }
            }
            () = tokio::time::sleep_until(silent_until) => {
                tracing::info!(device = %phone.device_id, "relay: heartbeats missed; phone offline");
                return Some(ProtocolError::Timeout);
            }
            incoming = next_frame(socket) => {
                let frame = match incoming {
                    Incoming::Gone => return None,
                    Incoming::TooBig => return Some(too_big()),
                    Incoming::NotUtf8 => return Some(ProtocolError::TextNotUtf8),
                    Incoming::Frame(frame) => frame,
                };
                silent_until = tokio::time::Instant::now() + silence_limit;
                if let ControlFlow::Break(ending) = answer_phone_frame(hub, socket, phone, &frame).await {
                    return ending;
                }
            }
        }
    }
}

/// Answers one message from the phone (its reply, or the refusal); `Break` with how the session ends when
/// the refusal closes the connection, too many came in a row, or the phone is not reading.
async fn answer_phone_frame(
    hub: &Arc<Hub>,
    socket: &mut WebSocket,
    phone: &mut WelcomedPhone,
    frame: &[u8],
) -> ControlFlow<Option<ProtocolError>> {
    let answer = handle_phone_frame(
        hub,
        &phone.device_id,
        phone.session.connection,
        &mut phone.sequence,
        frame,
    );
    let json = match answer {
        Ok(reply) => {
            phone.consecutive_errors = 0;
            reply.to_json()
        }
        Err((error, _)) if error.closes_connection() => return ControlFlow::Break(Some(error)),
        Err((error, seq)) => {
            phone.consecutive_errors += 1;
            if phone.consecutive_errors >= hub.config.max_consecutive_errors {
                return ControlFlow::Break(Some(ProtocolError::TooManyErrors));
            }
            DesktopMessage::Error(error.to_message(seq)).to_json()
        }
    };
    if send_text(socket, json).await {
        ControlFlow::Continue(())
    } else {
        ControlFlow::Break(None)
    }
}

/// One message on an authenticated connection: the reply, or the refusal with the message's `seq`.
fn handle_phone_frame(
    hub: &Arc<Hub>,
    device_id: &str,
    connection: u64,
    sequence: &mut SequenceTracker,
    frame: &[u8],
) -> Result<DesktopMessage, (ProtocolError, Option<u64>)> {
    hub.check_rate(device_id).map_err(|error| (error, None))?;
    let message = parse_phone_frame(frame).map_err(|error| (error, None))?;
    match message {
        PhoneMessage::Ping => Ok(DesktopMessage::Pong),
        PhoneMessage::Hello { .. } => Err((
            ProtocolError::InvalidField {
                message_type: "hello".into(),
                detail: "already said hello on this connection".into(),
            },
            None,
        )),
        PhoneMessage::State { seq, state } => accept_state(hub, device_id, connection, seq, state, || {
            sequence.accept_state(seq)
        }),
        PhoneMessage::Snapshot { seq, state } => accept_state(hub, device_id, connection, seq, state, || {
            sequence.accept_snapshot(seq);
            Ok(())
        }),
    }
}

fn accept_state(
    hub: &Arc<Hub>,
    device_id: &str,
    connection: u64,
    seq: u64,
    state: caret_core::CaretState,
    check_sequence: impl FnOnce() -> Result<(), ProtocolError>,
) -> Result<DesktopMessage, (ProtocolError, Option<u64>)> {
    // Checked on every state, so a revocation made anywhere (even by another process sharing the
    // database) stops the device at its next message.
    hub.check_active(device_id).map_err(|error| (error, Some(seq)))?;
    // A message still queued on a connection that a newer one replaced must not overwrite the newer
    // connection's state or move the sequence baseline back.
    if !hub.is_current(device_id, connection) {
        return Err((ProtocolError::Replaced, Some(seq)));
    }
    check_sequence().map_err(|error| (error, Some(seq)))?;
    // The state goes to the engine first; the sequence is on disk before the ack leaves, so a restarted
    // desktop still refuses a replay of anything it acknowledged.
    hub.report_from_connection(device_id, connection, state);
    hub.touch(device_id, Some(seq));
    Ok(DesktopMessage::Ack { seq })
}
