#!/usr/bin/env node
// The typed web client in a real browser (Debian's headless Chromium driven by playwright-core).
// Serves the page (public/index.html + the esbuild bundle of src/app.ts) from two loopback
// origins of its own and opens it in both against the gateway:
//   1. from the origin listed in the gateway's GATEWAY_CORS_ORIGINS (http://127.0.0.1:E2E_PAGE_PORT):
//      create, read, PATCH with an Idempotency-Key (and its replay), list with search[last_name],
//      a typed 422 problem for a bad phone; every step must pass (screenshot web-flow.png);
//   2. from another loopback origin, not listed: the first call must reject with a TypeError
//      (the browser blocked it), and the gateway must hold no record of that run
//      (screenshot web-flow-blocked.png).
//
// Environment:
//   E2E_BASE_URL     the gateway, e.g. http://127.0.0.1:18080 (required)
//   E2E_CLIENT_TOKEN a JWT with records:read records:write on dataset 100 (required)
//   E2E_PAGE_PORT    the listed origin's port on 127.0.0.1 (required; the gateway must list
//                    http://127.0.0.1:<port> in GATEWAY_CORS_ORIGINS)
//   E2E_WEB_SITE     the directory holding the bundle app.js (default target/e2e/web-site)
//   E2E_OUT_DIR      where screenshots go (default target/e2e under the repo root)
//   E2E_PROFILE_DIR  Chromium's user data dir (default <E2E_OUT_DIR>/chromium-profile-web)
//   CHROMIUM_PATH    default /usr/bin/chromium
'use strict';

const fs = require('fs');
const http = require('http');
const path = require('path');
const { chromium } = require('playwright-core');

const repoRoot = path.resolve(__dirname, '..', '..');
const baseUrl = (process.env.E2E_BASE_URL || '').replace(/\/+$/, '');
const token = (process.env.E2E_CLIENT_TOKEN || '').trim();
const pagePort = Number(process.env.E2E_PAGE_PORT || '0');
const siteDir = path.resolve(process.env.E2E_WEB_SITE || path.join(repoRoot, 'target', 'e2e', 'web-site'));
const outDir = path.resolve(process.env.E2E_OUT_DIR || path.join(repoRoot, 'target', 'e2e'));
const profileDir = path.resolve(process.env.E2E_PROFILE_DIR || path.join(outDir, 'chromium-profile-web'));
const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const FLOW_TIMEOUT_MS = 30000;
const STEPS = ['create', 'read', 'patch', 'list', 'bad phone'];

// The same flags as e2e/swagger/swagger-create.js.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-quic',
  '--disable-sync',
];

function fail(message) {
  const err = new Error(message);
  err.clean = true;
  throw err;
}

/** A static server of the page on 127.0.0.1:port (0: any free port); resolves to its origin. */
function serve(port) {
  const files = {
    '/index.html': [path.join(__dirname, 'public', 'index.html'), 'text/html; charset=utf-8'],
    '/app.js': [path.join(siteDir, 'app.js'), 'text/javascript; charset=utf-8'],
  };
  const server = http.createServer((req, res) => {
    const file = files[new URL(req.url, 'http://page').pathname];
    if (!file || req.method !== 'GET') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': file[1], 'cache-control': 'no-store' });
    fs.createReadStream(file[0]).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      resolve({ server, origin: `http://127.0.0.1:${server.address().port}` });
    });
  });
}

/** Opens the page from `origin`, waits for the flow to end, returns its result. */
async function runPage(context, origin, screenshot) {
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  const url = `${origin}/index.html?gateway=${encodeURIComponent(baseUrl)}&dataset=100#token=${token}`;
  await page.goto(url);
  await page.waitForSelector('body[data-state="done"]', { timeout: FLOW_TIMEOUT_MS });
  const result = await page.evaluate(() => window.flowResult);
  await page.screenshot({ path: screenshot, fullPage: true });
  await page.close();
  return { result, consoleErrors };
}

/** Record ids the gateway holds with `lastName`, asked from here (no browser, no CORS). */
async function recordsNamed(lastName) {
  const url = `${baseUrl}/datasets/100/records?search%5Blast_name%5D=${encodeURIComponent(lastName)}`;
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  if (res.status !== 200) fail(`listing ${lastName} from node answered ${res.status}`);
  return (await res.json()).total;
}

async function main() {
  if (!baseUrl) fail('E2E_BASE_URL is not set (e.g. http://127.0.0.1:18080)');
  if (!token) fail('E2E_CLIENT_TOKEN is not set');
  if (!pagePort) fail('E2E_PAGE_PORT is not set (the port of the origin listed in GATEWAY_CORS_ORIGINS)');
  if (!fs.existsSync(path.join(siteDir, 'app.js'))) fail(`no bundle ${siteDir}/app.js (npm run build)`);
  fs.mkdirSync(outDir, { recursive: true });
  fs.rmSync(profileDir, { recursive: true, force: true });

  const listed = await serve(pagePort);
  const other = await serve(0);
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 720 },
  });
  try {
    // 1. The listed origin: every step passes.
    const shot = path.join(outDir, 'web-flow.png');
    const { result, consoleErrors } = await runPage(context, listed.origin, shot);
    for (const s of result.steps) console.log(`web: ${listed.origin} ${s.ok ? 'ok  ' : 'FAIL'} ${s.name}: ${s.detail}`);
    if (!result.passed) {
      if (consoleErrors.length) console.error(`web: browser console errors:\n  ${consoleErrors.join('\n  ')}`);
      fail(`the flow from the listed origin ${listed.origin} failed at "${result.failure.step}": ${result.failure.name}: ${result.failure.message} (screenshot ${shot})`);
    }
    const done = result.steps.map((s) => s.name).join(',');
    if (done !== STEPS.join(',')) fail(`the flow ran ${done}, not ${STEPS.join(',')}`);
    console.log(`web: screenshot ${shot}`);

    // 2. Another origin: the browser blocks the first call; nothing reaches the records.
    const blockedShot = path.join(outDir, 'web-flow-blocked.png');
    const blocked = await runPage(context, other.origin, blockedShot);
    const f = blocked.result.failure;
    if (blocked.result.passed || !f) fail(`the page from ${other.origin} (not listed) was not blocked`);
    if (f.step !== 'create' || f.name !== 'TypeError') {
      fail(`the page from ${other.origin} failed at "${f.step}" with ${f.name}: ${f.message}, not a TypeError on create`);
    }
    const stored = await recordsNamed(blocked.result.lastName);
    if (stored !== 0) fail(`the blocked page's create reached the gateway: ${stored} record(s) ${blocked.result.lastName}`);
    const corsMessage = blocked.consoleErrors.find((m) => m.includes('CORS policy'));
    if (!corsMessage) fail(`no "CORS policy" error in the browser console: ${blocked.consoleErrors.join(' | ')}`);
    console.log(`web: ${other.origin} (not listed): create rejected with ${f.name}: ${f.message}`);
    console.log(`web: browser console: ${corsMessage}`);
    console.log(`web: no record ${blocked.result.lastName} on the gateway (the preflight was refused)`);
    console.log(`web: screenshot ${blockedShot}`);
  } finally {
    await context.close();
    listed.server.close();
    other.server.close();
  }
}

main().catch((e) => {
  console.error(`web: ${e.clean ? e.message : e.stack || e}`);
  process.exitCode = 1;
});
