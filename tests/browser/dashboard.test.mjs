// dashboard.test.mjs: drives Debian's Chromium (headless) through the
// windwatch dashboard served by a real windwatch-api over a real SQLite file.
//
//   node dashboard.test.mjs BASE_URL DB_PATH ARTIFACT_DIR
//
// The database is the fixed one of test_api_seed; this script adds rows to it
// with the sqlite3 CLI to check that live updates reach the page.
// Exit status 0 only if every check passed and at least one ran.
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [base, dbPath, artifacts] = process.argv.slice(2);
if (!base || !dbPath || !artifacts) {
  console.error('usage: node dashboard.test.mjs BASE_URL DB_PATH ARTIFACT_DIR');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });
const CHROMIUM = process.env.WW_CHROMIUM || '/usr/bin/chromium';
const WAIT_MS = 20000; // deadline for anything the page must show

let passed = 0;
let failed = 0;
function check(what, ok, detail = '') {
  if (ok) { passed++; console.error(`ok   ${what}`); } else { failed++; console.error(`FAIL ${what} ${detail}`); }
}

function sql(stmt) {
  execFileSync('sqlite3', ['-cmd', '.timeout 5000', dbPath, stmt], { stdio: ['ignore', 'pipe', 'inherit'] });
}

// Errors from the page: console.error, uncaught exceptions, failed requests.
function watch(page, errors) {
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => {
    // The event stream is cut when a page is closed or navigates: not a failure.
    if (!r.url().includes('/api/stream')) errors.push(`requestfailed: ${r.url()} ${r.failure()?.errorText}`);
  });
  page.on('response', (r) => { if (r.status() >= 400) errors.push(`HTTP ${r.status()} ${r.url()}`); });
}

// Non-transparent pixels of a uPlot chart's canvas: > 0 once lines are drawn.
async function inkedPixels(page, sensor) {
  return page.evaluate((s) => {
    const c = document.querySelector(`#chart-${s} canvas`);
    if (!c) return -1;
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    return n;
  }, sensor);
}

const profile = mkdtempSync(join(tmpdir(), 'ww-chromium-'));
let ctx;
try {
  ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1280, height: 1400 },
    timezoneId: 'UTC', // the alert feed shows times on the reader's clock
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });

  // ---- overview
  {
    const page = await ctx.newPage();
    const errors = [];
    watch(page, errors);
    await page.goto(`${base}/`, { waitUntil: 'domcontentloaded' });
    await page.waitForFunction(() => window.wwCharts && window.wwCharts.temperature
      && window.wwCharts.temperature.data[0].length > 0, null, { timeout: WAIT_MS });
    const points = await page.evaluate(() => Object.fromEntries(Object.entries(window.wwCharts)
      .map(([k, u]) => [k, u.data[0].length])));
    for (const s of ['temperature', 'humidity', 'sound_level', 'anomaly_score']) {
      check(`chart ${s} has points`, points[s] > 0, JSON.stringify(points));
      const ink = await inkedPixels(page, s);
      check(`chart ${s} drew pixels`, ink > 100, `(${ink})`);
    }
    const cards = await page.locator('#lines .card').count();
    check('one card per production line', cards === 2, `(${cards})`);
    const cardText = await page.locator('#lines .card[data-line="turbine-line-1"]').innerText();
    check('line card shows name and live values', cardText.includes('Blade Production Line')
      && cardText.includes('temperature'), cardText);
    await page.waitForSelector('#alerts li[data-alert="turbine-line-1-1764064809000-1"]', { timeout: WAIT_MS });
    check('alert feed lists stored alerts', true);
    // Times on the reader's clock (UTC here), the day named when it is not today.
    const resolvedWhen = await page.locator(
      '#alerts li[data-alert="turbine-line-1-1764064700000-1"] .when').innerText();
    check('a resolved alert says from when to when and how long',
      resolvedWhen === '25 Nov 09:58:20 – 25 Nov 09:59:20 (60 s) · max score 0.700', resolvedWhen);
    const openWhen = await page.locator(
      '#alerts li[data-alert="turbine-line-1-1764064809000-1"] .when').innerText();
    check('an open alert says since when and its last update',
      /^open since 25 Nov 10:00:09 \([0-9]+ days\), last update 25 Nov 10:00:49 · max score 0\.950$/
        .test(openWhen), openWhen);
    const health = await page.locator('#health').innerText();
    check('system status says healthy', health.startsWith('healthy'), health);
    check('system status says a model is loaded', health.includes('model loaded'), health);
    // Line 1 has a model; line 2's newest window says 640 of 2048 readings are gathered.
    const models = await page.locator('#models').innerText();
    check('model line names line 1\'s version', models.includes('turbine-line-1: model v1 (trained 25 Nov 10:00:00)'), models);
    check('model line shows line 2 learning',
      models.includes('turbine-line-2: learning normal behaviour: 640 of 2,048 readings for its '
        + 'first model (31 %)'), models);
    await page.waitForFunction(() => document.getElementById('live').textContent === 'live', null,
      { timeout: WAIT_MS });
    check('live stream connected', true);
    const streamOpen = await page.evaluate(() => document.getElementById('live').dataset.state);
    check('live label matches the open stream', streamOpen === 'live', streamOpen);

    // An anomaly injected into the database appears in the feed within seconds (via /api/stream).
    const now = Date.now();
    const id = `turbine-line-2-${now}-9`;
    sql(`INSERT INTO alerts VALUES('${id}','turbine-line-2','Generator','open','critical','spike',`
      + `${now},${now},NULL,0.97,1,'["temperature"]','{"v":1,"event":"opened","details":{"temperature":48.5}}')`);
    const before = points.temperature;
    sql(`INSERT INTO sensor_readings(timestamp, ts_ms, production_line, component_id, temperature,`
      + ` humidity, sound_level, is_anomaly, anomaly_score, severity) VALUES(`
      + `strftime('%Y-%m-%dT%H:%M:%fZ','now'), ${now}, 'turbine-line-1', 'Blade', 48.5, 50, 60, 1, 0.97, 'critical')`);
    const t0 = Date.now();
    await page.waitForSelector(`#alerts li[data-alert="${id}"]`, { timeout: WAIT_MS });
    check(`injected alert shown in the feed (${Date.now() - t0} ms)`, true);
    await page.waitForFunction((n) => window.wwCharts.temperature.data[0].length > n, before,
      { timeout: WAIT_MS });
    check('live reading added to the chart', true);
    const label = await page.locator('#live').innerText();
    check('header still says live at the screenshot', label === 'live', label);
    await page.screenshot({ path: join(artifacts, 'overview.png'), fullPage: true });
    check('overview: no console errors', errors.length === 0, errors.join('\n'));
    await page.close();
  }

  // ---- a phone-sized screen: everything fits the width
  {
    const page = await ctx.newPage();
    const errors = [];
    watch(page, errors);
    await page.setViewportSize({ width: 390, height: 844 });
    // This browser's clock runs two minutes behind the server's: ages must
    // still be measured on the server's clock, never "-120 s ago".
    await page.clock.setFixedTime(new Date(Date.now() - 120000));
    const fresh = Date.now();
    sql(`INSERT INTO sensor_readings(timestamp, ts_ms, production_line, component_id, temperature,`
      + ` humidity, sound_level, is_anomaly, anomaly_score, severity) VALUES(`
      + `strftime('%Y-%m-%dT%H:%M:%fZ','now'), ${fresh}, 'turbine-line-2', 'Gearbox', 25, 50, 60, 0, 0.1, 'normal')`);
    await page.goto(`${base}/`, { waitUntil: 'domcontentloaded' });
    await page.waitForFunction(() => window.wwCharts && window.wwCharts.sound_level
      && window.wwCharts.sound_level.data[0].length > 0, null, { timeout: WAIT_MS });
    const ages = await page.evaluate(() => [document.getElementById('t-age').textContent,
      ...[...document.querySelectorAll('#lines .card .muted')].map((e) => e.textContent),
      document.getElementById('health').textContent]);
    check('phone: skewed browser clock shows no negative age', ages.length >= 3
      && ages.every((a) => !/-\s*\d/.test(a.replace(/\d{4}-\d\d-\d\d/g, '')))
      && /just now|^\d+ s ago/.test(ages[0]), JSON.stringify(ages));
    const widths = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    check('phone: no horizontal scrolling', widths[0] <= widths[1] + 1, JSON.stringify(widths));
    await page.screenshot({ path: join(artifacts, 'overview-phone.png'), fullPage: true });
    check('phone: no console errors', errors.length === 0, errors.join('\n'));
    await page.close();
  }

  // ---- predictions
  {
    const page = await ctx.newPage();
    const errors = [];
    watch(page, errors);
    await page.goto(`${base}/predictions`, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('#preds tbody tr', { timeout: WAIT_MS });
    const rows = await page.locator('#preds tbody tr').count();
    check('predictions table has 50 rows', rows === 50, `(${rows})`);
    await page.fill('input[name="temperature"]', '44');
    await page.click('#predict button[type="submit"]');
    await page.waitForFunction(() => document.getElementById('result').textContent.includes('score'),
      null, { timeout: WAIT_MS });
    const res = await page.locator('#result').innerText();
    check('predict form shows a critical score for 44 °C', res.includes('critical'), res);
    await page.screenshot({ path: join(artifacts, 'predictions.png'), fullPage: true });
    check('predictions: no console errors', errors.length === 0, errors.join('\n'));
    await page.close();
  }

  // ---- data view + CSV export
  {
    const page = await ctx.newPage();
    const errors = [];
    watch(page, errors);
    await page.goto(`${base}/data-view`, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('#rows tbody tr', { timeout: WAIT_MS });
    await page.selectOption('#table', 'alerts');
    await page.waitForFunction(() => document.querySelector('#rows thead').textContent.includes('alert_id'),
      null, { timeout: WAIT_MS });
    check('data view browses the alerts table', true);
    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: WAIT_MS }),
      page.click('#export'),
    ]);
    const file = join(artifacts, 'sensor_readings.csv');
    await download.saveAs(file);
    const lines = readFileSync(file, 'utf8').split('\r\n').filter((l) => l.length);
    check('CSV export downloads with a header row', lines[0].startsWith('timestamp,production_line'), lines[0]);
    check('CSV export has every stored reading', lines.length - 1 >= 102, `(${lines.length - 1} rows)`);
    await page.screenshot({ path: join(artifacts, 'data-view.png'), fullPage: true });
    check('data view: no console errors', errors.length === 0, errors.join('\n'));
    await page.close();
  }
} catch (e) {
  check('browser session', false, e.stack || String(e));
} finally {
  if (ctx) await ctx.close();
  rmSync(profile, { recursive: true, force: true });
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
