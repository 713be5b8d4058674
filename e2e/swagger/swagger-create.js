#!/usr/bin/env node
// Swagger UI in a real browser (Debian's headless Chromium driven by playwright-core):
// open /swagger-ui (must redirect to /swagger-ui/), Authorize with the sandbox's dev token,
// expand POST /datasets/{dataset}/records, Try it out with dataset 100 and the document's
// example body, Execute, and expect the live response on the page to say 201 (screenshot in
// target/e2e/swagger-create.png). Then, as a person would, edit the body and Execute again: a
// second 201 with a new id is expected; anything else is printed as a WARNING (fatal with
// E2E_STRICT=1), as are optional parameters that Try it out fills in by itself.
//
// Environment:
//   E2E_BASE_URL     the gateway, e.g. http://127.0.0.1:18080 (required)
//   E2E_BANNER_FILE  the sandbox's stdout; the dev token is the line after
//                    "Dev token (read + write, 12 h):" (or give E2E_TOKEN directly)
//   E2E_OUT_DIR      where screenshots go (default target/e2e under the repo root)
//   E2E_PROFILE_DIR  Chromium's user data dir (default <E2E_OUT_DIR>/chromium-profile)
//   CHROMIUM_PATH    default /usr/bin/chromium
//   E2E_STRICT=1     turn the warnings into failures
'use strict';

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const repoRoot = path.resolve(__dirname, '..', '..');
const baseUrl = (process.env.E2E_BASE_URL || '').replace(/\/+$/, '');
const outDir = path.resolve(process.env.E2E_OUT_DIR || path.join(repoRoot, 'target', 'e2e'));
const profileDir = path.resolve(process.env.E2E_PROFILE_DIR || path.join(outDir, 'chromium-profile'));
const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const screenshotPath = path.join(outDir, 'swagger-create.png');
const STEP_TIMEOUT_MS = 15000;

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

function readToken() {
  if (process.env.E2E_TOKEN) return process.env.E2E_TOKEN.trim();
  const banner = process.env.E2E_BANNER_FILE;
  if (!banner) fail('neither E2E_TOKEN nor E2E_BANNER_FILE is set');
  const lines = fs.readFileSync(banner, 'utf8').split(/\r?\n/);
  const i = lines.findIndex((l) => l.includes('Dev token (read + write, 12 h):'));
  if (i < 0 || !lines[i + 1] || !/^eyJ[\w-]*\.[\w-]+\.[\w-]+$/.test(lines[i + 1].trim())) {
    fail(`no dev token after "Dev token (read + write, 12 h):" in the sandbox banner ${banner}`);
  }
  return lines[i + 1].trim();
}

async function main() {
  if (!baseUrl) fail('E2E_BASE_URL is not set (e.g. http://127.0.0.1:18080)');
  const token = readToken();
  fs.mkdirSync(outDir, { recursive: true });
  fs.rmSync(profileDir, { recursive: true, force: true });
  fs.rmSync(screenshotPath, { force: true });

  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 1000 },
  });
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));

  const warnings = [];
  const prefilled = [];
  let current = 'start';
  const step = async (name, fn) => {
    current = name;
    process.stdout.write(`  - ${name} ... `);
    const before = warnings.length;
    const r = await fn();
    process.stdout.write(warnings.length > before ? 'ok, with a WARNING (below)\n' : 'ok\n');
    return r;
  };

  try {
    await step('open /swagger-ui (no slash) and follow the redirect to /swagger-ui/', async () => {
      const resp = await page.goto(`${baseUrl}/swagger-ui`, { waitUntil: 'load' });
      if (!resp || !resp.ok()) fail(`GET /swagger-ui answered ${resp ? resp.status() : 'nothing'}`);
      const first = resp.request().redirectedFrom();
      const landed = new URL(page.url()).pathname;
      if (landed !== '/swagger-ui/') fail(`expected to land on /swagger-ui/, landed on ${page.url()}`);
      if (!first) fail('GET /swagger-ui was not redirected (it served the page directly)');
      await page.locator('.swagger-ui .info .title').first().waitFor();
      const title = (await page.locator('.swagger-ui .info .title').first().innerText()).trim();
      if (!title.startsWith('ecnow-gateway')) fail(`unexpected API title "${title}"`);
      const loadErr = page.locator('.swagger-ui .errors-wrapper');
      if (await loadErr.count()) fail(`Swagger UI shows errors: ${(await loadErr.first().innerText()).trim()}`);
    });

    await step('click Authorize, paste the token into "bearer", authorize, close', async () => {
      await page.locator('.scheme-container button.authorize').click();
      const dialog = page.locator('.dialog-ux .modal-ux');
      await dialog.waitFor();
      const bearer = dialog.locator('.auth-container').filter({ hasText: 'bearer' }).first();
      if (!(await bearer.count())) fail('the Authorize dialog has no "bearer" scheme');
      await bearer.locator('input').first().fill(token);
      await bearer.locator('button.modal-btn.auth.authorize').click();
      // Once authorized the scheme says "Authorized" and the dialog offers "Logout".
      await dialog.locator('button.modal-btn', { hasText: 'Logout' }).waitFor();
      if (!(await bearer.getByText('Authorized', { exact: true }).count())) fail('the bearer scheme does not say "Authorized"');
      await dialog.locator('button.btn-done').click();
      await dialog.waitFor({ state: 'detached' });
      const locked = page.locator('.scheme-container button.authorize.locked');
      if (!(await locked.count())) fail('the Authorize button does not show the authorized (locked) state');
    });

    const op = page.locator('.opblock.opblock-post').filter({
      has: page.locator('.opblock-summary-path[data-path="/datasets/{dataset}/records"]'),
    });

    await step('expand POST /datasets/{dataset}/records', async () => {
      if ((await op.count()) !== 1) fail(`found ${await op.count()} POST /datasets/{dataset}/records blocks, expected 1`);
      await op.locator('.opblock-summary').first().click();
      await op.locator('.opblock-body').waitFor();
    });

    await step('Try it out', async () => {
      await op.locator('button.try-out__btn').click();
      await op.locator('button.execute').waitFor();
      // Optional parameters that Swagger UI fills in by itself (from `example`) are sent on Execute.
      for (const row of await op.locator('tr[data-param-name]').all()) {
        const name = await row.getAttribute('data-param-name');
        const where = await row.getAttribute('data-param-in');
        if (where === 'path') continue;
        const input = row.locator('input[type="text"], input:not([type]), textarea').first();
        if (!(await input.count())) continue;
        const value = await input.inputValue();
        if (value) prefilled.push(`${where} parameter ${name}: ${value}`);
      }
      if (prefilled.length) warnings.push(`Try it out prefills optional ${prefilled.join('; ')}`);
    });

    let exampleBody;
    await step('fill dataset 100 and check the example request body is valid JSON', async () => {
      const dataset = op.locator('tr[data-param-name="dataset"] input');
      await dataset.fill('100');
      const body = op.locator('.opblock-section-request-body textarea.body-param__text');
      await body.waitFor();
      exampleBody = await body.inputValue();
      let parsed;
      try { parsed = JSON.parse(exampleBody); } catch (e) {
        fail(`the prefilled request body is not JSON (${e.message}):\n${exampleBody}`);
      }
      const phone = parsed && !Array.isArray(parsed) && (parsed.mobile_phone || parsed.home_phone || parsed.work_phone);
      if (!phone) fail(`the prefilled request body is not a single record with a phone:\n${exampleBody}`);
    });

    let status;
    let responseBody = '';
    await step('Execute and expect 201 in the response section', async () => {
      await op.locator('button.execute').click();
      const cell = op.locator('.live-responses-table .response .response-col_status').first();
      await cell.waitFor();
      status = (await cell.innerText()).trim();
      const bodyEl = op.locator('.live-responses-table .response-col_description .microlight, .live-responses-table .response-col_description pre').first();
      if (await bodyEl.count()) responseBody = (await bodyEl.innerText()).trim();
      await op.locator('.live-responses-table').first().scrollIntoViewIfNeeded();
      await page.evaluate(() => {
        const el = document.querySelector('.opblock.is-open .responses-inner h4, .opblock.is-open .live-responses-table');
        if (el) el.scrollIntoView({ block: 'start' });
        window.scrollBy(0, -180);
      });
      await page.screenshot({ path: screenshotPath });
      if (status !== '201') {
        fail(`Swagger UI shows status ${status}, expected 201; response body:\n${responseBody}\nrequest body was:\n${exampleBody}`);
      }
      let created;
      try { created = JSON.parse(responseBody); } catch (e) { fail(`201 body is not JSON: ${responseBody}`); }
      if (!Number.isInteger(created.id) || created.dataset_id !== 100 || created.live !== true) {
        fail(`201 body is not {id, dataset_id: 100, live: true, ...}: ${responseBody}`);
      }
    });

    // What a person does next: edit the body and Execute again. They expect a second record.
    // Not fatal (E2E_STRICT=1 makes it so): it is reported as a warning about the document.
    await step('edit the body, Execute again, expect a new record (warning only)', async () => {
      const firstId = JSON.parse(responseBody).id;
      const body = op.locator('.opblock-section-request-body textarea.body-param__text');
      const edited = JSON.parse(exampleBody);
      edited.first_name = 'Joanna';
      await body.fill(JSON.stringify(edited, null, 2));
      await op.locator('button.execute').click();
      // The live response is replaced once the new answer arrives.
      await page.waitForFunction(
        (prev) => {
          const el = document.querySelector('.opblock.is-open .live-responses-table .response-col_description .microlight');
          return el && el.textContent !== prev;
        },
        responseBody,
        { timeout: STEP_TIMEOUT_MS },
      ).catch(() => {});
      const again = (await op.locator('.live-responses-table .response .response-col_status').first().innerText()).trim();
      const againBody = (await op.locator('.live-responses-table .response-col_description .microlight').first().innerText().catch(() => '')).trim();
      let againId;
      try { againId = JSON.parse(againBody).id; } catch (_) { /* problem body */ }
      if (again === '201' && Number.isInteger(againId) && againId !== firstId) return;
      await page.screenshot({ path: path.join(outDir, 'swagger-create-again.png') });
      const msg = `a second Execute with an edited body answered ${again} ${againBody.replace(/\s+/g, ' ')}`
        + (prefilled.length ? ` (Swagger UI sent the prefilled ${prefilled.join(', ')})` : '');
      if (process.env.E2E_STRICT === '1') fail(msg);
      warnings.push(msg);
    });

    console.log(`swagger: 201 Created via Swagger UI, body ${responseBody.replace(/\s+/g, ' ')}`);
    console.log(`swagger: screenshot ${screenshotPath}`);
    for (const w of warnings) console.log(`swagger: WARNING ${w}`);
    if (consoleErrors.length) console.log(`swagger: browser console errors (not fatal):\n  ${consoleErrors.join('\n  ')}`);
  } catch (e) {
    process.stdout.write('FAILED\n');
    const shot = path.join(outDir, 'swagger-failure.png');
    try { await page.screenshot({ path: shot, fullPage: true }); } catch (_) { /* page gone */ }
    console.error(`swagger: step "${current}" failed: ${e.clean ? e.message : e.stack || e}`);
    console.error(`swagger: failure screenshot ${shot}`);
    for (const w of warnings) console.error(`swagger: WARNING ${w}`);
    if (consoleErrors.length) console.error(`swagger: browser console errors:\n  ${consoleErrors.join('\n  ')}`);
    process.exitCode = 1;
  } finally {
    await context.close();
  }
}

main().catch((e) => {
  console.error(`swagger: ${e.clean ? e.message : e.stack || e}`);
  process.exitCode = 1;
});
