// The phone page served by the real `caret-desktop --headless`, in Debian's Chromium as a phone: scan (open
// the QR link), accept the self-signed certificate (what the user does after comparing the fingerprint),
// pair, pick a state, and see the desktop's answer pushed back. Needs the app binary: CARET_APP_BIN, or
// target/debug/caret-desktop (scripts/test.sh builds it first). Skipped, saying so, when there is none.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const APP = process.env.CARET_APP_BIN ?? join(HERE, '..', '..', 'target', 'debug', 'caret-desktop');
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true };
const run = promisify(execFile);

let root;
let app;
let browser;

function appEnv() {
  return {
    ...process.env,
    HOME: join(root, 'home'),
    CARET_CONFIG_DIR: join(root, 'config'),
    CARET_DATA_DIR: join(root, 'data'),
    CARET_RELAY_PORT: '0',
    CARET_RELAY_LOOPBACK: '1',
    CARET_LOG: 'info',
  };
}

async function cli(...args) {
  const { stdout } = await run(APP, args, { env: appEnv() });
  return stdout;
}

before(async () => {
  if (!existsSync(APP)) return;
  root = mkdtempSync(join(tmpdir(), 'caret-phone-page-'));
  const log = join(root, 'app.log');
  app = spawn('sh', ['-c', `exec "${APP}" --headless 2>"${log}"`], { env: appEnv(), stdio: 'ignore' });
  const deadline = Date.now() + 30_000;
  while (!(existsSync(log) && readFileSync(log, 'utf8').includes('caret-desktop ready (headless)'))) {
    if (Date.now() > deadline) throw new Error(`the app did not start:\n${readFileSync(log, 'utf8')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
  app?.kill('SIGTERM');
  if (root) rmSync(root, { recursive: true, force: true });
});

test('a phone pairs with the real app by its QR link and its state reaches the desktop', async (t) => {
  if (!existsSync(APP)) {
    t.skip(`no app binary at ${APP}; build it with cargo build -p caret-desktop`);
    return;
  }
  const pairing = JSON.parse(await cli('pair', '--json'));
  // The user compared the fingerprint in the browser's warning and accepted the certificate.
  const context = await browser.newContext({ ...PHONE, ignoreHTTPSErrors: true });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (message) => message.type() === 'error' && problems.push(message.text()));
  page.on('pageerror', (error) => problems.push(String(error)));

  await page.goto(pairing.link);
  await page.getByRole('heading', { name: 'Pair with Caret Desktop' }).waitFor();
  assert.equal(await page.locator('#fp').textContent(), pairing.fingerprint, 'the page shows the fingerprint from the link for the user to compare');
  await page.getByLabel(/name/i).fill('Chromium phone');
  await page.getByRole('button', { name: 'Pair', exact: true }).click();

  await page.getByRole('button', { name: 'In a call', exact: true }).click();
  await page.locator('#effective').filter({ hasText: 'In a call' }).waitFor({ timeout: 10_000 });
  assert.equal(new URL(page.url()).hash, '', 'the one-time secret is not kept in the address');

  const devices = (await cli('devices', '--json')).trim().split('\n').map((line) => JSON.parse(line));
  assert.equal(devices.length, 1);
  assert.equal(devices[0].name, 'Chromium phone');
  assert.equal(devices[0].online, true);

  // Revoked on the desktop: the page forgets its credentials and says so.
  await cli('revoke', devices[0].id);
  await page.locator('#unpaired-text').waitFor({ timeout: 10_000 });
  assert.equal(await page.evaluate(() => localStorage.getItem('caret.device')), null);
  assert.deepEqual(problems, [], 'no script or policy errors');
  await context.close();
});
