/* common.js: helpers shared by the dashboard pages. No framework; no network but this server. */
'use strict';

const ww = {
  /* GET a JSON endpoint; rejects with the server's error message. */
  async getJSON(path) {
    const r = await fetch(path, { headers: { Accept: 'application/json' } });
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (!r.ok) throw new Error((body && body.error) || `${path}: HTTP ${r.status}`);
    return body;
  },

  /* Create an element with properties and children (strings become text nodes). */
  el(tag, props, ...children) {
    const e = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (k === 'class') e.className = v;
        else if (k === 'text') e.textContent = v;
        else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
        else e.setAttribute(k, v);
      }
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    }
    return e;
  },

  fmt(v, digits = 2) {
    return typeof v === 'number' && isFinite(v) ? v.toFixed(digits) : '–';
  },

  badge(status) {
    const s = status || 'unknown';
    return ww.el('span', { class: `badge ${s}`, text: s });
  },

  /* Seconds since the Unix epoch from an RFC 3339 string, or null. */
  epoch(ts) {
    const t = Date.parse(ts);
    return isNaN(t) ? null : t / 1000;
  },

  /* Server clock minus browser clock in ms, from the "timestamp" of API
   * responses (see syncClock): ages are measured on the server's clock, so a
   * browser whose clock runs ahead or behind never shows "-9 s ago". */
  clockSkewMs: 0,

  /* Record the server's time \p serverTs (RFC 3339) of a response that was
   * requested at browser time t0 and arrived at t1 (ms). */
  syncClock(serverTs, t0, t1) {
    const t = Date.parse(serverTs);
    if (!isNaN(t)) ww.clockSkewMs = t - (t0 + t1) / 2;
  },

  /* The server's current time in seconds since the epoch. */
  now() {
    return (Date.now() + ww.clockSkewMs) / 1000;
  },

  /* A stored instant as the reader's wall-clock time: "14:03:27" today,
   * "25 Nov 10:00:09" on another day; '–' if it is not a timestamp. */
  clock(iso) {
    const t = Date.parse(iso);
    if (isNaN(t)) return '–';
    const d = new Date(t);
    const hms = d.toLocaleTimeString('en-GB', { hour12: false });
    if (d.toDateString() === new Date(ww.now() * 1000).toDateString()) return hms;
    return `${d.toLocaleDateString('en-GB', { day: 'numeric', month: 'short' })} ${hms}`;
  },

  /* A span of seconds in words: "45 s", "12 min", "3 h 5 min", "4 days". */
  span(seconds) {
    if (typeof seconds !== 'number' || !isFinite(seconds) || seconds < 0) return '–';
    if (seconds < 90) return `${Math.round(seconds)} s`;
    if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
    if (seconds >= 172800) return `${Math.round(seconds / 86400)} days`;
    const h = Math.floor(seconds / 3600);
    return `${h} h ${Math.round((seconds - h * 3600) / 60)} min`;
  },

  age(seconds) {
    if (typeof seconds !== 'number' || !isFinite(seconds)) return 'no data';
    /* A reading stamped slightly ahead of the server's clock is "just now". */
    if (seconds < 1) return 'just now';
    if (seconds < 90) return `${Math.round(seconds)} s ago`;
    if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
    if (seconds < 172800) return `${Math.round(seconds / 3600)} h ago`;
    return `${Math.round(seconds / 86400)} days ago`;
  },

  /* Mark the current page's link in the header. */
  markNav() {
    for (const a of document.querySelectorAll('nav a')) {
      if (a.getAttribute('href') === location.pathname) a.classList.add('active');
    }
  },

  showError(where, err) {
    const box = document.getElementById(where);
    if (box) box.textContent = String(err && err.message ? err.message : err);
  },
};

document.addEventListener('DOMContentLoaded', () => ww.markNav());
