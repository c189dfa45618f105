// Caret phone page: pairs this browser with Caret Desktop and sends its owner's state over relay protocol v1
// (docs/relay-protocol.md). The relay serves it with a strict Content-Security-Policy, so everything here
// is wired with addEventListener and every text from the network goes in with textContent, never as HTML.

const DEVICE_KEY = 'caret.device'; // {device_id, token, fingerprint, name}
const LAST_STATE_KEY = 'caret.lastState'; // the state last chosen here, re-sent as a snapshot on connect
const PROTOCOL = 1;
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30000;
const WELCOME_TIMEOUT_MS = 15000; // the desktop gives up on a silent hello after 10 s; we wait a bit longer
const DEFAULT_HEARTBEAT_SECS = 20;
const MAX_TITLE_CHARS = 200; // counted in characters (code points) by the desktop, refused rather than cut

const NOT_PAIRED = 'Not paired: on Caret Desktop choose Pair phone… and scan the code.';
const UNPAIRED_BY_DESKTOP = 'This phone was unpaired on the desktop. Scan a new code to pair again.';
const FORGOTTEN = 'This browser forgot its pairing. Revoke it in the Phones window of Caret Desktop, or choose Pair phone… there and scan the code to pair again.';

// The ten states without details, in the desktop's order, with its labels (caret-core StateKind::label).
const PLAIN_STATES = [
  ['available', 'Available'],
  ['busy', 'Busy'],
  ['in_call', 'In a call'],
  ['in_vehicle', 'In a vehicle'],
  ['silent', 'Silent'],
  ['walking', 'Walking'],
  ['running', 'Running'],
  ['biking', 'Biking'],
  ['sleeping', 'Sleeping'],
  ['offline', 'Phone offline'],
];
const LABELS = new Map([...PLAIN_STATES, ['event', 'At an event']]);

const $ = (id) => document.getElementById(id);

// ---- Storage. localStorage can throw (private modes, storage full); the page then just forgets. ----

function load(key) {
  try {
    return JSON.parse(localStorage.getItem(key));
  } catch {
    return null;
  }
}
/** Stores `value` under `key`; null removes the key. */
function store(key, value) {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, JSON.stringify(value));
  } catch {
    /* nothing to do: the page works without memory */
  }
}
const forget = (key) => store(key, null);

function loadDevice() {
  const device = load(DEVICE_KEY);
  return device && typeof device.device_id === 'string' && typeof device.token === 'string' ? device : null;
}

/** The remembered state, if it is still worth sending: an event only until it ends. */
function rememberedState() {
  const state = load(LAST_STATE_KEY);
  if (typeof state === 'string' && LABELS.has(state) && state !== 'event') return state;
  if (state && state.kind === 'event' && Date.parse(state.end) > Date.now()) return state;
  if (state !== null) forget(LAST_STATE_KEY);
  return null;
}

// ---- Small view helpers ----

const kindOf = (state) => (typeof state === 'string' ? state : state?.kind);
const labelOf = (state) => LABELS.get(kindOf(state)) ?? String(kindOf(state));

function timeOf(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** A state as a person reads it; an event with its title and end. */
function describe(state) {
  if (kindOf(state) !== 'event') return labelOf(state);
  const title = state.title ? `: ${state.title}` : '';
  return `At an event${title} (until ${timeOf(state.end)})`;
}

function live(text, kind = 'info') {
  const region = $('live');
  region.dataset.kind = kind;
  region.textContent = text;
}

function showScreen(name) {
  for (const screen of document.querySelectorAll('.screen')) screen.hidden = screen.id !== `screen-${name}`;
  $('conn').hidden = name !== 'main';
}

/** "9a41…" → "9A:41:…": the form people compare with the desktop's. */
function formatFingerprint(hex) {
  return hex.toUpperCase().match(/../g).join(':');
}

/** Shows a fingerprint as four lines of eight bytes, so no line breaks inside a byte. */
function renderFingerprint(element, hex) {
  const lines = formatFingerprint(hex).match(/.{1,24}/g); // "AB:" is 3 characters; the text stays whole
  element.replaceChildren(...lines.map((line) => Object.assign(document.createElement('span'), { textContent: line })));
}

function clearFragment() {
  // The fragment holds the one-time pairing secret: do not leave it in the address bar or history.
  history.replaceState(null, '', location.pathname + location.search);
}

// ---- Pairing ----

let pairing = null; // {secret, fp} from the link while the pairing screen is up

function showPairing(params) {
  const fp = (params.get('fp') ?? '').toLowerCase();
  const valid = /^[0-9a-f]{64}$/.test(fp);
  pairing = { secret: params.get('pair') ?? '', fp };
  if (valid) renderFingerprint($('fp'), fp);
  else $('fp').textContent = '—';
  $('fp-bad').hidden = valid;
  $('pair-button').disabled = !valid; // without a fingerprint nobody can check the certificate
  showScreen('pair');
}

async function pair(event) {
  event.preventDefault();
  if (!pairing) return;
  const name = $('pair-name').value.trim().replace(/\s+/g, ' ').slice(0, 64) || 'Phone';
  const button = $('pair-button');
  button.disabled = true;
  live('Pairing…');
  let response;
  let body = null;
  try {
    response = await fetch('/v1/pair', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'pair', secret: pairing.secret, name }),
    });
    body = await response.json().catch(() => null);
  } catch (error) {
    live(`Could not reach Caret Desktop: ${error.message}`, 'error');
    button.disabled = false;
    return;
  }
  const paired = response.ok && body?.type === 'paired' && typeof body.device_id === 'string' && typeof body.token === 'string';
  if (!paired) {
    const message = body?.type === 'error' && body.message ? body.message : `Pairing failed (HTTP ${response.status}).`;
    live(message, 'error');
    button.disabled = false;
    return;
  }
  const fingerprint = String(body.fingerprint ?? '').toLowerCase();
  if (fingerprint !== pairing.fp) {
    // The desktop that answered is not the one the QR code describes: keep nothing.
    live('Caret Desktop answered with another certificate fingerprint than the code shows. Pairing refused: scan the code again.', 'error');
    return;
  }
  device = { device_id: body.device_id, token: body.token, fingerprint, name };
  store(DEVICE_KEY, device);
  pairing = null;
  clearFragment();
  live('Paired with Caret Desktop.');
  startMain();
}

function showUnpaired(text) {
  $('unpaired-text').textContent = text;
  showScreen('unpaired');
}

// ---- The connection ----

let device = null;
let ws = null; // the live socket; events from older sockets are ignored
let welcomed = false; // the desktop answered this socket's hello
let lastErrorCode = null; // the last error code on this socket: it decides what a close means
let heartbeat = null;
let welcomeTimer = null;
let retryTimer = null;
let countdown = null;
let backoffMs = BACKOFF_MIN_MS;
let lastSeqSent = 0;

// Every state, snapshot and ping gets exactly one reply (ack, pong or error), in order; status pushes come
// in between. An error names its seq only for stale_seq, so a refused state is found by its place here.
let awaiting = []; // [{seq, state}], seq null for a ping
let pending = null; // {seq, state}: chosen, not acked yet (seq null: waits for the connection)
let current = null; // the state the desktop acked from this page
let currentSeq = -1;

/** seq = max(now, last sent + 1): increasing even across reloads, and within 2^53. */
function nextSeq() {
  lastSeqSent = Math.max(Date.now(), lastSeqSent + 1);
  return lastSeqSent;
}

function send(message) {
  if (!ws || ws.readyState !== WebSocket.OPEN) return false;
  ws.send(JSON.stringify(message));
  return true;
}

function setConnection(state, text) {
  $('conn').dataset.state = state;
  $('conn-text').textContent = text;
  $('reconnect').hidden = state !== 'replaced';
}

function stopTimers() {
  for (const timer of [heartbeat, countdown]) clearInterval(timer);
  for (const timer of [welcomeTimer, retryTimer]) clearTimeout(timer);
  heartbeat = countdown = welcomeTimer = retryTimer = null;
}

function connect() {
  stopTimers();
  if (!device) return;
  lastErrorCode = null;
  welcomed = false;
  awaiting = [];
  setConnection('connecting', 'Connecting…');
  // The relay serves this page over https; the browser tests serve it over plain http.
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  let socket;
  try {
    socket = new WebSocket(`${scheme}//${location.host}/v1/ws`);
  } catch (error) {
    live(`Could not connect: ${error.message}`, 'error');
    scheduleReconnect();
    return;
  }
  ws = socket;
  socket.addEventListener('open', () => {
    if (socket !== ws) return;
    send({ type: 'hello', protocol: PROTOCOL, device_id: device.device_id, token: device.token, name: device.name ?? 'Phone' });
  });
  socket.addEventListener('message', (event) => socket === ws && onMessage(event.data));
  socket.addEventListener('close', (event) => socket === ws && onClose(event));
  // A socket can hang while the network changes; close it so the backoff takes over.
  welcomeTimer = setTimeout(() => socket === ws && socket.close(), WELCOME_TIMEOUT_MS);
}

/** Closes the socket without the close counting as a loss (Reconnect button, unpairing). */
function disconnect() {
  const socket = ws;
  ws = null;
  welcomed = false;
  stopTimers();
  socket?.close(1000);
}

function onMessage(data) {
  let message;
  try {
    message = JSON.parse(data);
  } catch {
    return; // the desktop sends JSON text only
  }
  switch (message?.type) {
    case 'welcome':
      return onWelcome(message);
    case 'status':
      return renderStatus(message);
    case 'ack':
      return onAck(message);
    case 'pong':
      return settle(message);
    case 'error':
      return onError(message);
    default:
      return undefined; // unknown types are for a later protocol
  }
}

function onWelcome(message) {
  clearTimeout(welcomeTimer);
  welcomed = true;
  backoffMs = BACKOFF_MIN_MS;
  setConnection('connected', 'Connected');
  live('Connected to Caret Desktop.');
  // A state must come after the last one the desktop accepted, even one sent by an earlier page.
  if (Number.isSafeInteger(message.last_seq)) lastSeqSent = Math.max(lastSeqSent, message.last_seq);
  const secs = Number(message.heartbeat_secs) > 0 ? Number(message.heartbeat_secs) : DEFAULT_HEARTBEAT_SECS;
  heartbeat = setInterval(() => {
    if (send({ type: 'ping' })) awaiting.push({ seq: null });
  }, secs * 1000);
  // The desktop forgets a phone's state when its connection ends: restore it with a snapshot.
  const state = rememberedState();
  if (state) sendState('snapshot', state);
  else pending = null;
  renderWheel();
}

function sendState(type, state) {
  const seq = nextSeq();
  if (send({ type, seq, state })) {
    awaiting.push({ seq, state });
    pending = { seq, state };
  } else {
    pending = { seq: null, state };
  }
  renderWheel();
}

/** Takes the reply's request off `awaiting` and returns it. */
function settle(reply) {
  const index =
    reply.type === 'pong'
      ? awaiting.findIndex((entry) => entry.seq === null)
      : reply.seq != null
        ? awaiting.findIndex((entry) => entry.seq === reply.seq)
        : 0;
  return index >= 0 && index < awaiting.length ? awaiting.splice(index, 1)[0] : null;
}

function onAck(message) {
  const request = settle(message);
  if (!request || request.seq === null) return;
  if (request.seq > currentSeq) {
    current = request.state;
    currentSeq = request.seq;
  }
  if (pending?.seq === request.seq) {
    pending = null;
    live(`Caret Desktop has it: ${describe(request.state)}.`);
  }
  renderWheel();
}

function onError(message) {
  lastErrorCode = message.code ?? null;
  const request = settle(message);
  if (request && pending && request.seq === pending.seq) {
    // Refused: remember what the desktop has instead, so the refused state is not replayed as a snapshot.
    pending = null;
    store(LAST_STATE_KEY, current);
  }
  live(message.message || `Caret Desktop refused it (${message.code}).`, 'error');
  renderWheel();
}

function onClose(event) {
  const code = event.reason || lastErrorCode;
  ws = null;
  welcomed = false;
  stopTimers();
  awaiting = [];
  // The desktop dropped this phone's state with the connection; what was chosen waits for the next one.
  current = null;
  currentSeq = -1;
  const state = rememberedState();
  pending = state ? { seq: null, state } : null;
  renderWheel();
  if (code === 'unauthorized') {
    forgetDevice();
    showUnpaired(UNPAIRED_BY_DESKTOP);
    live(UNPAIRED_BY_DESKTOP, 'error');
    return;
  }
  if (code === 'replaced') {
    // Another tab or browser of this device took over; fighting it back would just ping-pong.
    setConnection('replaced', 'Opened elsewhere');
    live('Caret is open in another tab or browser with this pairing.');
    return;
  }
  scheduleReconnect();
}

function scheduleReconnect() {
  const at = Date.now() + backoffMs;
  backoffMs = Math.min(backoffMs * 2, BACKOFF_MAX_MS);
  const tick = () => setConnection('reconnecting', `Reconnecting in ${Math.max(1, Math.ceil((at - Date.now()) / 1000))} s`);
  tick();
  countdown = setInterval(tick, 1000);
  retryTimer = setTimeout(connect, at - Date.now());
}

/** Back from the background or the network: do not wait out the backoff. */
function reconnectSoon() {
  if (device && retryTimer !== null && document.visibilityState === 'visible') connect();
}

function forgetDevice() {
  device = null;
  forget(DEVICE_KEY);
  forget(LAST_STATE_KEY); // it belonged to that pairing
  current = pending = null;
}

// ---- The wheel ----

function buildWheel() {
  const ring = $('ring');
  for (const [state, label] of PLAIN_STATES) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'state';
    button.dataset.state = state;
    button.setAttribute('aria-pressed', 'false');
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('class', 'icon');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    const use = document.createElementNS('http://www.w3.org/2000/svg', 'use');
    use.setAttribute('href', `#i-${state}`);
    svg.append(use);
    const text = document.createElement('span');
    text.className = 'label';
    text.textContent = label;
    button.append(svg, text);
    button.addEventListener('click', () => choose(state));
    const item = document.createElement('li');
    item.append(button);
    ring.append(item);
  }
}

function renderWheel() {
  const pendingKind = kindOf(pending?.state);
  const currentKind = kindOf(current);
  for (const button of document.querySelectorAll('#ring .state')) {
    const state = button.dataset.state;
    button.setAttribute('aria-pressed', String(state === currentKind && !pending));
    button.classList.toggle('pending', state === pendingKind);
  }
  const hub = $('event-toggle');
  hub.classList.toggle('current', currentKind === 'event' && !pending);
  hub.classList.toggle('pending', pendingKind === 'event');
  if (pending) {
    const when = pending.seq === null ? 'sent when connected' : 'sending…';
    $('you').textContent = `You: ${describe(pending.state)} (${when})`;
  } else {
    $('you').textContent = current ? `You: ${describe(current)}` : 'Choose your state.';
  }
}

function choose(state) {
  store(LAST_STATE_KEY, state);
  if (welcomed) {
    sendState('state', state);
  } else {
    pending = { seq: null, state };
    renderWheel();
    live(`Not connected: Caret Desktop gets ${describe(state)} when the phone reconnects.`);
  }
}

// ---- The event form ----

function toggleEventForm(open) {
  const form = $('event-form');
  form.hidden = !open;
  $('event-toggle').setAttribute('aria-expanded', String(open));
  if (open) {
    form.scrollIntoView({ block: 'nearest' });
    $('event-title').focus();
  }
}

/** The end the form asks for: minutes from now, or the next time of day given. */
function eventEnd(now) {
  const choice = $('event-ends').value;
  if (choice !== 'at') return new Date(now.getTime() + Number(choice) * 60000);
  const [hours, minutes] = $('event-end-time').value.split(':').map(Number);
  if (!Number.isInteger(hours) || !Number.isInteger(minutes)) return null;
  const end = new Date(now);
  end.setHours(hours, minutes, 0, 0);
  if (end <= now) end.setDate(end.getDate() + 1); // 01:00 chosen at 23:00 means tomorrow
  return end;
}

function submitEvent(event) {
  event.preventDefault();
  const title = $('event-title').value.trim();
  if ([...title].length > MAX_TITLE_CHARS) {
    live(`The title is longer than ${MAX_TITLE_CHARS} characters.`, 'error');
    return;
  }
  const now = new Date();
  const end = eventEnd(now);
  if (!end) {
    live('Choose the time the event ends.', 'error');
    $('event-end-time').focus();
    return;
  }
  toggleEventForm(false);
  choose({ kind: 'event', title, start: now.toISOString(), end: end.toISOString() });
}

// ---- What Slack shows ----

function renderStatus(message) {
  $('effective').textContent = message.effective ? describe(message.effective) : 'Nothing shared';
  const shown = Array.isArray(message.shown) ? message.shown : [];
  const list = $('shown');
  list.replaceChildren(
    ...shown.map((entry) => {
      const item = document.createElement('li');
      const what = [entry.emoji, entry.text].filter(Boolean).join(' ');
      item.textContent = `${entry.workspace}: ${what}`;
      return item;
    }),
  );
  $('shown-empty').hidden = shown.length > 0;
}

// ---- Start ----

function startMain() {
  showScreen('main');
  renderWheel();
  connect();
}

/** Decides the screen from the stored credentials and the address's fragment. */
function route() {
  const params = new URLSearchParams(location.hash.slice(1));
  if (params.has('pair')) {
    if (!device) return showPairing(params);
    clearFragment(); // already paired: the secret is of no use here, and must not linger
    if (ws || retryTimer) return undefined; // already running
  }
  if (!device) return showUnpaired(NOT_PAIRED);
  return startMain();
}

function init() {
  buildWheel();
  $('pair-form').addEventListener('submit', pair);
  $('event-form').addEventListener('submit', submitEvent);
  $('event-toggle').addEventListener('click', () => toggleEventForm($('event-form').hidden));
  $('event-cancel').addEventListener('click', () => toggleEventForm(false));
  $('event-ends').addEventListener('change', () => {
    $('event-at').hidden = $('event-ends').value !== 'at';
  });
  $('reconnect').addEventListener('click', () => {
    backoffMs = BACKOFF_MIN_MS;
    disconnect();
    connect();
  });
  $('unpair').addEventListener('click', () => {
    disconnect();
    forgetDevice();
    renderWheel();
    showUnpaired(FORGOTTEN);
    live('This browser is no longer paired.');
  });
  // A second QR code scanned into the same tab changes only the fragment: no reload.
  window.addEventListener('hashchange', () => new URLSearchParams(location.hash.slice(1)).has('pair') && route());
  document.addEventListener('visibilitychange', reconnectSoon);
  window.addEventListener('online', reconnectSoon);
  device = loadDevice();
  const state = rememberedState();
  if (state) pending = { seq: null, state };
  route();
}

init();
