//! The phone side of protocol v1, in Rust: what the CLI phone and the tests use.
//!
//! TLS here never trusts a certificate authority: the relay's certificate is self-signed, so the client
//! either pins the fingerprint it was given (the QR path, and every connection after pairing) or, for the
//! typed-code path only, records the fingerprint it saw and lets the PAKE confirmation prove it was the
//! desktop's (see [`crate::pake`]).
//!
//! Every step that waits on the desktop (TCP connect, TLS handshake, an HTTP exchange, the WebSocket
//! handshake, each message sent and each reply awaited) has its own deadline, [`STEP_DEADLINE`], so a
//! desktop that goes silent, or something else listening on its port, never hangs a phone. Only
//! [`PhoneConnection::receive`] waits as long as it takes: pushes come when the desktop has something to say.

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use crate::identity::Fingerprint;
use crate::pake::{PakeExchange, from_hex, to_hex};

/// Everything that can go wrong on the phone side.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to {address}: {source}")]
    Connect {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS: {0} (is the certificate the one paired with?)")]
    Tls(std::io::Error),
    #[error("WebSocket: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("HTTP: {0}")]
    Http(String),
    #[error("the desktop refused: {code}: {message}")]
    Refused { code: String, message: String },
    #[error("unexpected answer from the desktop: {0}")]
    Unexpected(String),
    #[error("the desktop's confirmation did not check: someone may be in the middle; pairing abandoned")]
    ConfirmationFailed,
    #[error("not a Caret pairing link: {0}")]
    BadPairingLink(String),
    #[error("the connection closed")]
    Closed,
    /// The desktop closed the WebSocket with a close frame: its code (1001 going away, 1008 policy…) and
    /// reason (the error code, see docs/relay-protocol.md#closing).
    #[error("the desktop closed the connection ({code} {reason})")]
    ClosedBy { code: u16, reason: String },
    #[error(
        "the desktop did not answer in time ({step}, {after:?}): is it running, and is this its address?"
    )]
    Timeout { step: &'static str, after: Duration },
}

/// How long each step may wait on the desktop. A desktop on the LAN answers within milliseconds; this leaves
/// room for a phone on a weak Wi-Fi.
pub const STEP_DEADLINE: Duration = Duration::from_secs(10);

tokio::task_local! {
    /// The deadline for each step within [`with_step_deadline`], in place of [`STEP_DEADLINE`].
    static SCOPED_STEP_DEADLINE: Duration;
}

/// Runs `future` (pairing, a connection, a request) with `deadline` for each of its steps instead of
/// [`STEP_DEADLINE`]: for a phone on a slow link, and for tests, which cannot wait ten seconds a step.
pub async fn with_step_deadline<F: Future>(deadline: Duration, future: F) -> F::Output {
    SCOPED_STEP_DEADLINE.scope(deadline, future).await
}

fn step_deadline() -> Duration {
    SCOPED_STEP_DEADLINE
        .try_with(|deadline| *deadline)
        .unwrap_or(STEP_DEADLINE)
}

/// One step that waits on the desktop, under the step deadline.
async fn step<T, E: Into<ClientError>>(
    name: &'static str,
    future: impl Future<Output = Result<T, E>>,
) -> Result<T, ClientError> {
    let deadline = step_deadline();
    match tokio::time::timeout(deadline, future).await {
        Ok(result) => result.map_err(Into::into),
        Err(_) => Err(ClientError::Timeout {
            step: name,
            after: deadline,
        }),
    }
}

/// What a paired phone keeps. The token is never shown in `Debug`.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Credentials {
    pub device_id: String,
    pub token: String,
    /// Hex SHA-256 of the desktop's certificate, pinned from now on.
    pub fingerprint: String,
    /// Where the desktop was reached.
    pub address: SocketAddr,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("device_id", &self.device_id)
            .field("fingerprint", &self.fingerprint)
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// Accepts exactly one certificate (by SHA-256) or, unpinned, any certificate while recording what it saw.
#[derive(Debug)]
struct FingerprintVerifier {
    pinned: Option<Fingerprint>,
    seen: Mutex<Option<Fingerprint>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for FingerprintVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let fingerprint = Fingerprint::of(end_entity.as_ref());
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(fingerprint);
        }
        match self.pinned {
            Some(pinned) if pinned != fingerprint => Err(rustls::Error::General(format!(
                "certificate fingerprint {fingerprint} is not the pinned {pinned}"
            ))),
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A TLS connection to the relay and the certificate fingerprint it presented.
pub async fn connect_tls(
    address: SocketAddr,
    pinned: Option<Fingerprint>,
) -> Result<(TlsStream<TcpStream>, Fingerprint), ClientError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(FingerprintVerifier {
        pinned,
        seen: Mutex::new(None),
        provider: provider.clone(),
    });
    // The relay speaks TLS 1.3 only.
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|error| ClientError::Tls(std::io::Error::other(error)))?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    let tcp = step("TCP connect", async {
        TcpStream::connect(address)
            .await
            .map_err(|source| ClientError::Connect { address, source })
    })
    .await?;
    let _ = tcp.set_nodelay(true);
    // The name is not checked (the fingerprint is); rustls needs one for SNI.
    let name = ServerName::try_from("caret.local")
        .map_err(|error| ClientError::Tls(std::io::Error::other(error)))?;
    let connector = TlsConnector::from(Arc::new(config));
    let tls = step("TLS handshake", async {
        connector.connect(name, tcp).await.map_err(ClientError::Tls)
    })
    .await?;
    let seen = verifier
        .seen
        .lock()
        .ok()
        .and_then(|seen| *seen)
        .ok_or_else(|| ClientError::Unexpected("no certificate was presented".into()))?;
    Ok((tls, seen))
}

/// An HTTPS request over a pinned connection; returns the status and the JSON body.
pub async fn https_request(
    address: SocketAddr,
    pinned: Fingerprint,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Vec<u8>,
) -> Result<(u16, Value), ClientError> {
    let (tls, _) = connect_tls(address, Some(pinned)).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
        .await
        .map_err(|error| ClientError::Http(error.to_string()))?;
    // The connection's own task ends with the exchange, or some time after the exchange's deadline if the
    // desktop falls silent: never before it, or the exchange would see "dispatch task is gone" instead of
    // its timeout.
    tokio::spawn(tokio::time::timeout(step_deadline() * 2, connection));
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", address.to_string())
        .header("content-type", "application/json");
    if let Some(token) = bearer {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|error| ClientError::Http(error.to_string()))?;
    let exchange = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|error| ClientError::Http(error.to_string()))?;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|error| ClientError::Http(error.to_string()))?
            .to_bytes();
        Ok::<_, ClientError>((status, bytes))
    };
    let (status, bytes) = step("HTTP answer", exchange).await?;
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok((status, json))
}

fn refused(answer: &Value) -> ClientError {
    ClientError::Refused {
        code: answer["code"].as_str().unwrap_or("unknown").to_owned(),
        message: answer["message"].as_str().unwrap_or_default().to_owned(),
    }
}

fn credentials_from(answer: &Value, address: SocketAddr) -> Result<Credentials, ClientError> {
    if answer["type"] != "paired" {
        return Err(if answer["type"] == "error" {
            refused(answer)
        } else {
            ClientError::Unexpected(answer.to_string())
        });
    }
    let field = |name: &str| {
        answer[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| ClientError::Unexpected(format!("no {name} in the pairing answer")))
    };
    Ok(Credentials {
        device_id: field("device_id")?,
        token: field("token")?,
        fingerprint: field("fingerprint")?,
        address,
    })
}

/// What a pairing QR code holds: `https://HOST:PORT/#pair=SECRET&fp=FINGERPRINT&hosts=A,B`.
#[derive(Clone, PartialEq, Eq)]
pub struct PairingLink {
    pub addresses: Vec<SocketAddr>,
    pub secret: String,
    pub fingerprint: Fingerprint,
}

impl fmt::Debug for PairingLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PairingLink")
            .field("addresses", &self.addresses)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl PairingLink {
    pub fn parse(link: &str) -> Result<PairingLink, ClientError> {
        let bad = |why: &str| ClientError::BadPairingLink(why.to_owned());
        let rest = link
            .trim()
            .strip_prefix("https://")
            .ok_or_else(|| bad("it must start with https://"))?;
        let (authority, fragment) = rest.split_once("/#").ok_or_else(|| bad("no #pair=… part"))?;
        let port = authority
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse::<u16>().ok())
            .ok_or_else(|| bad("no port"))?;
        let mut secret = None;
        let mut fingerprint = None;
        let mut hosts = Vec::new();
        for pair in fragment.split('&') {
            match pair.split_once('=') {
                Some(("pair", value)) => secret = Some(value.to_owned()),
                Some(("fp", value)) => fingerprint = Fingerprint::parse(value),
                Some(("hosts", value)) => hosts = value.split(',').map(str::to_owned).collect(),
                _ => {}
            }
        }
        let addresses: Vec<SocketAddr> = hosts
            .iter()
            .filter_map(|host| host.trim_matches(['[', ']']).parse().ok())
            .map(|ip| SocketAddr::new(ip, port))
            .collect();
        if addresses.is_empty() {
            return Err(bad("no host addresses"));
        }
        Ok(PairingLink {
            addresses,
            secret: secret.ok_or_else(|| bad("no pairing secret"))?,
            fingerprint: fingerprint.ok_or_else(|| bad("no valid certificate fingerprint"))?,
        })
    }
}

/// Pairs by the QR code's link: the certificate is pinned before anything is sent.
pub async fn pair_with_link(link: &PairingLink, name: &str) -> Result<Credentials, ClientError> {
    let body = serde_json::json!({"type": "pair", "secret": link.secret, "name": name}).to_string();
    let mut last_error = ClientError::BadPairingLink("no addresses".into());
    for address in &link.addresses {
        match https_request(
            *address,
            link.fingerprint,
            "POST",
            "/v1/pair",
            None,
            body.clone().into_bytes(),
        )
        .await
        {
            Ok((_, answer)) => return credentials_from(&answer, *address),
            Err(error) => last_error = error,
        }
    }
    Err(last_error)
}

type Socket = WebSocketStream<TlsStream<TcpStream>>;

async fn open_socket(
    address: SocketAddr,
    pinned: Option<Fingerprint>,
    path: &str,
) -> Result<(Socket, Fingerprint), ClientError> {
    let (tls, seen) = connect_tls(address, pinned).await?;
    let (socket, _) = step(
        "WebSocket handshake",
        tokio_tungstenite::client_async(format!("wss://{address}{path}"), tls),
    )
    .await?;
    Ok((socket, seen))
}

/// Sends one message, under the step deadline (a desktop that stops reading would block it).
async fn send_message(socket: &mut Socket, message: Message) -> Result<(), ClientError> {
    step("sending", socket.send(message)).await
}

/// The desktop's answer to what was just sent, under the step deadline.
async fn receive_answer(socket: &mut Socket, step_name: &'static str) -> Result<Value, ClientError> {
    step(step_name, receive_json(socket)).await
}

async fn receive_json(socket: &mut Socket) -> Result<Value, ClientError> {
    loop {
        match socket.next().await {
            None => return Err(ClientError::Closed),
            Some(Err(error)) => return Err(error.into()),
            Some(Ok(Message::Text(text))) => {
                return serde_json::from_str(text.as_str())
                    .map_err(|error| ClientError::Unexpected(error.to_string()));
            }
            Some(Ok(Message::Close(Some(frame)))) => {
                return Err(ClientError::ClosedBy {
                    code: frame.code.into(),
                    reason: frame.reason.to_string(),
                });
            }
            Some(Ok(Message::Close(None))) => return Err(ClientError::Closed),
            Some(Ok(_)) => continue,
        }
    }
}

/// Pairs by a typed short code: SPAKE2 over an unpinned connection, then key confirmation bound to the
/// certificate seen, which is pinned from then on.
pub async fn pair_with_code(address: SocketAddr, code: &str, name: &str) -> Result<Credentials, ClientError> {
    let (mut socket, seen) = open_socket(address, None, "/v1/pair/code").await?;
    let (exchange, outbound) = PakeExchange::start(code);
    let start = serde_json::json!({"type": "pake", "msg": to_hex(&outbound), "name": name});
    send_message(&mut socket, Message::Text(start.to_string().into())).await?;
    let answer = receive_answer(&mut socket, "the desktop's pake").await?;
    if answer["type"] != "pake" {
        return Err(refused(&answer));
    }
    let inbound = answer["msg"]
        .as_str()
        .and_then(|text| from_hex(text, 64))
        .ok_or_else(|| ClientError::Unexpected(answer.to_string()))?;
    let key = exchange.finish(&inbound).ok_or(ClientError::ConfirmationFailed)?;
    let confirm = serde_json::json!({"type": "confirm", "mac": to_hex(&key.phone_mac(&seen))});
    send_message(&mut socket, Message::Text(confirm.to_string().into())).await?;
    let answer = receive_answer(&mut socket, "the pairing answer").await?;
    let credentials = credentials_from(&answer, address)?;
    let mac = answer["mac"]
        .as_str()
        .and_then(|text| from_hex(text, 64))
        .unwrap_or_default();
    if credentials.fingerprint != seen.hex()
        || !key.verify_desktop_mac(&seen, &credentials.device_id, &credentials.token, &mac)
    {
        return Err(ClientError::ConfirmationFailed);
    }
    Ok(credentials)
}

/// A paired phone's live connection.
pub struct PhoneConnection {
    socket: Socket,
    /// The `welcome` message.
    pub welcome: Value,
}

impl fmt::Debug for PhoneConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhoneConnection")
            .field("welcome", &self.welcome)
            .finish_non_exhaustive()
    }
}

impl PhoneConnection {
    /// Connects with the pinned certificate and says hello; fails if the desktop refuses.
    pub async fn open(credentials: &Credentials, name: &str) -> Result<PhoneConnection, ClientError> {
        let pinned = Fingerprint::parse(&credentials.fingerprint)
            .ok_or_else(|| ClientError::Unexpected("the stored fingerprint is not valid".into()))?;
        let (socket, _) = open_socket(credentials.address, Some(pinned), "/v1/ws").await?;
        let mut connection = PhoneConnection {
            socket,
            welcome: Value::Null,
        };
        connection
            .send_json(&serde_json::json!({
                "type": "hello", "protocol": 1, "device_id": credentials.device_id,
                "token": credentials.token, "name": name,
            }))
            .await?;
        let welcome = receive_answer(&mut connection.socket, "welcome").await?;
        if welcome["type"] != "welcome" {
            return Err(refused(&welcome));
        }
        connection.welcome = welcome;
        Ok(connection)
    }

    pub async fn send_json(&mut self, message: &Value) -> Result<(), ClientError> {
        self.send_raw(message.to_string().into_bytes()).await
    }

    /// Sends bytes as they are (tests use it for hostile frames).
    pub async fn send_raw(&mut self, frame: Vec<u8>) -> Result<(), ClientError> {
        let message = match String::from_utf8(frame) {
            Ok(text) => Message::Text(text.into()),
            Err(error) => Message::Binary(error.into_bytes().into()),
        };
        send_message(&mut self.socket, message).await
    }

    /// The next message from the desktop, however long it takes: a push comes when the desktop has one.
    pub async fn receive(&mut self) -> Result<Value, ClientError> {
        receive_json(&mut self.socket).await
    }

    /// The next message that is not a pushed `status` (pushes arrive whenever the desktop's status changes):
    /// the reply to what was sent, under the step deadline.
    pub async fn receive_reply(&mut self) -> Result<Value, ClientError> {
        let socket = &mut self.socket;
        step("reply", async move {
            loop {
                let message = receive_json(socket).await?;
                if message["type"] != "status" {
                    return Ok::<_, ClientError>(message);
                }
            }
        })
        .await
    }

    pub async fn close(mut self) {
        let _ = step("closing", self.socket.close(None)).await;
    }
}
