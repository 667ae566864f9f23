/* predictions.js: the latest scored readings, refreshed every 3 s, and a form for POST /api/predict. */
'use strict';

let lines = {};

async function loadPredictions() {
  /* recent_data is an index range scan; data-samples would also summarise the whole table. */
  const d = await ww.getJSON('/api/dashboard-data?limit=50');
  const body = document.querySelector('#preds tbody');
  body.replaceChildren(...d.recent_data.map((r) => ww.el('tr', null,
    ww.el('td', { text: r.timestamp }), ww.el('td', { text: r.production_line }),
    ww.el('td', { text: r.component_id }), ww.el('td', { text: ww.fmt(r.temperature) }),
    ww.el('td', { text: ww.fmt(r.humidity) }), ww.el('td', { text: ww.fmt(r.sound_level) }),
    ww.el('td', { text: ww.fmt(r.anomaly_score, 3) }), ww.el('td', null, ww.badge(r.severity)),
    ww.el('td', { text: r.model_version === null ? '–' : String(r.model_version) }))));
}

function fillComponents() {
  const l = lines[document.getElementById('p-line').value];
  const sel = document.getElementById('p-comp');
  sel.replaceChildren(...((l && l.components) || []).map((c) => ww.el('option', { value: c, text: c })));
}

async function setupForm() {
  lines = await ww.getJSON('/api/production-lines');
  const sel = document.getElementById('p-line');
  sel.replaceChildren(...Object.entries(lines).map(([id, l]) => ww.el('option', { value: id, text: `${l.name} (${id})` })));
  sel.addEventListener('change', fillComponents);
  fillComponents();
  document.getElementById('predict').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    const body = {
      production_line: f.get('production_line'),
      component_id: f.get('component_id'),
      temperature: Number(f.get('temperature')),
      humidity: Number(f.get('humidity')),
      sound_level: Number(f.get('sound_level')),
      timestamp: new Date().toISOString(),
    };
    const out = document.getElementById('result');
    try {
      const r = await fetch('/api/predict', {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
      });
      const d = await r.json();
      if (!r.ok) throw new Error(d.error || `HTTP ${r.status}`);
      out.replaceChildren('score ', ww.el('strong', { text: ww.fmt(d.anomaly_score, 4) }), ' ',
        ww.badge(d.status), ` (scored by ${d.scoring}${d.model_version ? ` v${d.model_version}` : ''})`);
    } catch (e) {
      out.textContent = `error: ${e.message}`;
    }
  });
}

async function main() {
  try {
    await setupForm();
    await loadPredictions();
  } catch (e) {
    ww.showError('error', e);
  }
  setInterval(() => loadPredictions().catch((e) => ww.showError('error', e)), 3000);
}

document.addEventListener('DOMContentLoaded', main);
