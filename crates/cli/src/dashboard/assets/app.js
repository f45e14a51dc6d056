// wms dashboard: every session of the chosen servers as a tile, kept current from the
// dashboard's event stream (a snapshot, then `server`, `tile` and `gone` messages), with
// actions on the selected tiles, each previewed (what-if) and confirmed. No framework,
// nothing loaded from elsewhere.
'use strict';

const ACTIONS = {
  lock: { verb: 'Lock', message: 'The message shown on the locked screens' },
  unlock: { verb: 'Unlock' },
  close: { verb: 'Log off', explain: 'Logging off ends every program of the session.' },
  disconnect: { verb: 'Disconnect', explain: 'The connection ends; the programs keep running.' },
  message: { verb: 'Send a message to', message: 'The message' },
};
// How often the pictures of the desktops in view are asked for again (the dashboard
// reads each screen at most once every 5 s whatever is asked).
const THUMB_EVERY_MS = 5000;

const servers = new Map(); // name -> {name, status, error, tiles: Map(id -> tile)}
const order = []; // server names, in the dashboard's order
const selected = new Set(); // keys of selected tiles
const groupEls = new Map(); // name -> {root, count, error, grid, empty}
const tileEls = new Map(); // key -> {el, json}: each tile drawn, and what it was drawn from
const visible = new Set(); // img elements in view
let round = 0;
let scheduled = false;

const $ = (sel) => document.querySelector(sel);
const key = (server, id) => `${server}\n${id}`;
const unkey = (k) => {
  const i = k.lastIndexOf('\n');
  return { server: k.slice(0, i), sessionId: Number(k.slice(i + 1)) };
};

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function setGroup(g) {
  if (!servers.has(g.name)) order.push(g.name);
  servers.set(g.name, {
    name: g.name,
    status: g.status,
    error: g.error || null,
    tiles: new Map(g.tiles.map((t) => [t.SessionId, t])),
  });
}

function lookup(k) {
  const { server, sessionId } = unkey(k);
  const s = servers.get(server);
  return s ? s.tiles.get(sessionId) : undefined;
}

function pruneSelection() {
  for (const k of [...selected]) if (!lookup(k)) selected.delete(k);
}

function schedule() {
  if (!scheduled) {
    scheduled = true;
    requestAnimationFrame(render);
  }
}

// ---- what a tile says ------------------------------------------------------------------

function isDesktop(t) {
  return Boolean(t.Display) || t.Type === 'x11' || t.Type === 'wayland';
}

function idleText(t) {
  if (t.IdleSeconds === undefined) return null;
  const s = t.IdleSeconds;
  if (s < 60) return 'active';
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} days`;
}

function label(server, t) {
  return `session ${t.SessionId} (${t.UserName}) on ${server}`;
}

function matches(server, t, q, filter) {
  if (q) {
    const hay = [server, t.UserName, String(t.SessionId), t.ClientName, t.RemoteHost, t.Tty, t.Display]
      .filter(Boolean).join(' ').toLowerCase();
    if (!hay.includes(q)) return false;
  }
  switch (filter) {
    case 'desktop': return isDesktop(t);
    case 'terminal': return !isDesktop(t);
    case 'locked': return t.IsLocked;
    case 'unlocked': return !t.IsLocked;
    case 'disconnected': return t.State === 'Disconnected';
    case 'idle': return t.IdleHint === true || (t.IdleSeconds || 0) >= 300;
    default: return true;
  }
}

const SORTS = {
  id: (a, b) => a.SessionId - b.SessionId,
  user: (a, b) => a.UserName.localeCompare(b.UserName) || a.SessionId - b.SessionId,
  state: (a, b) => String(a.State).localeCompare(String(b.State)) || a.SessionId - b.SessionId,
  idle: (a, b) => (b.IdleSeconds || 0) - (a.IdleSeconds || 0) || a.SessionId - b.SessionId,
  logon: (a, b) => String(a.LogonTime).localeCompare(String(b.LogonTime)) || a.SessionId - b.SessionId,
};

// ---- rendering ------------------------------------------------------------------------

function makeGroup(name) {
  const title = el('h2', { text: name });
  const count = el('span', { class: 'count' });
  const error = el('p', { class: 'server-error', role: 'alert' });
  error.hidden = true;
  const grid = el('div', { class: 'grid' });
  const empty = el('p', { class: 'empty', text: 'No session to show.' });
  const root = el('section', { class: 'server', 'data-server': name, 'aria-label': name },
    el('header', {}, title, count), error, grid, empty);
  return { root, count, error, grid, empty };
}

const observer = new IntersectionObserver((entries) => {
  for (const e of entries) {
    if (e.isIntersecting) {
      visible.add(e.target);
      if (!e.target.getAttribute('src')) e.target.src = e.target.dataset.src + `&r=${round}`;
    } else {
      visible.delete(e.target);
    }
  }
}, { rootMargin: '200px' });

// Tiles are written as HTML and parsed by the browser in one go (a thousand tiles at
// once: far quicker than building them node by node); checkboxes are heard by one
// listener on the whole list.
const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const esc = (v) => String(v).replace(/[&<>"']/g, (c) => ESC[c]);

function tileHTML(server, t, k) {
  const allowed = t.Allowed || [];
  const lbl = esc(label(server, t));
  let screen;
  if (isDesktop(t) && allowed.includes('thumbnail')) {
    const src = `/api/thumbnail?server=${encodeURIComponent(server)}&id=${t.SessionId}`;
    screen = `<div class="screen"><img class="thumb" alt="Screen of ${lbl}" width="160" height="90" data-src="${esc(src)}"></div>`;
  } else if (isDesktop(t)) {
    screen = '<div class="screen unavailable">Desktop (no picture for you)</div>';
  } else {
    screen = `<div class="screen" aria-hidden="true">&gt;_ ${esc(t.Tty || 'terminal')}</div>`;
  }
  const facts = [['Session', t.SessionId], ['State', t.State], ['Idle', idleText(t)],
    ['Type', [t.Type, t.Display].filter(Boolean).join(' ')], ['From', t.ClientName || t.RemoteHost]]
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([n, v]) => `<dt>${n}</dt><dd>${esc(v)}</dd>`).join('');
  let badges = '';
  if (t.IsLocked) badges += `<span class="badge locked" title="${esc(t.LockMessage || '')}">Locked</span>`;
  if (t.IsAdmin) badges += '<span class="badge admin">administrator</span>';
  if (t.Class && t.Class !== 'user') badges += `<span class="badge">${esc(t.Class)}</span>`;
  if (!allowed.some((a) => a !== 'thumbnail')) badges += '<span class="badge" title="Nothing may be done to this session from here">view only</span>';
  const on = selected.has(k);
  return `<article class="tile${on ? ' selected' : ''}" data-key="${esc(k)}" data-server="${esc(server)}"`
    + ` data-session="${t.SessionId}" data-user="${esc(t.UserName)}" data-state="${esc(t.State || 'Unknown')}"`
    + ` data-type="${esc(t.Type || 'unspecified')}" data-locked="${t.IsLocked ? 'true' : 'false'}"`
    + ` data-class="${esc(t.Class || 'user')}" data-allowed="${esc(allowed.join(' '))}">`
    + `<label class="pick"><input type="checkbox" class="select" aria-label="Select ${lbl}"${on ? ' checked' : ''}></label>`
    + `${screen}<h3 class="user">${esc(t.UserName)}</h3><dl>${facts}</dl><p class="badges">${badges}</p></article>`;
}

const parser = document.createElement('template');

// Tiles made from HTML, with what they show remembered so that an unchanged tile is kept.
function makeTiles(html) {
  parser.innerHTML = html;
  const made = [...parser.content.children];
  for (const tile of made) for (const img of tile.querySelectorAll('img.thumb')) observer.observe(img);
  return made;
}

function dropTile(tile) {
  for (const img of tile.querySelectorAll('img')) { observer.unobserve(img); visible.delete(img); }
  tile.remove();
}

function render() {
  scheduled = false;
  const q = $('#search').value.trim().toLowerCase();
  const filter = $('#filter').value;
  const cmp = SORTS[$('#sort').value] || SORTS.id;
  const main = $('#servers');
  let total = 0;
  let shown = 0;
  let unreachable = 0;
  const live = new Set();
  order.forEach((name, i) => {
    const s = servers.get(name);
    let g = groupEls.get(name);
    if (!g) {
      g = makeGroup(name);
      groupEls.set(name, g);
    }
    if (main.children[i] !== g.root) main.insertBefore(g.root, main.children[i] || null);
    g.root.dataset.status = s.status;
    g.error.hidden = s.status !== 'error';
    g.error.textContent = s.status === 'error' ? `Cannot reach ${name}: ${s.error}` : '';
    if (s.status === 'error') unreachable += 1;
    const tiles = [...s.tiles.values()].filter((t) => matches(name, t, q, filter)).sort(cmp);
    total += s.tiles.size;
    shown += tiles.length;
    g.count.textContent = tiles.length === s.tiles.size
      ? `${s.tiles.size} session${s.tiles.size === 1 ? '' : 's'}`
      : `${tiles.length} of ${s.tiles.size} sessions`;
    for (const t of s.tiles.values()) live.add(key(name, t.SessionId));
    // The tiles new or changed since they were drawn, made all at once.
    const fresh = [];
    for (const t of tiles) {
      const k = key(name, t.SessionId);
      const json = JSON.stringify(t);
      const had = tileEls.get(k);
      if (!had || had.json !== json) fresh.push([k, t, json]);
    }
    if (fresh.length) {
      const made = makeTiles(fresh.map(([k, t]) => tileHTML(name, t, k)).join(''));
      fresh.forEach(([k, , json], j) => {
        const old = tileEls.get(k);
        if (old) dropTile(old.el);
        tileEls.set(k, { el: made[j], json });
      });
    }
    if (g.grid.children.length === 0) {
      g.grid.append(...tiles.map((t) => tileEls.get(key(name, t.SessionId)).el));
    } else {
      tiles.forEach((t, j) => {
        const tile = tileEls.get(key(name, t.SessionId)).el;
        if (g.grid.children[j] !== tile) g.grid.insertBefore(tile, g.grid.children[j] || null);
      });
      while (g.grid.children.length > tiles.length) g.grid.lastChild.remove();
    }
    g.empty.hidden = tiles.length > 0 || s.status === 'connecting';
  });
  for (const [k, tile] of tileEls) {
    if (!live.has(k)) {
      dropTile(tile.el);
      tileEls.delete(k);
    }
  }
  for (const [k, tile] of tileEls) {
    const on = selected.has(k);
    if (tile.el.classList.contains('selected') !== on) {
      tile.el.classList.toggle('selected', on);
      tile.el.querySelector('input.select').checked = on;
    }
  }
  const parts = [`${order.length} server${order.length === 1 ? '' : 's'}`,
    shown === total ? `${total} session${total === 1 ? '' : 's'}` : `${shown} of ${total} sessions shown`];
  if (unreachable) parts.push(`${unreachable} unreachable`);
  $('#summary').textContent = parts.join(', ');
  document.documentElement.dataset.tiles = String(total);
  updateToolbar();
  performance.mark('wms-rendered');
}

function updateToolbar() {
  const tiles = [...selected].map(lookup).filter(Boolean);
  $('#selection').textContent = tiles.length === 0 ? 'No session selected'
    : `${tiles.length} session${tiles.length === 1 ? '' : 's'} selected`;
  for (const b of document.querySelectorAll('.toolbar button[data-action]')) {
    b.disabled = !tiles.some((t) => (t.Allowed || []).includes(b.dataset.action));
    b.title = !b.disabled ? ''
      : tiles.length === 0 ? 'Select sessions first'
        : 'Not allowed on the selected sessions: their servers\' rules do not let this dashboard do it (or a server cannot be reached)';
  }
  $('#select-none').disabled = tiles.length === 0;
}

// ---- the event stream -----------------------------------------------------------------

function connect() {
  const es = new EventSource('/api/events');
  es.addEventListener('snapshot', (e) => {
    performance.mark('wms-snapshot');
    const d = JSON.parse(e.data);
    servers.clear();
    order.length = 0;
    for (const g of d.servers) setGroup(g);
    pruneSelection();
    $('#connection').hidden = true;
    schedule();
  });
  es.addEventListener('server', (e) => {
    setGroup(JSON.parse(e.data));
    pruneSelection();
    schedule();
  });
  es.addEventListener('tile', (e) => {
    const d = JSON.parse(e.data);
    const s = servers.get(d.server);
    if (s) {
      s.tiles.set(d.tile.SessionId, d.tile);
      schedule();
    }
  });
  es.addEventListener('gone', (e) => {
    const d = JSON.parse(e.data);
    const s = servers.get(d.server);
    if (s) {
      s.tiles.delete(d.sessionId);
      selected.delete(key(d.server, d.sessionId));
      schedule();
    }
  });
  es.addEventListener('error', () => {
    const c = $('#connection');
    c.hidden = false;
    c.textContent = es.readyState === EventSource.CLOSED
      ? 'The dashboard refused this page or has ended. Start `wms dashboard` again and open the new link.'
      : 'Lost the connection to the dashboard; trying again…';
  });
}

setInterval(() => {
  round += 1;
  for (const img of visible) img.src = `${img.dataset.src}&r=${round}`;
}, THUMB_EVERY_MS);

// ---- actions --------------------------------------------------------------------------

let pending = null;

function chosen() {
  return [...selected].filter(lookup).map(unkey);
}

function openAction(action) {
  const a = ACTIONS[action];
  const targets = chosen();
  if (targets.length === 0) return;
  pending = { action, targets };
  const n = targets.length;
  $('#action-title').textContent = `${a.verb} ${n} session${n === 1 ? '' : 's'}`;
  $('#action-explain').textContent = a.explain || '';
  $('#message-field').hidden = !a.message;
  if (a.message) $('#message-label').textContent = a.message;
  $('#action-message').value = '';
  $('#action-targets').replaceChildren();
  $('#action-results').replaceChildren();
  $('#results-title').hidden = true;
  $('#action-error').hidden = true;
  $('#action-confirm').disabled = true;
  $('#action-confirm').textContent = `${a.verb} ${n === 1 ? 'it' : `these ${n}`}`;
  $('#action-preview').disabled = false;
  const dialog = $('#action-dialog');
  dialog.showModal();
  if (a.message) $('#action-message').focus();
  else preview();
}

function body() {
  const b = { action: pending.action, targets: pending.targets };
  if (ACTIONS[pending.action].message) b.message = $('#action-message').value;
  return JSON.stringify(b);
}

async function post(path) {
  const err = $('#action-error');
  err.hidden = true;
  let resp;
  try {
    resp = await fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: body() });
  } catch (e) {
    err.hidden = false;
    err.textContent = `The dashboard cannot be reached: ${e.message}`;
    return null;
  }
  const text = await resp.text();
  let d = null;
  try { d = JSON.parse(text); } catch (e) { /* a refusal in plain text */ }
  if (!resp.ok || !d || !Array.isArray(d.results)) {
    err.hidden = false;
    err.textContent = (d && d.error) || text || `HTTP ${resp.status}`;
    return null;
  }
  return d.results;
}

function list(ul, results) {
  ul.replaceChildren(...results.map((r) => el('li', {
    'data-server': r.server, 'data-session': String(r.sessionId), 'data-outcome': r.outcome, text: r.text,
  })));
}

async function preview() {
  if (!pending) return;
  $('#action-confirm').disabled = true;
  const results = await post('/api/preview');
  if (!results) return;
  list($('#action-targets'), results);
  const any = results.some((r) => r.outcome === 'WhatIf');
  $('#action-confirm').disabled = !any;
  if (any) $('#action-confirm').focus();
}

async function confirmAction() {
  if (!pending) return;
  $('#action-confirm').disabled = true;
  $('#action-preview').disabled = true;
  const results = await post('/api/act');
  $('#action-preview').disabled = false;
  if (!results) return;
  $('#results-title').hidden = false;
  list($('#action-results'), results);
  $('#action-close').focus();
}

function init() {
  for (const b of document.querySelectorAll('.toolbar button[data-action]')) {
    b.addEventListener('click', () => openAction(b.dataset.action));
  }
  $('#action-preview').addEventListener('click', preview);
  $('#action-confirm').addEventListener('click', confirmAction);
  $('#action-close').addEventListener('click', () => $('#action-dialog').close());
  // A changed message is previewed again before it is sent.
  $('#action-message').addEventListener('input', () => { $('#action-confirm').disabled = true; });
  $('#action-dialog').addEventListener('close', () => { pending = null; });
  $('#select-none').addEventListener('click', () => { selected.clear(); schedule(); });
  $('#servers').addEventListener('change', (e) => {
    const box = e.target;
    if (!box.matches('input.select')) return;
    const tile = box.closest('.tile');
    if (box.checked) selected.add(tile.dataset.key); else selected.delete(tile.dataset.key);
    tile.classList.toggle('selected', box.checked);
    updateToolbar();
  });
  $('#select-shown').addEventListener('click', () => {
    for (const tile of document.querySelectorAll('.tile')) selected.add(tile.dataset.key);
    schedule();
  });
  for (const id of ['#search', '#filter', '#sort']) $(id).addEventListener('input', schedule);
  document.addEventListener('keydown', (e) => {
    if (e.key === '/' && document.activeElement.tagName !== 'INPUT' && document.activeElement.tagName !== 'TEXTAREA') {
      e.preventDefault();
      $('#search').focus();
    }
  });
  connect();
}

init();
