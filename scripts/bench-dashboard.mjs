// The browser side of scripts/bench-dashboard (run by it; see its header): headless
// Chromium through playwright-core opens a running `wms dashboard` and times
//   load   from page.goto to every tile of the generated sessions in the page (each in a
//          fresh browser context, so nothing is cached), and to the first frame painted
//          after that; against `wms session list --hosts-file HOSTS -o json` (what the
//          page's first view needs), alternating which goes first;
//   event  from starting one generated session (wms-gen) to its tile on every server's
//          group, and from ending it to its last tile gone; against `wms session watch
//          --hosts-file HOSTS -o json` seeing the same event from every agent (both follow
//          the same session, at the same time).
// Every process it starts (Chromium, wms-gen, wms) is ended by its PID before it exits.
//
//     node scripts/bench-dashboard.mjs --url URL --hosts-file FILE --wms BIN --gen BIN
//          --hosts N --ids ID,... --procs M --runs N --dashboard-pid PID
//          --agent-pids PID,... --out FILE.json [--profile FILE.cpuprofile]
//
// --profile: one more opening of the page with Chromium's JavaScript profiler on, its
// profile written to FILE (DevTools opens it) and the functions that took the most time
// (self time) in the results; and one under Chromium's tracing (FILE without .cpuprofile,
// .trace.json: DevTools' Performance panel opens it), the page's long main-thread steps
// (script, style, layout, paint) in the results.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const { launch } = await import(path.join(here, '../crates/testkit/browser/launch.mjs'));

// ---- arguments ---------------------------------------------------------------------
const opt = {};
for (let i = 2; i < process.argv.length; i += 2) {
  const k = process.argv[i];
  const v = process.argv[i + 1];
  if (!k.startsWith('--') || v === undefined) fail(`bad argument ${k}`);
  opt[k.slice(2)] = v;
}
for (const k of ['url', 'hosts-file', 'wms', 'gen', 'hosts', 'ids', 'procs', 'runs', 'dashboard-pid', 'agent-pids', 'out']) {
  if (!(k in opt)) fail(`--${k} is missing`);
}
const HOSTS = Number(opt.hosts);
const RUNS = Number(opt.runs);
const IDS = opt.ids.split(',').map(Number);
const DASHBOARD_PID = Number(opt['dashboard-pid']);
const AGENT_PIDS = opt['agent-pids'].split(',').map(Number);
const LOAD_TIMEOUT = 60_000;
const EVENT_TIMEOUT = 30_000;

function say(s) {
  process.stderr.write(`bench-dashboard: ${s}\n`);
}
function fail(s) {
  say(s);
  process.exitCode = 1;
  throw new Error(s);
}
const now = () => performance.timeOrigin + performance.now(); // ms since the epoch
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- CPU accounting (ms), from /proc -------------------------------------------------
const TICK_MS = 10; // USER_HZ is 100 on Linux
function stat(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
    return { ppid: Number(f[1]), self: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]), comm: s.slice(s.indexOf('(') + 1, s.lastIndexOf(')')) };
  } catch {
    return null;
  }
}
const cpuOf = (pids) => pids.reduce((a, p) => a + (stat(p)?.self ?? 0), 0) * TICK_MS;
// Chromium's processes: our descendants whose name says so, with what they reaped.
function browserCpu() {
  const procs = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const s = stat(Number(d));
    if (s) procs.set(Number(d), s);
  }
  const mine = new Set([process.pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [p, s] of procs) if (!mine.has(p) && mine.has(s.ppid)) { mine.add(p); grew = true; }
  }
  let t = 0;
  for (const p of mine) {
    const s = procs.get(p);
    if (p !== process.pid && s && /chrom|headless/i.test(s.comm)) t += s.self + s.children;
  }
  return t * TICK_MS;
}
const selfChildrenCpu = () => (stat(process.pid)?.children ?? 0) * TICK_MS;

// ---- processes we start, ended by PID -------------------------------------------------
const started = new Set();
function start(cmd, args, stdio = ['ignore', 'pipe', 'pipe']) {
  const c = spawn(cmd, args, { stdio });
  started.add(c);
  c.on('exit', () => started.delete(c));
  return c;
}
async function endChild(c) {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const gone = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  if (await Promise.race([gone.then(() => true), sleep(5000).then(() => false)])) return;
  c.kill('SIGKILL');
  await gone;
}
const exited = (c) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', r)));

// ---- the baseline list -----------------------------------------------------------------
let wanted = null; // "server/session" of every generated session on every server
async function listOnce() {
  const c0 = selfChildrenCpu();
  const a0 = cpuOf(AGENT_PIDS);
  const t0 = now();
  const c = start(opt.wms, ['session', 'list', '--hosts-file', opt['hosts-file'], '-o', 'json']);
  let out = '';
  let err = '';
  c.stdout.on('data', (d) => (out += d));
  c.stderr.on('data', (d) => (err += d));
  const code = await new Promise((r) => c.on('close', (code) => r(code)));
  const wall = now() - t0;
  const rec = { wall, client_cpu: selfChildrenCpu() - c0, agents_cpu: cpuOf(AGENT_PIDS) - a0 };
  if (code !== 0) fail(`wms session list exited ${code}: ${err.slice(0, 2000)}`);
  const rows = out.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
  const ids = new Set(IDS);
  const pairs = new Set(rows.filter((r) => ids.has(r.SessionId)).map((r) => `${r.Server}/${r.SessionId}`));
  if (pairs.size !== HOSTS * IDS.length) fail(`wms session list showed ${pairs.size} (server, session) pairs of the generated sessions, not ${HOSTS * IDS.length}`);
  if (!wanted) wanted = [...pairs];
  rec.listed = rows.length;
  return rec;
}

// ---- the page ------------------------------------------------------------------------
// Installed before the page's own scripts: records when every wanted tile is in the
// document (the end of the task that put the last one there) and when the frame after
// that was painted.
function loadProbe(want) {
  const b = (window.__bench = { want: new Set(want), dom: null, painted: null, tiles: 0, firstTile: null, groupsOk: null });
  const stamp = () => performance.timeOrigin + performance.now();
  // A running count of the tiles added (cheap, from the mutation records) decides when
  // to look for every wanted one; a changed data-server or data-session looks too.
  let count = 0;
  const tilesIn = (n) => (n.nodeType === 1 ? (n.matches('article.tile') ? 1 : 0) + n.querySelectorAll('article.tile').length : 0);
  const check = (records) => {
    const t = stamp(); // the document as it is now: what follows is this probe's own time
    let look = false;
    for (const r of records) {
      if (r.type === 'attributes') look = true;
      for (const n of r.addedNodes) count += tilesIn(n);
      for (const n of r.removedNodes) count -= tilesIn(n);
    }
    if (count > 0 && b.firstTile === null) b.firstTile = t;
    if (!look && count < b.want.size) return;
    const tiles = document.querySelectorAll('article.tile');
    if (tiles.length < b.want.size) return;
    let found = 0;
    for (const t of tiles) if (b.want.has(`${t.dataset.server}/${t.dataset.session}`)) found++;
    if (found < b.want.size) return;
    b.dom = t;
    b.tiles = tiles.length;
    b.groups = document.querySelectorAll('section.server').length;
    b.groupsOk = document.querySelectorAll('section.server[data-status=ok]').length;
    b.thumbs = document.querySelectorAll('article.tile img.thumb').length;
    // The frame after: its rAF callback runs before it is painted, a task queued there
    // after.
    requestAnimationFrame(() => setTimeout(() => (b.painted = stamp()), 0));
    obs.disconnect();
  };
  const obs = new MutationObserver(check);
  obs.observe(document, { childList: true, subtree: true, attributes: true, attributeFilter: ['data-server', 'data-session'] });
}

let browser;
let cookies = null;
const base = new URL(opt.url);
const plainUrl = `${base.origin}/`;

async function openPage(first) {
  const ctx = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
  if (cookies) await ctx.addCookies(cookies);
  await ctx.addInitScript(loadProbe, wanted);
  const page = await ctx.newPage();
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Performance.enable');
  let firstImage = null;
  page.on('request', (r) => {
    if (firstImage === null && r.resourceType() === 'image') firstImage = now();
  });
  const d0 = cpuOf([DASHBOARD_PID]);
  const a0 = cpuOf(AGENT_PIDS);
  const b0 = browserCpu();
  const t0 = now();
  const resp = await page.goto(first ? opt.url : plainUrl, { waitUntil: 'commit', timeout: LOAD_TIMEOUT });
  if (!resp || resp.status() !== 200) fail(`opening the page answered ${resp && resp.status()}`);
  try {
    await page.waitForFunction(() => window.__bench && window.__bench.painted !== null, null, { timeout: LOAD_TIMEOUT, polling: 50 });
  } catch {
    const seen = await page.evaluate(() => document.querySelectorAll('article.tile').length).catch(() => '?');
    fail(`the page did not show all ${wanted.length} tiles within ${LOAD_TIMEOUT / 1000} s (${seen} tiles)`);
  }
  const rec = {
    dashboard_cpu: cpuOf([DASHBOARD_PID]) - d0,
    agents_cpu: cpuOf(AGENT_PIDS) - a0,
    browser_cpu: browserCpu() - b0,
  };
  const b = await page.evaluate(() => {
    const b = window.__bench;
    const nav = performance.getEntriesByType('navigation')[0];
    const res = performance.getEntriesByType('resource').map((e) => ({
      name: e.name.replace(location.origin, ''), type: e.initiatorType, start: e.startTime, end: e.responseEnd, bytes: e.transferSize,
    }));
    return {
      dom: b.dom, painted: b.painted, firstTile: b.firstTile, tiles: b.tiles, groups: b.groups, groupsOk: b.groupsOk, thumbs: b.thumbs,
      origin: performance.timeOrigin,
      nav: nav && { response_end: nav.responseEnd, dom_content_loaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd, bytes: nav.transferSize },
      resources: res,
    };
  });
  const m = Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((x) => [x.name, x.value]));
  Object.assign(rec, {
    dom: b.dom - t0,
    painted: b.painted - t0,
    first_tile: b.firstTile - t0,
    first_image_request: firstImage === null ? null : firstImage - t0,
    in_page_dom: b.dom - b.origin, // from the page's own navigation start
    tiles: b.tiles,
    groups: b.groups,
    groups_ok: b.groupsOk,
    thumbs: b.thumbs,
    nav: b.nav,
    resources: b.resources,
    // Chromium's own account of the page's main thread, in ms
    script_ms: (m.ScriptDuration ?? 0) * 1000,
    layout_ms: (m.LayoutDuration ?? 0) * 1000,
    style_ms: (m.RecalcStyleDuration ?? 0) * 1000,
    task_ms: (m.TaskDuration ?? 0) * 1000,
    dom_nodes: m.Nodes,
    js_heap_mb: (m.JSHeapUsedSize ?? 0) / 1048576,
  });
  if (first) cookies = await ctx.cookies();
  return { ctx, page, rec, cdp };
}

// One more opening with the JavaScript profiler on: the profile, and where its samples
// fell (self time by function), the idle and the garbage collector's included.
async function profileOnce(file) {
  const ctx = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
  await ctx.addCookies(cookies);
  await ctx.addInitScript(loadProbe, wanted);
  const page = await ctx.newPage();
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
  await cdp.send('Profiler.start');
  const t0 = now();
  await page.goto(plainUrl, { waitUntil: 'commit', timeout: LOAD_TIMEOUT });
  await page.waitForFunction(() => window.__bench && window.__bench.painted !== null, null, { timeout: LOAD_TIMEOUT, polling: 50 });
  const painted = (await page.evaluate(() => window.__bench.painted)) - t0;
  const { profile } = await cdp.send('Profiler.stop');
  await ctx.close();
  writeFileSync(file, JSON.stringify(profile));
  const self = new Map();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const dt = profile.timeDeltas;
  for (let i = 0; i < profile.samples.length; i++) {
    const n = byId.get(profile.samples[i]);
    const f = n.callFrame;
    const url = f.url.replace(/^https?:\/\/[^/]+/, '');
    const k = `${f.functionName || '(anonymous)'}${url ? ` ${url}:${f.lineNumber + 1}` : ''}`;
    self.set(k, (self.get(k) ?? 0) + (dt[i + 1] ?? 0) / 1000);
  }
  const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([fn, ms]) => ({ fn, ms: Math.round(ms * 10) / 10 }));
  return { painted, top };
}

// One more opening under Chromium's tracing: the page's main thread, its long steps in
// order (the script's functions, style, layout, paint), from the trace.
const STEPS = new Set(['FunctionCall', 'EvaluateScript', 'v8.evaluateModule', 'ParseHTML', 'UpdateLayoutTree', 'Layout', 'PrePaint', 'Paint', 'EventDispatch']);
async function traceOnce(file) {
  const ctx = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
  await ctx.addCookies(cookies);
  await ctx.addInitScript(loadProbe, wanted);
  const page = await ctx.newPage();
  await browser.startTracing(page, { path: file, categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline'] });
  const t0 = now();
  await page.goto(plainUrl, { waitUntil: 'commit', timeout: LOAD_TIMEOUT });
  await page.waitForFunction(() => window.__bench && window.__bench.painted !== null, null, { timeout: LOAD_TIMEOUT, polling: 50 });
  const painted = (await page.evaluate(() => window.__bench.painted)) - t0;
  await sleep(300);
  const trace = JSON.parse((await browser.stopTracing()).toString());
  await ctx.close();
  const events = Array.isArray(trace) ? trace : trace.traceEvents;
  const thread = (e) => `${e.pid}/${e.tid}`;
  const mains = new Set(events.filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.args.name === 'CrRendererMain').map(thread));
  const layout = new Map();
  for (const e of events) if (e.name === 'Layout' && e.dur && mains.has(thread(e))) layout.set(thread(e), (layout.get(thread(e)) ?? 0) + e.dur);
  const main = [...layout].sort((a, b) => b[1] - a[1])[0]?.[0];
  const on = events.filter((e) => thread(e) === main && e.ph === 'X' && e.dur);
  const start = Math.min(...on.map((e) => e.ts));
  const steps = on
    .filter((e) => STEPS.has(e.name) && e.dur >= 10_000)
    .sort((a, b) => a.ts - b.ts)
    .map((e) => {
      const a = e.args || {};
      let what = e.name;
      if (e.name === 'FunctionCall') what += ` ${a.data?.functionName || '(anonymous)'}`;
      if (e.name === 'Layout') what += ` (${a.beginData?.dirtyObjects} of ${a.beginData?.totalObjects} objects)`;
      if (e.name === 'UpdateLayoutTree') what += ` (${a.elementCount} elements)`;
      if (e.name === 'EventDispatch') what += ` ${a.data?.type}`;
      return { at: Math.round((e.ts - start) / 100) / 10, ms: Math.round(e.dur / 100) / 10, what };
    });
  // Nested steps (a layout forced inside a function) are listed under it, not added up.
  const total = {};
  for (const e of on) if (STEPS.has(e.name)) total[e.name] = Math.round(((total[e.name] ?? 0) + e.dur / 1000) * 10) / 10;
  return { painted, steps, total };
}

// ---- events --------------------------------------------------------------------------
// The watch: every event line, by "Type/SessionId", with the time each server's arrived.
const watchSeen = new Map();
let watch;
function startWatch() {
  watch = start(opt.wms, ['session', 'watch', '--hosts-file', opt['hosts-file'], '-o', 'json']);
  let err = '';
  watch.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
  watch.on('exit', (code) => {
    if (!finishing) say(`wms session watch exited (${code}): ${err}`);
  });
  createInterface({ input: watch.stdout }).on('line', (l) => {
    const t = now();
    let e;
    try {
      e = JSON.parse(l);
    } catch {
      return;
    }
    const k = `${e.Type}/${e.Session && e.Session.SessionId}`;
    if (!watchSeen.has(k)) watchSeen.set(k, new Map());
    const m = watchSeen.get(k);
    if (!m.has(e.ComputerName)) m.set(e.ComputerName, t);
  });
}
async function watchTimes(type, id, timeout) {
  const k = `${type}/${id}`;
  const end = now() + timeout;
  while ((watchSeen.get(k)?.size ?? 0) < HOSTS) {
    if (now() > end) fail(`wms session watch saw ${type} of session ${id} from ${watchSeen.get(k)?.size ?? 0} of ${HOSTS} servers in ${timeout / 1000} s`);
    await sleep(5);
  }
  return [...watchSeen.get(k).values()];
}

// In the page: new tiles (a session not there when it was installed), by "server/session",
// with when each first showed; and when the last tile of a session went.
function eventProbe() {
  const stamp = () => performance.timeOrigin + performance.now();
  const ev = (window.__ev = { base: new Set(), seen: new Map(), goneId: null, goneT: null });
  for (const t of document.querySelectorAll('article.tile')) ev.base.add(t.dataset.session);
  const scan = () => {
    const t = stamp();
    for (const a of document.querySelectorAll('article.tile')) {
      const s = a.dataset.session;
      if (ev.base.has(s)) continue;
      const k = `${a.dataset.server}/${s}`;
      if (!ev.seen.has(k)) ev.seen.set(k, t);
    }
    if (ev.goneId !== null && ev.goneT === null && !document.querySelector(`article.tile[data-session="${ev.goneId}"]`)) ev.goneT = t;
  };
  new MutationObserver(scan).observe(document, { childList: true, subtree: true, attributes: true, attributeFilter: ['data-server', 'data-session'] });
}

async function eventOnce(page) {
  // A new session.
  await page.evaluate(() => {
    const ev = window.__ev;
    ev.base = new Set([...document.querySelectorAll('article.tile')].map((t) => t.dataset.session));
    ev.seen = new Map();
    ev.goneId = null;
    ev.goneT = null;
  });
  const d0 = cpuOf([DASHBOARD_PID]);
  const a0 = cpuOf(AGENT_PIDS);
  const t0 = now();
  const gen = start(opt.gen, ['--sessions', '1', '--procs', opt.procs, '--hold'], ['pipe', 'pipe', 'pipe']);
  let genErr = '';
  gen.stderr.on('data', (d) => (genErr += d));
  const line = await new Promise((resolve, reject) => {
    const rl = createInterface({ input: gen.stdout });
    rl.once('line', resolve);
    gen.once('exit', (c) => reject(new Error(`wms-gen exited ${c}: ${genErr}`)));
  });
  const tGen = now();
  const id = JSON.parse(line).sessions[0].id;
  const rec = { id, gen_ready: tGen - t0 };
  try {
    await page.waitForFunction(
      ([id, n]) => {
        const ev = window.__ev;
        let k = 0;
        for (const key of ev.seen.keys()) if (key.endsWith(`/${id}`)) k++;
        return k >= n && document.querySelectorAll(`article.tile[data-session="${id}"]`).length >= n;
      },
      [id, HOSTS],
      { timeout: EVENT_TIMEOUT, polling: 20 },
    );
  } catch {
    const n = await page.evaluate((id) => document.querySelectorAll(`article.tile[data-session="${id}"]`).length, id).catch(() => '?');
    fail(`session ${id}'s tile was on ${n} of ${HOSTS} groups after ${EVENT_TIMEOUT / 1000} s`);
  }
  const shown = await page.evaluate((id) => [...window.__ev.seen].filter(([k]) => k.endsWith(`/${id}`)).map(([, t]) => t), id);
  const watched = await watchTimes('SessionNew', id, EVENT_TIMEOUT);
  rec.new_dashboard_all = Math.max(...shown) - t0;
  rec.new_dashboard_first = Math.min(...shown) - t0;
  rec.new_watch_all = Math.max(...watched) - t0;
  rec.new_watch_first = Math.min(...watched) - t0;
  rec.new_dashboard_cpu = cpuOf([DASHBOARD_PID]) - d0;
  rec.new_agents_cpu = cpuOf(AGENT_PIDS) - a0;
  await sleep(300);

  // Its end: wms-gen kills what it made at the end of its standard input.
  await page.evaluate((id) => (window.__ev.goneId = id), id);
  const t1 = now();
  gen.stdin.end();
  try {
    await page.waitForFunction(() => window.__ev.goneT !== null, null, { timeout: EVENT_TIMEOUT, polling: 20 });
  } catch {
    fail(`session ${id}'s tiles were still there ${EVENT_TIMEOUT / 1000} s after it ended`);
  }
  const gone = await page.evaluate(() => window.__ev.goneT);
  const watchedGone = await watchTimes('SessionRemoved', id, EVENT_TIMEOUT);
  await exited(gen);
  rec.removed_dashboard_all = gone - t1;
  rec.removed_watch_all = Math.max(...watchedGone) - t1;
  rec.removed_watch_first = Math.min(...watchedGone) - t1;
  rec.gen_exit = now() - t1;
  return rec;
}

// ---- the runs --------------------------------------------------------------------------
let finishing = false;
const result = { hosts: HOSTS, generated_sessions: IDS, runs: RUNS, first_open: null, load: [], list: [], events: [] };
async function main() {
  browser = await launch();
  result.chromium = browser.version();
  say('warm-up: the list, and the first opening of the page (with its one-time secret)');
  await listOnce();
  {
    const { ctx, rec } = await openPage(true);
    result.first_open = rec;
    await ctx.close();
  }
  if (!cookies || !cookies.length) fail('the page set no cookie on its first opening');
  for (let run = 1; run <= RUNS; run++) {
    say(`load run ${run} of ${RUNS}`);
    const order = run % 2 ? ['page', 'list'] : ['list', 'page'];
    for (const side of order) {
      await sleep(500);
      if (side === 'list') {
        result.list.push(await listOnce());
      } else {
        const { ctx, rec } = await openPage(false);
        await ctx.close();
        result.load.push(rec);
      }
    }
  }

  say('events: one page open, and wms session watch on the same agents');
  startWatch();
  const { ctx, page } = await openPage(false);
  await page.evaluate(eventProbe);
  say('warm-up event');
  result.warmup_event = await eventOnce(page);
  for (let run = 1; run <= RUNS; run++) {
    say(`event run ${run} of ${RUNS}`);
    await sleep(500);
    result.events.push(await eventOnce(page));
  }
  await page.screenshot({ path: opt.out.replace(/\.json$/, '.png') }).catch(() => {});
  await ctx.close();
  if (opt.profile) {
    say(`profiling one more opening of the page (${opt.profile})`);
    result.profile = await profileOnce(opt.profile);
    for (const { fn, ms } of result.profile.top) say(`  ${ms.toFixed(1).padStart(8)} ms  ${fn}`);
    const traceFile = opt.profile.replace(/\.cpuprofile$/, '') + '.trace.json';
    say(`tracing one more opening of the page (${traceFile}): the main thread's long steps`);
    result.trace = await traceOnce(traceFile);
    for (const { at, ms, what } of result.trace.steps) say(`  at ${at.toFixed(0).padStart(6)} ms  ${ms.toFixed(1).padStart(7)} ms  ${what}`);
    say(`  in all (nested included): ${Object.entries(result.trace.total).map(([k, v]) => `${k} ${v} ms`).join(', ')}`);
  }
}

let ending = null;
async function endAll() {
  finishing = true;
  if (browser) await browser.close().catch(() => {});
  for (const c of [...started]) await endChild(c);
}
for (const [sig, code] of [['SIGTERM', 143], ['SIGINT', 130], ['SIGHUP', 129]]) {
  process.on(sig, () => {
    ending ??= endAll().finally(() => process.exit(code));
  });
}

try {
  await main();
} catch (e) {
  if (!process.exitCode) say(e.stack || String(e));
  process.exitCode = 1;
} finally {
  await endAll();
}
if (!process.exitCode) writeFileSync(opt.out, JSON.stringify(result, null, 1));
