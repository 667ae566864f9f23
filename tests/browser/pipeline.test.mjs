// pipeline.test.mjs: with the whole pipeline running, open the dashboard in
// Debian's Chromium (headless), wait until it is live, run INJECT_SCRIPT
// (which produces an out-of-range reading to sensor-data) and wait for the
// resulting alert in the feed by polling the DOM, with a deadline.
//
//   node pipeline.test.mjs BASE_URL INJECT_SCRIPT ARTIFACT_DIR
//
// Writes ARTIFACT_DIR/pipeline-alert.png and ARTIFACT_DIR/alert_id (the id
// of the alert the page showed). Exit status 0 only if every check passed
// and at least one ran.
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [base, inject, artifacts] = process.argv.slice(2);
if (!base || !inject || !artifacts) {
  console.error('usage: node pipeline.test.mjs BASE_URL INJECT_SCRIPT ARTIFACT_DIR');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });
const CHROMIUM = process.env.WW_CHROMIUM || '/usr/bin/chromium';
const WAIT_MS = 20000;   // deadline for the page to load and go live
const ALERT_MS = 60000;  // deadline for the alert to travel the pipeline to the page

let passed = 0;
let failed = 0;
function check(what, ok, detail = '') {
  if (ok) { passed++; console.error(`ok   ${what}`); } else { failed++; console.error(`FAIL ${what} ${detail}`); }
}

const profile = mkdtempSync(join(tmpdir(), 'ww-chromium-'));
let ctx;
try {
  ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 1400 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const page = await ctx.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('response', (r) => { if (r.status() >= 400) errors.push(`HTTP ${r.status()} ${r.url()}`); });

  await page.goto(`${base}/`, { waitUntil: 'domcontentloaded' });
  await page.waitForFunction(() => window.wwCharts && window.wwCharts.temperature
    && window.wwCharts.temperature.data[0].length > 0, null, { timeout: WAIT_MS });
  check('dashboard shows the pipeline\'s readings', true);
  await page.waitForFunction(() => document.getElementById('live').dataset.state === 'live', null,
    { timeout: WAIT_MS });
  check('live stream open before the anomaly', true);
  const before = await page.locator('#alerts li[data-alert]').count();
  check('no alert in the feed yet', before === 0, `(${before})`);

  // Into the real pipeline: kcat → sensor-data → processor → alerts → sink → SQLite → api.
  const t0 = Date.now();
  execFileSync(inject, [], { stdio: ['ignore', 'inherit', 'inherit'] });
  const sel = '#alerts li[data-alert^="turbine-line-2-"]';
  await page.waitForSelector(sel, { timeout: ALERT_MS });
  const ms = Date.now() - t0;
  const li = page.locator(sel).first();
  const id = await li.getAttribute('data-alert');
  const text = await li.innerText();
  check(`anomaly's alert appeared in the feed (${ms} ms after producing the reading)`, true);
  check('alert names line, component, sensor and severity',
    text.includes('turbine-line-2 · Generator') && text.includes('temperature')
      && text.includes('critical'), text);
  writeFileSync(join(artifacts, 'alert_id'), id);
  const api = await page.evaluate(async (aid) => {
    const r = await fetch(`/api/alerts/${encodeURIComponent(aid)}`);
    return r.ok ? r.json() : { status: r.status };
  }, id);
  check('the API serves the same alert', api.alert_id === id && api.state === 'open', JSON.stringify(api));
  const label = await page.locator('#live').innerText();
  check('header says live (the alert came over the stream)', label === 'live', label);
  const card = await page.locator('#lines .card[data-line="turbine-line-2"]').innerText();
  check('line card lists the active alert', card.includes('active alert'), card);
  await page.screenshot({ path: join(artifacts, 'pipeline-alert.png'), fullPage: true });
  check('no console errors', errors.length === 0, errors.join('\n'));
} catch (e) {
  check('browser session', false, e.stack || String(e));
} finally {
  if (ctx) await ctx.close();
  rmSync(profile, { recursive: true, force: true });
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
