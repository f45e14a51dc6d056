// One headless chromium page driven by JSON lines: the dashboard's tests (crates/testkit's
// browser.rs) write one command a line on standard input, and read one answer a line on
// standard output, `{"id":N,"ok":VALUE}` or `{"id":N,"error":"..."}`, in order.
//
// The first line written is `{"ready":{"node":PID,"chromium":[PIDS]}}` once the page is open,
// so the caller knows every process to account for at the end. End of input, a `close`
// command, SIGTERM, SIGINT and SIGHUP all close chromium before node exits.
//
// Commands ({"id":N,"cmd":NAME,...}):
//   goto {url}                      -> the HTTP status of the main document (null if none)
//   eval {js}                       -> the JSON value of an expression or function body
//   waitFor {js, timeoutMs}         -> the first truthy value of the predicate (polled)
//   click {selector} / fill {selector,text} / check {selector} / press {key}
//   screenshot {path}               -> the path (a PNG of the viewport)
//   zoom {factor}                   -> the page as the browser's zoom shows it
//   fetch {url, method, headers, body} -> {status, headers, body}, sent by node, not the page
//   cookies                         -> the page's cookies, HttpOnly ones included
//   requests                        -> every URL the page has asked for, in order
//   close                           -> null, then node exits
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createInterface } from 'node:readline';
import { launch } from './launch.mjs';

const WIDTH = 1280;
const HEIGHT = 900;
// A selector that matches nothing fails after this long rather than Playwright's 30 s.
const ACTION_TIMEOUT_MS = 5000;
// How often waitFor asks its predicate again.
const POLL_MS = 10;

const browser = await launch();
const context = await browser.newContext({ viewport: { width: WIDTH, height: HEIGHT } });
context.setDefaultTimeout(ACTION_TIMEOUT_MS);
const page = await context.newPage();
// What the page logs and throws is the first thing to read when a test fails.
page.on('console', (m) => process.stderr.write(`page console.${m.type()}: ${m.text()}\n`));
page.on('pageerror', (e) => process.stderr.write(`page error: ${e.message}\n`));
const cdp = await context.newCDPSession(page);
// Every URL the page asked for, in order (to tell that nothing is loaded from elsewhere).
const requested = [];
page.on('request', (r) => requested.push(r.url()));

let closing = null;
async function shutdown(code) {
  if (!closing) {
    closing = (async () => {
      try {
        await browser.close();
      } catch (e) {
        process.stderr.write(`closing chromium: ${e.message}\n`);
      }
      process.exit(code);
    })();
  }
  return closing;
}
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.on(sig, () => shutdown(0));
}

// The PIDs of node's children and their descendants (chromium and its helpers).
function descendants(root) {
  const parent = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(name), Number(fields[1]));
    } catch {
      // The process ended while we looked.
    }
  }
  const found = [];
  let frontier = [root];
  while (frontier.length) {
    const next = [];
    for (const [pid, ppid] of parent) {
      if (frontier.includes(ppid)) {
        found.push(pid);
        next.push(pid);
      }
    }
    frontier = next;
  }
  return found.sort((a, b) => a - b);
}

// A function body if it has a `return`, else an expression.
function evaluable(js) {
  return /\breturn\b/.test(js) ? `(() => { ${js} })()` : `(${js})`;
}

function nodeFetch(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const sent = { ...headers };
    if (body !== undefined && body !== null && !Object.keys(sent).some((k) => k.toLowerCase() === 'content-length')) {
      // A length rather than chunks, as a browser sends a body.
      sent['Content-Length'] = Buffer.byteLength(body);
    }
    const req = http.request(url, { method, headers: sent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', reject);
    });
    req.setTimeout(ACTION_TIMEOUT_MS, () => req.destroy(new Error(`no answer from ${url} in ${ACTION_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    if (body !== undefined && body !== null) req.write(body);
    req.end();
  });
}

async function zoom(factor) {
  if (!(factor > 0)) throw new Error(`zoom factor must be a positive number, not ${JSON.stringify(factor)}`);
  // The browser's own zoom: the layout viewport shrinks to WIDTH/factor CSS pixels (so the
  // page's media queries and wrapping see a narrower window) and each CSS pixel is drawn
  // as factor device pixels, as Ctrl+Plus does.
  await cdp.send('Emulation.setDeviceMetricsOverride', {
    width: Math.round(WIDTH / factor),
    height: Math.round(HEIGHT / factor),
    deviceScaleFactor: factor,
    mobile: false,
  });
  return page.evaluate(() => ({
    innerWidth: window.innerWidth,
    innerHeight: window.innerHeight,
    devicePixelRatio: window.devicePixelRatio,
  }));
}

async function run(c) {
  switch (c.cmd) {
    case 'goto': {
      const res = await page.goto(c.url, { waitUntil: 'load', timeout: ACTION_TIMEOUT_MS * 2 });
      return res ? res.status() : null;
    }
    case 'eval': {
      const v = await page.evaluate(evaluable(c.js));
      return v === undefined ? null : v;
    }
    case 'waitFor': {
      // Polled from here rather than with page.waitForFunction, which compiles the
      // predicate inside the page: a page whose Content-Security-Policy forbids eval (the
      // dashboard's does) would refuse it.
      const timeout = c.timeoutMs ?? ACTION_TIMEOUT_MS;
      const deadline = Date.now() + timeout;
      const js = evaluable(c.js);
      for (;;) {
        const v = await page.evaluate(js);
        if (v) return v;
        if (Date.now() >= deadline) throw new Error(`timed out after ${timeout} ms waiting for: ${c.js}`);
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    }
    case 'click':
      await page.click(c.selector);
      return null;
    case 'fill':
      await page.fill(c.selector, c.text);
      return null;
    case 'check':
      await page.check(c.selector);
      return null;
    case 'press':
      await page.keyboard.press(c.key);
      return null;
    case 'screenshot': {
      // Straight from chromium: Playwright's own screenshot puts back its viewport, which
      // would undo a zoom.
      const { data } = await cdp.send('Page.captureScreenshot', { format: 'png' });
      writeFileSync(c.path, Buffer.from(data, 'base64'));
      return c.path;
    }
    case 'zoom':
      return zoom(c.factor);
    case 'fetch':
      return nodeFetch(c.url, c);
    case 'cookies':
      return context.cookies();
    case 'requests':
      return requested;
    case 'close':
      return null;
    default:
      throw new Error(`unknown command ${JSON.stringify(c.cmd)}`);
  }
}

function answer(v) {
  process.stdout.write(JSON.stringify(v) + '\n');
}

answer({ ready: { node: process.pid, chromium: descendants(process.pid) } });

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  let c;
  try {
    c = JSON.parse(line);
  } catch (e) {
    answer({ id: null, error: `not a JSON command: ${e.message}` });
    continue;
  }
  try {
    const ok = await run(c);
    answer({ id: c.id, ok });
  } catch (e) {
    answer({ id: c.id, error: String(e?.message ?? e) });
  }
  if (c.cmd === 'close') break;
}
await shutdown(0);
