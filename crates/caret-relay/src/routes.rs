//! The relay's endpoints: the phone WebSocket, the automation endpoint, and the two pairing paths.

mod phone_session;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::{BodyExt, Limited};
use tokio::sync::OwnedSemaphorePermit;

use self::phone_session::phone_socket;
use crate::error::ProtocolError;
use crate::hub::{Hub, PairingMethod};
use crate::pake::{PakeExchange, to_hex};
use crate::protocol::{
    DesktopMessage, MAX_FRAME_BYTES, PairingMessage, PairingReply, parse_http_state, parse_pairing_frame,
};
use crate::server::{ConnectionSlot, Peer};

/// The largest WebSocket message read at all. Between [`MAX_FRAME_BYTES`] and this a message gets a
/// `frame_too_large` answer and the connection stays; above it the connection is closed (close code 1009).
const MAX_WEBSOCKET_MESSAGE: usize = 64 * 1024;

pub(crate) fn router(hub: Arc<Hub>) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { phone_page_file(PHONE_PAGE_HTML, "text/html; charset=utf-8") }),
        )
        .route(
            "/page.js",
            get(|| async { phone_page_file(PHONE_PAGE_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/page.css",
            get(|| async { phone_page_file(PHONE_PAGE_CSS, "text/css; charset=utf-8") }),
        )
        .route("/v1/ws", get(phone_socket))
        .route("/v1/state", post(post_state))
        .route("/v1/pair", post(pair_with_secret))
        .route("/v1/pair/code", get(pair_with_code))
        .fallback(not_found)
        .with_state(hub)
}

// The phone page (crates/caret-relay/phone), built into the binary: nothing to install, nothing on disk to
// tamper with.
const PHONE_PAGE_HTML: &str = include_str!("../phone/index.html");
const PHONE_PAGE_JS: &str = include_str!("../phone/page.js");
const PHONE_PAGE_CSS: &str = include_str!("../phone/page.css");

/// The page may load only its own script and style and talk only to this relay: even an injected string
/// could not run or send anything elsewhere.
const PHONE_PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn phone_page_file(body: &'static str, content_type: &'static str) -> Response {
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PHONE_PAGE_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // A new desktop version brings a new page: browsers check each time (the files are small).
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn json_response(status: u16, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn error_response(error: &ProtocolError) -> Response {
    let body = DesktopMessage::Error(error.to_message(None)).to_json();
    let mut response = json_response(error.http_status(), body);
    if matches!(error, ProtocolError::Unauthorized) {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"caret-relay\""),
        );
    }
    if let ProtocolError::RateLimited { retry_after_ms } = error {
        let seconds = retry_after_ms.div_ceil(1000).max(1);
        if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
    }
    response
}

async fn not_found() -> Response {
    json_response(
        404,
        r#"{"type":"error","code":"not_found","message":"no such endpoint; see docs/relay-protocol.md"}"#
            .into(),
    )
}

/// Reads a request body within the size limit and the relay's patience.
async fn read_body(hub: &Hub, body: Body) -> Result<Bytes, ProtocolError> {
    let limited = Limited::new(body, MAX_FRAME_BYTES);
    match tokio::time::timeout(hub.config.patience, limited.collect()).await {
        Err(_) => Err(ProtocolError::Timeout),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => {
            Err(ProtocolError::FrameTooLarge {
                size: MAX_FRAME_BYTES + 1,
                limit: MAX_FRAME_BYTES,
            })
        }
        Ok(Err(_)) => Err(ProtocolError::Timeout),
    }
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// `POST /v1/state` for automation tools: a bearer token and `{"state": …, "for_secs": …}`.
async fn post_state(State(hub): State<Arc<Hub>>, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        let token = bearer_token(&headers).ok_or(ProtocolError::Unauthorized)?;
        let device = hub.authenticate_bearer(token)?;
        hub.check_rate(&device.id)?;
        let bytes = read_body(&hub, body).await?;
        let (state, for_secs) = parse_http_state(&bytes)?;
        // To the engine first: the last-seen time is bookkeeping, not on the way to Slack.
        hub.report_from_http(&device.id, state, Duration::from_secs(for_secs));
        hub.touch(&device.id, None);
        Ok::<_, ProtocolError>(for_secs)
    }
    .await;
    match result {
        Ok(for_secs) => json_response(200, format!(r#"{{"type":"accepted","for_secs":{for_secs}}}"#)),
        Err(error) => error_response(&error),
    }
}

/// `POST /v1/pair`: the QR path. The phone pinned the certificate from the QR code, so the channel is
/// already trusted; the one-time secret proves the phone saw the QR code.
async fn pair_with_secret(
    State(hub): State<Arc<Hub>>,
    Extension(Peer(peer)): Extension<Peer>,
    body: Body,
) -> Response {
    let result = async {
        let bytes = read_body(&hub, body).await?;
        let PairingMessage::Pair { secret, name } = parse_pairing_frame(&bytes)? else {
            return Err(ProtocolError::InvalidField {
                message_type: "pair".into(),
                detail: "this endpoint takes {\"type\": \"pair\", \"secret\": …}".into(),
            });
        };
        hub.with_pairing(|window| window.redeem(&secret))?;
        hub.complete_pairing(name, PairingMethod::QrCode, peer)
            .map_err(|error| {
                tracing::error!("relay: pairing failed: {error}");
                ProtocolError::Internal
            })
    }
    .await;
    match result {
        Ok(device) => json_response(
            200,
            PairingReply::Paired {
                device_id: device.id.clone(),
                token: device.token.clone(),
                fingerprint: hub.fingerprint.hex(),
                heartbeat_secs: hub.heartbeat_secs(),
                mac: None,
            }
            .to_json(),
        ),
        Err(error) => error_response(&error),
    }
}

/// How long one message may take to leave. A phone that stops reading would otherwise hold its session
/// (and a connection slot) forever, deaf to revocation, replacement and its own heartbeat deadline.
const SEND_DEADLINE: Duration = Duration::from_secs(10);

/// Sends one JSON text message; `false` if the phone is gone or not reading.
async fn send_text(socket: &mut WebSocket, json: String) -> bool {
    matches!(
        tokio::time::timeout(SEND_DEADLINE, socket.send(Message::Text(json.into()))).await,
        Ok(Ok(()))
    )
}

/// Sends the error, then closes with a close frame whose reason is the error code: 1009 (too big) for an
/// oversized message, 1007 (inconsistent data) for a text message that is not UTF-8, 1001 (going away) at
/// shutdown, 1008 (policy violation) for every other refusal.
async fn close_with(socket: &mut WebSocket, error: &ProtocolError) {
    let _ = send_text(socket, DesktopMessage::Error(error.to_message(None)).to_json()).await;
    let code = match error {
        ProtocolError::FrameTooLarge { .. } => 1009,
        ProtocolError::TextNotUtf8 => 1007,
        ProtocolError::ShuttingDown => 1001,
        _ => 1008,
    };
    let close = Message::Close(Some(CloseFrame {
        code,
        reason: error.code().into(),
    }));
    let _ = tokio::time::timeout(SEND_DEADLINE, socket.send(close)).await;
}

/// What the next read from a WebSocket brought.
enum Incoming {
    Frame(Bytes),
    /// Over the WebSocket message limit: the phone is told and the connection closed (1009).
    TooBig,
    /// A text message that is not UTF-8. The WebSocket layer reads nothing more after it, but can still
    /// send: the phone is told and the connection closed (1007), as RFC 6455 asks.
    NotUtf8,
    /// The phone closed, or the connection broke.
    Gone,
}

/// The next data message (text or binary), skipping WebSocket pings and pongs.
async fn next_frame(socket: &mut WebSocket) -> Incoming {
    loop {
        match socket.recv().await {
            Some(Ok(Message::Text(text))) => return Incoming::Frame(Bytes::from(text)),
            Some(Ok(Message::Binary(bytes))) => return Incoming::Frame(bytes),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Err(error)) => return read_failure(&error),
            Some(Ok(Message::Close(_))) | None => return Incoming::Gone,
        }
    }
}

/// What a failed WebSocket read means for the phone: a message over the size limit, a text message that
/// is not UTF-8, or a connection that is gone.
fn read_failure(error: &axum::Error) -> Incoming {
    use std::error::Error as _;
    use tokio_tungstenite::tungstenite::Error as WsError;
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(tungstenite) = cause.downcast_ref::<WsError>() {
            return match tungstenite {
                WsError::Capacity(_) => Incoming::TooBig,
                WsError::Utf8(_) => Incoming::NotUtf8,
                _ => Incoming::Gone,
            };
        }
        source = cause.source();
    }
    Incoming::Gone
}

fn too_big() -> ProtocolError {
    ProtocolError::FrameTooLarge {
        size: MAX_WEBSOCKET_MESSAGE + 1,
        limit: MAX_FRAME_BYTES,
    }
}

fn upgrade_limits(upgrade: WebSocketUpgrade) -> WebSocketUpgrade {
    upgrade
        .max_message_size(MAX_WEBSOCKET_MESSAGE)
        .max_frame_size(MAX_WEBSOCKET_MESSAGE)
}

/// `GET /v1/pair/code`: the typed-code path (SPAKE2 + fingerprint-bound confirmation, see [`crate::pake`]).
async fn pair_with_code(
    State(hub): State<Arc<Hub>>,
    Extension(Peer(peer)): Extension<Peer>,
    Extension(slot): Extension<ConnectionSlot>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let permit: Option<OwnedSemaphorePermit> = slot.take();
    let session = hub.track_session();
    upgrade_limits(upgrade)
        .on_upgrade(move |mut socket| async move {
            // An exchange cut short by shutdown is the desktop's doing: it does not count as an attempt
            // (nothing is recorded until the phone's last message has been read).
            let outcome = tokio::select! {
                outcome = run_code_pairing(&hub, &mut socket, peer) => outcome,
                () = hub.until_stopping() => Err(ProtocolError::ShuttingDown),
            };
            match outcome {
                Ok(reply) => {
                    let _ = send_text(&mut socket, reply.to_json()).await;
                    let _ = socket.send(Message::Close(None)).await;
                }
                Err(error) => close_with(&mut socket, &error).await,
            }
            drop(permit);
            drop(session);
        })
        .into_response()
}

async fn next_pairing_message(hub: &Hub, socket: &mut WebSocket) -> Result<PairingMessage, ProtocolError> {
    match tokio::time::timeout(hub.config.patience, next_frame(socket)).await {
        Err(_) | Ok(Incoming::Gone) => Err(ProtocolError::Timeout),
        Ok(Incoming::TooBig) => Err(too_big()),
        Ok(Incoming::NotUtf8) => Err(ProtocolError::TextNotUtf8),
        Ok(Incoming::Frame(frame)) => parse_pairing_frame(&frame),
    }
}

async fn run_code_pairing(
    hub: &Hub,
    socket: &mut WebSocket,
    peer: std::net::SocketAddr,
) -> Result<PairingReply, ProtocolError> {
    let PairingMessage::Pake { message, name } = next_pairing_message(hub, socket).await? else {
        return Err(ProtocolError::InvalidField {
            message_type: "pake".into(),
            detail: "the exchange starts with {\"type\": \"pake\", \"msg\": …}".into(),
        });
    };
    // The exchange belongs to this window: if the user opens a new one meanwhile, this attempt neither
    // uses nor counts against it.
    let (generation, short_code) = hub.with_pairing_generation(None, |window| {
        window.ensure_open()?;
        Ok(window.short_code().to_owned())
    })?;
    let (exchange, outbound) = PakeExchange::start(&short_code);
    // From here on the attempt counts unless it confirms: an exchange abandoned halfway is a guess too.
    let key = exchange.finish(&message);
    let sent = send_text(
        socket,
        PairingReply::Pake {
            msg: to_hex(&outbound),
        }
        .to_json(),
    )
    .await;
    // `Err(true)`: the phone did not answer in time (or left), `Err(false)`: it answered wrong.
    let confirmed = match (key, sent) {
        (Some(key), true) => match next_pairing_message(hub, socket).await {
            Ok(PairingMessage::Confirm { mac }) if key.verify_phone_mac(&hub.fingerprint, &mac) => Ok(key),
            Err(ProtocolError::Timeout) => Err(true),
            _ => Err(false),
        },
        _ => Err(false),
    };
    let key = match confirmed {
        Ok(key) => key,
        Err(timed_out) => {
            let refusal = hub
                .with_pairing_generation(Some(generation), |window| {
                    Err::<(), _>(window.record_wrong_attempt())
                })
                .err()
                .unwrap_or(ProtocolError::PairingClosed);
            // Counted all the same, but a phone that was too slow should not be told its code was wrong.
            return Err(match refusal {
                ProtocolError::WrongPairingSecret { attempts_left } if timed_out => {
                    ProtocolError::PairingTimeout { attempts_left }
                }
                other => other,
            });
        }
    };
    hub.with_pairing_generation(Some(generation), |window| window.consume())?;
    let device = hub
        .complete_pairing(name, PairingMethod::TypedCode, peer)
        .map_err(|error| {
            tracing::error!("relay: pairing failed: {error}");
            ProtocolError::Internal
        })?;
    let mac = key.desktop_mac(&hub.fingerprint, &device.id, &device.token);
    Ok(PairingReply::Paired {
        device_id: device.id.clone(),
        token: device.token.clone(),
        fingerprint: hub.fingerprint.hex(),
        heartbeat_secs: hub.heartbeat_secs(),
        mac: Some(to_hex(&mac)),
    })
}
