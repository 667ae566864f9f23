/* dashboard.js: the overview page. Loads the current state over REST, then
 * follows /api/stream (Server-Sent Events); if the stream fails it falls back
 * to polling /api/dashboard-data every 3 s, as the original did. */
'use strict';

const SENSORS = ['temperature', 'humidity', 'sound_level', 'anomaly_score'];
const MAX_POINTS = 600;          /* readings kept for the charts */
const POLL_MS = 3000;            /* polling interval when the stream is down */
const COLORS = ['#58a6ff', '#f0883e', '#a371f7', '#3fb950', '#db61a2', '#e3b341'];

const state = {
  lines: {},          /* id -> production line status (from /api/current-status) */
  lineOrder: [],      /* line ids, fixed order for chart series */
  readings: [],       /* recent readings, oldest first, capped at MAX_POINTS */
  seen: new Set(),    /* reading ids already in readings */
  alerts: new Map(),  /* alert_id -> alert */
  charts: {},         /* sensor -> uPlot */
  soundOn: localStorage.getItem('ww-sound') === 'on',
  audio: null,
  pollTimer: null,
  stream: null,
  streamErrors: 0,
  everOpen: false,    /* the stream was open at least once */
};
window.wwCharts = state.charts; /* read by the browser tests */

/* ---------------------------------------------------------------- sound */
function beep() {
  if (!state.soundOn) return;
  try {
    if (!state.audio) state.audio = new AudioContext();
    const osc = state.audio.createOscillator();
    const gain = state.audio.createGain();
    osc.frequency.value = 880;
    gain.gain.value = 0.15;
    osc.connect(gain).connect(state.audio.destination);
    osc.start();
    osc.stop(state.audio.currentTime + 0.25);
  } catch (e) {
    /* no audio device: the cue is optional */
  }
}

function setupMute() {
  const b = document.getElementById('mute');
  const show = () => { b.textContent = state.soundOn ? 'Sound: on' : 'Sound: off'; };
  show();
  b.addEventListener('click', () => {
    state.soundOn = !state.soundOn;
    localStorage.setItem('ww-sound', state.soundOn ? 'on' : 'off');
    if (state.soundOn && !state.audio) {
      try { state.audio = new AudioContext(); } catch (e) { state.audio = null; }
    }
    show();
  });
}

/* --------------------------------------------------------------- charts */
function chartData(sensor) {
  const xs = [];
  const ys = state.lineOrder.map(() => []);
  for (const r of state.readings) {
    const t = ww.epoch(r.timestamp);
    if (t === null) continue;
    const li = state.lineOrder.indexOf(r.production_line);
    if (li < 0) continue;
    xs.push(t);
    ys.forEach((arr, i) => arr.push(i === li && typeof r[sensor] === 'number' ? r[sensor] : null));
  }
  return [xs, ...ys];
}

/* The time axis on the reader's 24-hour clock, one row of labels (uPlot's
 * default second row of dates overlaps when a span starts near midnight or
 * the hour): seconds over short spans, minutes over hours, then days, then months. */
function timeLabels(u, splits) {
  const span = splits.length > 1 ? splits[splits.length - 1] - splits[0] : 0;
  return splits.map((t) => {
    const d = new Date(t * 1000);
    if (span >= 180 * 86400) return d.toLocaleDateString('en-GB', { month: 'short', year: 'numeric' });
    if (span >= 2 * 86400) return d.toLocaleDateString('en-GB', { day: 'numeric', month: 'short' });
    const opts = span >= 3600 ? { hour: '2-digit', minute: '2-digit' } : {};
    return d.toLocaleTimeString('en-GB', { hour12: false, ...opts });
  });
}

function makeChart(sensor) {
  const box = document.getElementById(`chart-${sensor}`);
  if (!box || typeof uPlot === 'undefined') return;
  const opts = {
    width: Math.max(box.clientWidth, 280),
    height: 200,
    scales: { x: { time: true } },
    axes: [
      { stroke: '#8ea0b3', grid: { stroke: '#263443' }, space: 70, values: timeLabels },
      { stroke: '#8ea0b3', grid: { stroke: '#263443' } },
    ],
    series: [{}, ...state.lineOrder.map((id, i) => ({
      label: id, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: true,
      points: { show: false },
    }))],
  };
  state.charts[sensor] = new uPlot(opts, chartData(sensor), box);
}

function redrawCharts() {
  for (const s of SENSORS) {
    if (!state.charts[s]) makeChart(s);
    else state.charts[s].setData(chartData(s));
  }
}

window.addEventListener('resize', () => {
  for (const s of SENSORS) {
    const u = state.charts[s];
    const box = document.getElementById(`chart-${s}`);
    if (u && box) u.setSize({ width: Math.max(box.clientWidth, 280), height: 200 });
  }
});

function addReadings(list) {
  let added = 0;
  for (const r of list) {
    if (r.id !== undefined && state.seen.has(r.id)) continue;
    if (r.id !== undefined) state.seen.add(r.id);
    state.readings.push(r);
    added++;
  }
  if (!added) return;
  state.readings.sort((a, b) => (ww.epoch(a.timestamp) || 0) - (ww.epoch(b.timestamp) || 0));
  while (state.readings.length > MAX_POINTS) {
    const old = state.readings.shift();
    if (old.id !== undefined) state.seen.delete(old.id);
  }
}

/* ---------------------------------------------------------- statistics */
function renderStats() {
  let n = 0, w = 0, c = 0, sum = 0, cnt = 0;
  for (const r of state.readings) {
    const s = r.severity || r.status;
    if (s === 'critical') c++; else if (s === 'warning') w++; else n++;
    if (typeof r.anomaly_score === 'number') { sum += r.anomaly_score; cnt++; }
  }
  document.getElementById('t-lines').textContent = String(state.lineOrder.length);
  document.getElementById('t-normal').textContent = String(n);
  document.getElementById('t-warning').textContent = String(w);
  document.getElementById('t-critical').textContent = String(c);
  document.getElementById('t-avg').textContent = cnt ? (sum / cnt).toFixed(3) : '–';
  const last = state.readings.length ? state.readings[state.readings.length - 1] : null;
  const t = last ? ww.epoch(last.timestamp) : null;
  document.getElementById('t-age').textContent = t ? ww.age(ww.now() - t) : 'no data';

  const bins = new Array(10).fill(0);
  for (const r of state.readings) {
    if (typeof r.anomaly_score !== 'number') continue;
    bins[Math.min(9, Math.max(0, Math.floor(r.anomaly_score * 10)))]++;
  }
  const max = Math.max(1, ...bins);
  const dist = document.getElementById('dist');
  dist.replaceChildren(...bins.map((b, i) => ww.el('div', {
    title: `${(i / 10).toFixed(1)}–${((i + 1) / 10).toFixed(1)}: ${b}`,
    style: `flex:1;height:${Math.round((b / max) * 100)}%;min-height:1px;background:${
      i >= 8 ? 'var(--critical)' : i >= 6 ? 'var(--warning)' : 'var(--normal)'}`,
  })));
}

/* --------------------------------------------------------------- lines */
function renderLines() {
  const box = document.getElementById('lines');
  const cards = state.lineOrder.map((id) => {
    const l = state.lines[id] || {};
    const rows = Object.entries(l.sensors || {}).map(([k, v]) =>
      ww.el('tr', null, ww.el('td', { text: k.replace('_', ' ') }),
        ww.el('td', { class: 'num', text: ww.fmt(v) })));
    const active = [...state.alerts.values()].filter((a) => a.production_line === id && a.state === 'open');
    return ww.el('div', { class: 'card', 'data-line': id },
      ww.el('h3', null, ww.el('span', { text: l.name || id }), ww.badge(l.status)),
      ww.el('div', { class: 'comp', text: (l.components || []).join(' · ') }),
      ww.el('table', null, ...rows,
        ww.el('tr', null, ww.el('td', { text: 'anomaly score' }),
          ww.el('td', { class: 'num', text: ww.fmt(l.anomaly_score, 3) }))),
      ww.el('div', { class: 'muted', text: `last reading ${ww.age(l.age_seconds)}` }),
      active.length ? ww.el('div', { class: 'alert',
        text: `${active.length} active alert(s): ${active[0].severity} ${active[0].anomaly_type || ''} on ${active[0].component_id || ''}` }) : null);
  });
  box.replaceChildren(...cards);
}

function updateLineFromReading(r) {
  const l = state.lines[r.production_line];
  if (!l) return;
  for (const k of Object.keys(l.sensors || {})) if (typeof r[k] === 'number') l.sensors[k] = r[k];
  l.anomaly_score = r.anomaly_score;
  l.status = r.severity || r.status;
  const t = ww.epoch(r.timestamp);
  if (t) l.age_seconds = ww.now() - t;
}

/* --------------------------------------------------------------- alerts */
function renderAlerts() {
  const list = [...state.alerts.values()].sort((a, b) => (b.updated_at || '').localeCompare(a.updated_at || ''));
  const feed = document.getElementById('alerts');
  if (!list.length) {
    feed.replaceChildren(ww.el('li', { class: 'muted', text: 'no alerts' }));
    return;
  }
  feed.replaceChildren(...list.slice(0, 100).map((a) => {
    const details = ww.el('pre', { hidden: '' , text: JSON.stringify(a.details, null, 1) });
    return ww.el('li', { 'data-alert': a.alert_id, onclick: () => { details.hidden = !details.hidden; } },
      ww.badge(a.severity), ' ',
      ww.el('strong', { text: `${a.production_line} · ${a.component_id || ''}` }), ' ',
      ww.el('span', { text: `${a.anomaly_type || ''} on ${(a.sensors || []).join(', ')} — ${a.state}` }),
      ww.el('div', { class: 'when', title: `opened ${a.opened_at || '–'}, updated ${a.updated_at || '–'}`
        + (a.resolved_at ? `, resolved ${a.resolved_at}` : ''), text: alertWhen(a) }),
      details);
  }));
}

/* When an alert happened, in the reader's clock: an open one since when and
 * for how long, a resolved one from when to when; then its worst score. */
function alertWhen(a) {
  const opened = Date.parse(a.opened_at) / 1000;
  const score = `max score ${ww.fmt(a.max_score, 3)}`;
  if (a.state === 'resolved' && a.resolved_at) {
    const lasted = Date.parse(a.resolved_at) / 1000 - opened;
    return `${ww.clock(a.opened_at)} – ${ww.clock(a.resolved_at)} (${ww.span(lasted)}) · ${score}`;
  }
  return `open since ${ww.clock(a.opened_at)} (${ww.span(ww.now() - opened)}), last update `
    + `${ww.clock(a.updated_at)} · ${score}`;
}

function addAlert(a, live) {
  const known = state.alerts.get(a.alert_id);
  state.alerts.set(a.alert_id, a);
  if (live && a.severity === 'critical' && a.state === 'open' && (!known || known.severity !== 'critical')) beep();
}

/* --------------------------------------------------------- status/health */
async function loadStatus() {
  const t0 = Date.now();
  const [health, status] = await Promise.all([
    ww.getJSON('/api/health').catch((e) => ({ status: 'unhealthy', error: e.message })),
    ww.getJSON('/api/current-status'),
  ]);
  if (health.timestamp) ww.syncClock(health.timestamp, t0, Date.now());
  const ok = health.status === 'healthy';
  document.getElementById('health-dot').className = `status-dot ${ok ? 'ok' : 'bad'}`;
  const age = health.data_age_seconds;
  const flowing = typeof age === 'number' && age < 10 ? 'data flowing'
    : `no new data (last ${ww.age(age)})`;
  document.getElementById('health').textContent = ok
    ? `healthy · ${health.model === 'loaded' ? 'model loaded' : 'no model yet'} · scoring ${health.scoring} · ${flowing}`
    : `unhealthy: ${health.error || ''}`;
  state.lineOrder = Object.keys(status.production_lines);
  state.lines = status.production_lines;
  const ms = status.model_status || {};
  const models = ms.models || {};
  const training = ms.training || {};
  document.getElementById('models').textContent = state.lineOrder.map((id) =>
    `${id}: ${models[id] ? `model v${models[id].version} (trained ${ww.clock(models[id].trained_at)})`
      : training[id] ? learning(training[id]) : 'no model yet'}`).join(' · ');
}

/* A line's first model gathering its training readings (as of its newest
 * window): how far, and roughly how long to go at the line's rate. */
function learning(t) {
  const pct = Math.floor((100 * t.readings) / t.needed);
  let text = `learning normal behaviour: ${t.readings.toLocaleString('en-US')} of `
    + `${t.needed.toLocaleString('en-US')} readings for its first model (${pct} %)`;
  const asOf = Date.parse(t.as_of) / 1000;
  if (t.readings_per_minute > 0 && isFinite(asOf)) {
    const left = t.needed - t.readings - (t.readings_per_minute * Math.max(0, ww.now() - asOf)) / 60;
    text += left > 0 ? `, about ${Math.max(1, Math.ceil(left / t.readings_per_minute))} min to go`
      : ', any moment now';
  }
  return text;
}

async function loadData() {
  const [dash, alerts] = await Promise.all([
    ww.getJSON('/api/dashboard-data?limit=300'),
    ww.getJSON('/api/alerts?limit=100'),
  ]);
  addReadings(dash.recent_data.slice().reverse());
  for (const a of alerts.alerts) addAlert(a, false);
}

function renderAll() {
  renderStats();
  renderLines();
  renderAlerts();
  redrawCharts();
}

/* ------------------------------------------------------ live: SSE / poll */
/* The header says what really feeds the page: the open stream, polling, or
 * a stream still (re)connecting. Called on every stream state change and
 * once a second, so it can never lag behind the EventSource. */
function showLive() {
  const es = state.stream;
  let text;
  const OPEN = 1, CONNECTING = 0; /* EventSource readyState values */
  if (es && es.readyState === OPEN) text = 'live';
  else if (state.pollTimer) text = 'polling every 3 s';
  else if (es && es.readyState === CONNECTING) text = state.everOpen ? 'reconnecting…' : 'connecting…';
  else text = 'offline';
  const box = document.getElementById('live');
  if (box.textContent !== text) box.textContent = text;
  box.dataset.state = text === 'live' ? 'live' : state.pollTimer ? 'polling' : 'connecting';
}

function startPolling() {
  if (state.pollTimer) return;
  state.pollTimer = setInterval(async () => {
    try {
      await loadStatus();
      await loadData();
      renderAll();
      ww.showError('error', '');
    } catch (e) {
      ww.showError('error', e);
    }
  }, POLL_MS);
  showLive();
}

function startStream() {
  if (typeof EventSource === 'undefined') { startPolling(); return; }
  const es = new EventSource('/api/stream');
  state.stream = es;
  let dirty = false;
  es.onopen = () => {
    state.streamErrors = 0;
    state.everOpen = true;
    if (state.pollTimer) { clearInterval(state.pollTimer); state.pollTimer = null; }
    showLive();
  };
  es.addEventListener('reading', (ev) => {
    const r = JSON.parse(ev.data);
    addReadings([r]);
    updateLineFromReading(r);
    dirty = true;
  });
  es.addEventListener('alert', (ev) => {
    addAlert(JSON.parse(ev.data), true);
    dirty = true;
  });
  es.addEventListener('window', () => { /* windows show on /api/lines/<id>; nothing to redraw */ });
  es.onerror = () => {
    state.streamErrors++;
    if (es.readyState === EventSource.CLOSED || state.streamErrors >= 3) startPolling();
    showLive();
  };
  setInterval(showLive, 1000);
  /* Batch redraws: at most four a second whatever the event rate. */
  setInterval(() => { if (dirty) { dirty = false; renderAll(); } }, 250);
}

async function main() {
  setupMute();
  try {
    await loadStatus();
    await loadData();
    renderAll();
  } catch (e) {
    ww.showError('error', e);
  }
  startStream();
  /* Refresh the status line and ages even when nothing arrives. */
  setInterval(() => { loadStatus().then(renderLines).catch((e) => ww.showError('error', e)); }, 10000);
}

document.addEventListener('DOMContentLoaded', main);
