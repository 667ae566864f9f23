/* data-view.js: database statistics, table browsing (allow-listed tables only) and CSV export. */
'use strict';

async function loadStats() {
  const s = await ww.getJSON('/api/database-stats');
  const parts = Object.entries(s.tables).map(([t, v]) => `${t}: ${v.row_count}`);
  document.getElementById('stats').textContent =
    `${(s.database_size_bytes / 1048576).toFixed(1)} MiB · ${parts.join(' · ')}`;
}

async function loadTable() {
  const table = document.getElementById('table').value;
  const limit = document.getElementById('limit').value || '100';
  const d = await ww.getJSON(`/api/table-data/${encodeURIComponent(table)}?limit=${encodeURIComponent(limit)}`);
  const cols = d.data.length ? Object.keys(d.data[0]) : [];
  const t = document.getElementById('rows');
  t.tHead.replaceChildren(ww.el('tr', null, ...cols.map((c) => ww.el('th', { text: c }))));
  t.tBodies[0].replaceChildren(...d.data.map((row) => ww.el('tr', null,
    ...cols.map((c) => ww.el('td', { text: row[c] === null ? '' : String(row[c]) })))));
  ww.showError('error', d.count ? '' : `${table} is empty`);
}

async function main() {
  document.getElementById('load').addEventListener('click', () => loadTable().catch((e) => ww.showError('error', e)));
  document.getElementById('table').addEventListener('change', () => loadTable().catch((e) => ww.showError('error', e)));
  try {
    await loadStats();
    await loadTable();
  } catch (e) {
    ww.showError('error', e);
  }
}

document.addEventListener('DOMContentLoaded', main);
