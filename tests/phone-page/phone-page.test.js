// Browser tests of the phone page (crates/caret-relay/phone) in Debian's Chromium, as a phone.
//
// A tiny node:http server serves the three page files with the relay's Content-Security-Policy, so a
// violation (an inline script or style, an external resource) shows up as a console error and fails the
// test. Playwright plays the desktop: page.route answers POST /v1/pair, page.routeWebSocket answers
// /v1/ws (see docs/relay-protocol.md).

import assert from 'node:assert/strict';
import { readFile, mkdir } from 'node:fs/promises';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const PAGE_DIR = join(HERE, '..', '..', 'crates', 'caret-relay', 'phone');
const SCREENSHOTS = join(HERE, 'screenshots');

// What the relay will send with the page (kept in step with the Rust route).
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const FILES = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/page.js': ['page.js', 'text/javascript; charset=utf-8'],
  '/page.css': ['page.css', 'text/css; charset=utf-8'],
};

const SECRET = '5f0c2b7a9e1d4c3b8a6f0e2d1c4b7a90';
const FP = '9a41d7c3b2e1f0a5968778695a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b';
const FP_SHOWN = '9A:41:D7:C3:B2:E1:F0:A5:96:87:78:69:5A:4B:3C:2D:1E:0F:9A:8B:7C:6D:5E:4F:3A:2B:1C:0D:9E:8F:7A:6B';
const DEVICE = { device_id: 'd_7f3a09c2e41b5d88', token: 'ab'.repeat(32), fingerprint: FP };
const UNPAIRED = 'This phone was unpaired on the desktop. Scan a new code to pair again.';
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true };

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Retries an assertion until it passes or `timeout` ms are over; then throws its last failure. */
async function eventually(check, timeout = 5000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(25);
    }
  }
}

/** The desktop's side of /v1/ws. Records what the page sends; answers like the relay unless told not to. */
class MockRelay {
  constructor(page, { heartbeatSecs = 20, lastSeq = null, autoAck = true, onHello } = {}) {
    Object.assign(this, { page, heartbeatSecs, lastSeq, autoAck, onHello });
    this.connections = []; // WebSocketRoute per connection, in order
    this.received = []; // {conn, at, ...message}
  }

  async install() {
    await this.page.routeWebSocket('**/v1/ws', (ws) => {
      const conn = this.connections.push(ws) - 1;
      ws.onMessage((raw) => this.#receive(ws, conn, JSON.parse(String(raw))));
    });
    return this;
  }

  #receive(ws, conn, message) {
    this.received.push({ conn, at: Date.now(), ...message });
    const reply = (object) => ws.send(JSON.stringify(object));
    if (message.type === 'hello') {
      if (this.onHello?.(ws, message, conn) === false) return;
      reply({ type: 'welcome', protocol: 1, heartbeat_secs: this.heartbeatSecs, last_seq: this.lastSeq });
      reply({ type: 'status', effective: null, shown: [] });
    } else if ((message.type === 'state' || message.type === 'snapshot') && this.autoAck) {
      reply({ type: 'ack', seq: message.seq });
    } else if (message.type === 'ping') {
      reply({ type: 'pong' });
    }
  }

  send(object, conn = this.connections.length - 1) {
    this.connections[conn].send(JSON.stringify(object));
  }

  /** Sends an error that closes the connection, as the relay does: the message, then 1008 and the code. */
  closeWith(code, conn = this.connections.length - 1) {
    this.send({ type: 'error', code, message: `closing: ${code}`, seq: null }, conn);
    this.connections[conn].close({ code: code === 'shutting_down' ? 1001 : 1008, reason: code });
  }

  all(predicate) {
    return this.received.filter(predicate);
  }

  /** The first received message matching `predicate`, waiting for it if need be. */
  async next(predicate, timeout = 5000) {
    return eventually(() => {
      const found = this.received.find(predicate);
      assert.ok(found, `no such message yet; received: ${JSON.stringify(this.received)}`);
      return found;
    }, timeout);
  }
}

let server;
let base;
let browser;
let context;
let page;
let problems; // console errors (CSP violations among them) and uncaught exceptions

before(async () => {
  server = createServer(async (request, response) => {
    const file = FILES[new URL(request.url, 'http://x').pathname];
    if (!file || request.method !== 'GET') {
      response.writeHead(404, { 'content-type': 'application/json' }).end('{"type":"error","code":"not_found"}');
      return;
    }
    const body = await readFile(join(PAGE_DIR, file[0]));
    response.writeHead(200, { 'content-type': file[1], 'content-security-policy': CSP, 'cache-control': 'no-store' });
    response.end(body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(async () => {
  context = await browser.newContext(PHONE);
  page = await context.newPage();
  problems = [];
  page.on('console', (message) => {
    // An HTTP error the test itself answers (403 on pairing) is logged too; it is not the page's fault.
    const expected = /^Failed to load resource: the server responded with a status of 4\d\d/.test(message.text());
    if (message.type() === 'error' && !expected) problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(String(error)));
});

afterEach(async () => {
  await context.close();
  assert.deepEqual(problems, [], 'the page logged errors (a CSP violation?)');
});

/** Opens the page as a phone that paired before, with an optional remembered state. */
async function openPaired({ lastState } = {}) {
  await page.goto(base + '/');
  await page.evaluate(
    ([device, state]) => {
      localStorage.setItem('caret.device', JSON.stringify(device));
      if (state !== undefined) localStorage.setItem('caret.lastState', JSON.stringify(state));
    },
    [DEVICE, lastState],
  );
  await page.reload();
}

const stored = (key) => page.evaluate((k) => JSON.parse(localStorage.getItem(k)), key);
const stateButton = (name) => page.getByRole('button', { name, exact: true });
const pressed = (name) => stateButton(name).getAttribute('aria-pressed');
const liveText = () => page.locator('#live').textContent();
const connText = () => page.locator('#conn-text').textContent();

describe('pairing', () => {
  test('pairing from the QR fragment stores the credentials and clears the fragment', async () => {
    const relay = await new MockRelay(page).install();
    let pairRequest;
    await page.route('**/v1/pair', async (route) => {
      pairRequest = route.request();
      await route.fulfill({
        status: 200,
        contentType: 'application/json',
        body: JSON.stringify({ type: 'paired', ...DEVICE, heartbeat_secs: 20, mac: null }),
      });
    });
    await page.goto(`${base}/#pair=${SECRET}&fp=${FP}&hosts=192.168.1.20,10.0.0.5`);

    await page.getByRole('heading', { name: 'Pair with Caret Desktop' }).waitFor();
    assert.equal(await page.locator('#fp').textContent(), FP_SHOWN);
    await page
      .getByText("Your browser warned about this site's certificate. Its SHA-256 fingerprint must be exactly the one Caret Desktop shows next to the QR code.")
      .waitFor();
    const name = page.getByLabel('Name of this phone');
    assert.equal(await name.inputValue(), 'Phone');
    await name.fill("Ada's Pixel");
    await page.getByRole('button', { name: 'Pair', exact: true }).click();

    const { conn, at, ...hello } = await relay.next((m) => m.type === 'hello');
    assert.deepEqual(hello, { type: 'hello', protocol: 1, device_id: DEVICE.device_id, token: DEVICE.token, name: "Ada's Pixel" });
    assert.equal(conn, 0);
    assert.equal(pairRequest.method(), 'POST');
    assert.equal(pairRequest.headers()['content-type'], 'application/json');
    assert.deepEqual(pairRequest.postDataJSON(), { type: 'pair', secret: SECRET, name: "Ada's Pixel" });
    assert.equal(new URL(pairRequest.url()).pathname, '/v1/pair');

    const device = await stored('caret.device');
    assert.equal(device.device_id, DEVICE.device_id);
    assert.equal(device.token, DEVICE.token);
    assert.equal(device.fingerprint, FP);
    assert.equal(await page.evaluate(() => location.hash), '');
    assert.ok(!page.url().includes(SECRET), page.url());
    await eventually(async () => assert.equal(await connText(), 'Connected'));
  });

  test('a wrong code (403 wrong_pairing_code) shows the message and stores nothing', async () => {
    const relay = await new MockRelay(page).install();
    const message = 'wrong pairing code: 4 attempts left';
    await page.route('**/v1/pair', (route) =>
      route.fulfill({
        status: 403,
        contentType: 'application/json',
        body: JSON.stringify({ type: 'error', code: 'wrong_pairing_code', message, seq: null }),
      }),
    );
    await page.goto(`${base}/#pair=${SECRET}&fp=${FP}&hosts=127.0.0.1`);
    await page.getByRole('button', { name: 'Pair', exact: true }).click();

    await eventually(async () => assert.equal(await liveText(), message));
    assert.equal(await stored('caret.device'), null);
    assert.equal(await page.getByRole('button', { name: 'Pair', exact: true }).isEnabled(), true, 'can try again');
    await page.getByRole('heading', { name: 'Pair with Caret Desktop' }).waitFor();
    assert.equal(relay.connections.length, 0);
  });

  test('without credentials or a pairing fragment the page says it is not paired', async () => {
    await page.goto(base + '/');
    await page.getByText('Not paired: on Caret Desktop choose Pair phone… and scan the code.').waitFor();
  });

  test('a pairing fragment is ignored and cleared when credentials exist', async () => {
    const relay = await new MockRelay(page).install();
    let pairRequests = 0;
    await page.route('**/v1/pair', (route) => {
      pairRequests += 1;
      return route.abort();
    });
    await openPaired();
    await page.goto(`${base}/#pair=${SECRET}&fp=${FP}&hosts=127.0.0.1`);
    await relay.next((m) => m.type === 'hello' && m.device_id === DEVICE.device_id);
    assert.equal(await page.evaluate(() => location.hash), '');
    assert.equal(pairRequests, 0);
    assert.deepEqual(await stored('caret.device'), { ...DEVICE });
  });
});

describe('connected', () => {
  test('the remembered state is sent as a snapshot after each (re)connect', async () => {
    const relay = await new MockRelay(page, { lastSeq: 41 }).install();
    await openPaired({ lastState: 'walking' });

    const first = await relay.next((m) => m.type === 'snapshot' && m.conn === 0);
    assert.equal(first.state, 'walking');
    assert.ok(Number.isSafeInteger(first.seq) && first.seq > 41);
    await eventually(async () => assert.equal(await pressed('Walking'), 'true'));

    relay.closeWith('shutting_down');
    await eventually(async () => assert.match(await connText(), /^Reconnecting in \d+ s$/));
    const second = await relay.next((m) => m.type === 'snapshot' && m.conn === 1, 5000);
    assert.equal(second.state, 'walking');
    assert.ok(second.seq > first.seq, `${second.seq} > ${first.seq}`);
    const hellos = relay.all((m) => m.type === 'hello');
    assert.deepEqual(
      hellos.map((m) => m.conn),
      [0, 1],
    );
    await eventually(async () => assert.equal(await pressed('Walking'), 'true'));
    await eventually(async () => assert.equal(await connText(), 'Connected'));
  });

  test('a state chosen while disconnected goes out as the snapshot of the next connection', async () => {
    const relay = await new MockRelay(page).install();
    await openPaired();
    await eventually(async () => assert.equal(await connText(), 'Connected'));
    relay.closeWith('timeout');
    await eventually(async () => assert.match(await connText(), /^Reconnecting in/));

    await stateButton('Sleeping').click();
    assert.equal(await page.locator('#you').textContent(), 'You: Sleeping (sent when connected)');
    assert.match(await liveText(), /^Not connected/);
    const snapshot = await relay.next((m) => m.type === 'snapshot' && m.conn === 1);
    assert.equal(snapshot.state, 'sleeping');
    assert.deepEqual(relay.all((m) => m.type === 'state'), [], 'nothing sent on a closed socket');
    await eventually(async () => assert.equal(await pressed('Sleeping'), 'true'));
  });

  test('a remembered event is sent only until it ends', async () => {
    const relay = await new MockRelay(page).install();
    const ended = { kind: 'event', title: 'Old', start: '2020-01-01T09:00:00.000Z', end: '2020-01-01T10:00:00.000Z' };
    await openPaired({ lastState: ended });
    await relay.next((m) => m.type === 'hello');
    await eventually(async () => assert.equal(await connText(), 'Connected'));
    await sleep(300);
    assert.deepEqual(relay.all((m) => m.type === 'snapshot'), []);
    assert.equal(await stored('caret.lastState'), null);

    const start = new Date(Date.now() - 60_000).toISOString();
    const end = new Date(Date.now() + 3_600_000).toISOString();
    const running = { kind: 'event', title: 'Standup', start, end };
    await page.evaluate((state) => localStorage.setItem('caret.lastState', JSON.stringify(state)), running);
    await page.reload();
    const snapshot = await relay.next((m) => m.type === 'snapshot');
    assert.deepEqual(snapshot.state, running);
  });

  test('tapping In a call sends a state with increasing seq, pressed after the ack', async () => {
    const relay = await new MockRelay(page, { autoAck: false }).install();
    await openPaired();
    await eventually(async () => assert.equal(await connText(), 'Connected'));

    await stateButton('In a call').click();
    const first = await relay.next((m) => m.type === 'state');
    assert.equal(first.state, 'in_call');
    assert.ok(Number.isSafeInteger(first.seq));
    assert.equal(await pressed('In a call'), 'false', 'not pressed before the ack');
    assert.match(await stateButton('In a call').getAttribute('class'), /\bpending\b/);

    relay.send({ type: 'status', effective: { kind: 'in_call' }, shown: [] }); // a push between replies
    relay.send({ type: 'ack', seq: first.seq });
    await eventually(async () => assert.equal(await pressed('In a call'), 'true'));
    assert.doesNotMatch(await stateButton('In a call').getAttribute('class'), /\bpending\b/);
    assert.equal(await stored('caret.lastState'), 'in_call');

    await stateButton('Busy').click();
    const second = await relay.next((m) => m.type === 'state' && m.state === 'busy');
    assert.ok(second.seq > first.seq, `${second.seq} > ${first.seq}`);
    relay.send({ type: 'ack', seq: second.seq });
    await eventually(async () => assert.equal(await pressed('Busy'), 'true'));
    assert.equal(await pressed('In a call'), 'false');
    assert.equal(await page.locator('#you').textContent(), 'You: Busy');
    const pressedCount = await page.locator('#ring [aria-pressed="true"]').count();
    assert.equal(pressedCount, 1);
  });

  test('an error from the desktop is shown in the live region', async () => {
    const relay = await new MockRelay(page, { autoAck: false }).install();
    await openPaired();
    await eventually(async () => assert.equal(await connText(), 'Connected'));
    assert.equal(await page.locator('#live').getAttribute('aria-live'), 'polite');

    await stateButton('Running').click();
    const state = await relay.next((m) => m.type === 'state');
    const stale = `sequence number ${state.seq} is not after the last one accepted (${state.seq + 5})`;
    relay.send({ type: 'error', code: 'stale_seq', message: stale, seq: state.seq });
    await eventually(async () => assert.equal(await liveText(), stale));
    assert.equal(await pressed('Running'), 'false');
    assert.doesNotMatch(await stateButton('Running').getAttribute('class'), /\bpending\b/);
    assert.equal(await stored('caret.lastState'), null, 'a refused state is not replayed later');

    // An error without seq answers the oldest request still waiting.
    await stateButton('Silent').click();
    await relay.next((m) => m.type === 'state' && m.state === 'silent');
    relay.send({ type: 'error', code: 'rate_limited', message: 'too many messages: wait 500 ms', seq: null });
    await eventually(async () => assert.equal(await liveText(), 'too many messages: wait 500 ms'));
    assert.doesNotMatch(await stateButton('Silent').getAttribute('class'), /\bpending\b/);
  });

  test('a status push renders one line per workspace', async () => {
    const relay = await new MockRelay(page).install();
    await openPaired();
    await eventually(async () => assert.equal(await page.locator('#effective').textContent(), 'Nothing shared'));
    await page.getByText('Not synced to Slack yet').waitFor();

    relay.send({
      type: 'status',
      effective: { kind: 'in_call' },
      shown: [
        { workspace: 'Acme', text: 'In a call', emoji: ':telephone_receiver:' },
        { workspace: 'Globex <b>', text: 'On the phone', emoji: ':phone:' },
      ],
    });
    await eventually(async () =>
      assert.deepEqual(await page.locator('#shown li').allTextContents(), [
        'Acme: :telephone_receiver: In a call',
        'Globex <b>: :phone: On the phone',
      ]),
    );
    assert.equal(await page.locator('#effective').textContent(), 'In a call');
    assert.equal(await page.getByText('Not synced to Slack yet').isVisible(), false);
    assert.equal(await page.locator('#shown b').count(), 0, 'workspace names are text, not HTML');

    relay.send({
      type: 'status',
      effective: { kind: 'event', title: 'Standup', start: '2026-11-23T09:00:00Z', end: '2026-11-23T09:15:00Z' },
      shown: [],
    });
    await eventually(async () => assert.match(await page.locator('#effective').textContent(), /^At an event: Standup/));
    await page.getByText('Not synced to Slack yet').waitFor();
  });

  test('sharing an event sends its title, start and end', async () => {
    const relay = await new MockRelay(page).install();
    await openPaired();
    await eventually(async () => assert.equal(await connText(), 'Connected'));

    const toggle = page.getByRole('button', { name: 'At an event' });
    await toggle.click();
    assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
    await page.getByLabel(/^Title/).fill('Standup');
    await page.getByLabel('Ends').selectOption('30');
    const before = Date.now();
    await page.getByRole('button', { name: 'Share event' }).click();

    const state = await relay.next((m) => m.type === 'state');
    assert.equal(state.state.kind, 'event');
    assert.equal(state.state.title, 'Standup');
    const start = Date.parse(state.state.start);
    assert.ok(Math.abs(start - before) < 5000);
    assert.equal(Date.parse(state.state.end) - start, 30 * 60_000);
    await eventually(async () => assert.match(await page.locator('#you').textContent(), /^You: At an event: Standup/));
    assert.equal((await stored('caret.lastState')).title, 'Standup');
  });

  test('an unauthorized close forgets the credentials and shows the unpaired message', async () => {
    const relay = await new MockRelay(page, {
      onHello: (ws) => {
        ws.send(JSON.stringify({ type: 'error', code: 'unauthorized', message: 'unknown device or wrong token', seq: null }));
        ws.close({ code: 1008, reason: 'unauthorized' });
        return false;
      },
    }).install();
    await openPaired({ lastState: 'busy' });

    await page.getByText(UNPAIRED, { exact: true }).first().waitFor();
    assert.equal(await stored('caret.device'), null);
    await sleep(2500); // longer than the first backoff
    assert.equal(relay.connections.length, 1, 'no reconnect');
  });

  test('replaced: no automatic reconnect, a Reconnect button instead', async () => {
    const relay = await new MockRelay(page).install();
    await openPaired();
    await eventually(async () => assert.equal(await connText(), 'Connected'));
    relay.closeWith('replaced');

    await eventually(async () => assert.equal(await connText(), 'Opened elsewhere'));
    await sleep(1500);
    assert.equal(relay.connections.length, 1, 'no automatic reconnect');
    await page.getByRole('button', { name: 'Reconnect' }).click();
    await relay.next((m) => m.type === 'hello' && m.conn === 1);
    await eventually(async () => assert.equal(await connText(), 'Connected'));
    assert.notEqual(await stored('caret.device'), null);
  });

  test('heartbeat pings are sent every heartbeat_secs', async () => {
    const relay = await new MockRelay(page, { heartbeatSecs: 1 }).install();
    await openPaired();
    await relay.next((m) => m.type === 'hello');
    const welcomedAt = Date.now();
    await eventually(() => assert.ok(relay.all((m) => m.type === 'ping').length >= 3), 5000);
    const pings = relay.all((m) => m.type === 'ping');
    assert.ok(pings[0].at - welcomedAt >= 800, 'not before a beat');
    for (let i = 1; i < pings.length; i += 1) assert.ok(pings[i].at - pings[i - 1].at >= 700, 'about one a second');
    assert.deepEqual(Object.keys(pings[0]).sort(), ['at', 'conn', 'type']);
  });

  test('Unpair this browser forgets the credentials', async () => {
    const relay = await new MockRelay(page).install();
    await openPaired({ lastState: 'available' });
    await eventually(async () => assert.equal(await connText(), 'Connected'));
    await page.getByRole('button', { name: 'Unpair this browser' }).click();
    assert.equal(await stored('caret.device'), null);
    assert.equal(await stored('caret.lastState'), null);
    await page.getByRole('heading', { name: 'Not paired' }).waitFor();
    await sleep(1500);
    assert.equal(relay.connections.length, 1, 'no reconnect');
  });
});

describe('layout', () => {
  test('the wheel fits 360 to 430 px phones with big, separate touch targets; screenshot', async () => {
    const relay = await new MockRelay(page).install();
    await openPaired({ lastState: 'in_call' });
    await relay.next((m) => m.type === 'snapshot');
    relay.send({
      type: 'status',
      effective: { kind: 'in_call' },
      shown: [
        { workspace: 'Acme', text: 'In a call', emoji: ':telephone_receiver:' },
        { workspace: 'Globex', text: 'On the phone', emoji: ':phone:' },
      ],
    });
    await eventually(async () => assert.equal(await pressed('In a call'), 'true'));
    await eventually(async () => assert.equal(await page.locator('#shown li').count(), 2));

    for (const width of [360, 390, 430]) {
      await page.setViewportSize({ width, height: 844 });
      const boxes = await page.locator('#ring .state, #event-toggle').evaluateAll((buttons) =>
        buttons.map((b) => {
          const r = b.getBoundingClientRect();
          return { x: r.x, y: r.y, w: r.width, h: r.height, label: b.textContent.trim() };
        }),
      );
      assert.equal(boxes.length, 11);
      for (const box of boxes) {
        assert.ok(box.w >= 48 && box.h >= 48, `${box.label} at ${width}px is ${box.w}x${box.h}`);
        assert.ok(box.x >= 0 && box.x + box.w <= width, `${box.label} fits in ${width}px`);
      }
      for (const [i, a] of boxes.entries()) {
        for (const b of boxes.slice(i + 1)) {
          // Circles: centres further apart than the radii.
          const distance = Math.hypot(a.x + a.w / 2 - b.x - b.w / 2, a.y + a.h / 2 - b.y - b.h / 2);
          assert.ok(distance >= (a.w + b.w) / 2, `${a.label} and ${b.label} overlap at ${width}px`);
        }
      }
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
      assert.equal(overflow, false, `no horizontal scrolling at ${width}px`);
    }

    await page.setViewportSize(PHONE.viewport);
    await mkdir(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, 'phone-page.png'), fullPage: true, animations: 'disabled' });
  });
});
