// Drives the official Control UI (the npm package's dist/control-ui) in
// headless Chromium against a gateway, as a user would: it opens the UI with
// `#gatewayUrl=...&token=...`, confirms the gateway switch the UI asks for,
// waits until it is connected, opens the chat, checks the session list shows
// the main session, types a message, sends it, and waits for the agent's
// reply in the transcript. A screenshot is saved at the end (also on failure).
//
//   node interop-controlui.mjs --gateway ws://127.0.0.1:PORT --token TOKEN \
//        --ui PKG/dist/control-ui --shot FILE.png --message TEXT \
//        [--expect TEXT] [--timeout SECONDS] [--frames FILE]
//
// --expect: text the reply must contain (default: the message; the echo agent
// of this node repeats it); "" accepts any reply. --frames: append every
// WebSocket frame the page sends or receives to FILE (`>> ` sent, `<< `
// received, as scripts/interop-record.mjs writes them). Exits 0 when the reply
// is shown, 1 with the step that failed otherwise. The UI is served from a
// loopback HTTP server of this script (a loopback page: both gateways accept
// its Origin). Chromium (`chromium`, or $CHROMIUM) talks DevTools protocol
// over the WebSocket it announces; every wait is bounded, and Chromium's
// process group and profile directory are removed on exit.
import { spawn } from "node:child_process";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
for (const need of ["gateway", "token", "ui", "shot", "message"]) {
  if (args[need] === undefined) {
    console.error(`interop-controlui: --${need} is required (see the header of ${process.argv[1]})`);
    process.exit(2);
  }
}
const expect = args.expect ?? args.message;
const deadline = Date.now() + 1000 * Number(args.timeout ?? 120);
const step = (what) => console.log(`interop-controlui: ${what}`);

// --- the UI's files, from a loopback server (unknown paths get index.html: the UI routes in the page) ---
const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".json": "application/json",
  ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon", ".woff2": "font/woff2", ".webmanifest": "application/manifest+json" };
const http = createServer((req, res) => {
  const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname)).replace(/^(\.\.[/\\])+/, "");
  let file = join(args.ui, path);
  try {
    if (!statSync(file).isFile()) file = join(args.ui, "index.html");
  } catch {
    file = join(args.ui, "index.html");
  }
  res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream" });
  res.end(readFileSync(file));
});
await new Promise((r) => http.listen(0, "127.0.0.1", r));
const uiUrl = `http://127.0.0.1:${http.address().port}/`;

// --- Chromium, in a process group of its own, with a throwaway profile ---
const profile = mkdtempSync(join(tmpdir(), "interop-controlui-"));
const chrome = spawn(process.env.CHROMIUM ?? "chromium",
  ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
    "--remote-debugging-port=0", `--user-data-dir=${profile}`, "--window-size=1280,900", "about:blank"],
  { stdio: ["ignore", "ignore", "pipe"], detached: true });
let cdp;
function finish(code) {
  try { cdp?.close(); } catch {}
  try { process.kill(-chrome.pid, "SIGKILL"); } catch {}
  http.close();
  // Chromium may still be writing its profile for a moment after the kill.
  setTimeout(() => { rmSync(profile, { recursive: true, force: true }); process.exit(code); }, 300);
}
process.on("SIGTERM", () => finish(143));
process.on("SIGINT", () => finish(130));

async function bounded(what, ms, promise) {
  let timer;
  const limit = Math.min(ms, deadline - Date.now());
  try {
    return await Promise.race([promise, new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`${what}: no answer in ${Math.round(limit / 1000)} s`)), Math.max(limit, 0)); })]);
  } finally { clearTimeout(timer); }
}

const browserWs = await bounded("chromium start", 30000, new Promise((resolve, reject) => {
  let err = "";
  chrome.stderr.on("data", (d) => { err += d; const m = err.match(/DevTools listening on (ws:\/\/\S+)/); if (m) resolve(m[1]); });
  chrome.on("exit", (c) => reject(new Error(`chromium exited (${c}): ${err.slice(-500)}`)));
})).catch((e) => { console.error(`interop-controlui: ${e.message}`); finish(1); });
if (!browserWs) await new Promise(() => {});

// --- DevTools protocol: one page target, flattened session ---
cdp = new WebSocket(browserWs);
await bounded("devtools connect", 10000, new Promise((r, j) => { cdp.onopen = r; cdp.onerror = () => j(new Error("devtools connection failed")); }));
let nextId = 0;
const pending = new Map();
const frames = [];
cdp.onmessage = (m) => {
  const f = JSON.parse(m.data);
  if (f.id && pending.has(f.id)) {
    const { resolve, reject } = pending.get(f.id);
    pending.delete(f.id);
    f.error ? reject(new Error(`${f.error.message}`)) : resolve(f.result);
  } else if (f.method === "Network.webSocketFrameSent") {
    const data = f.params.response.payloadData;
    frames.push(`>> ${data}`);
    try { const r = JSON.parse(data); if (r.type === "req") requests.set(r.id, r.method); } catch {}
  }
  else if (f.method === "Network.webSocketFrameReceived") frames.push(`<< ${f.params.response.payloadData}`);
  else if (f.method === "Network.webSocketCreated") frames.push(`## connection ${f.params.url}`);
  else if (f.method === "Network.webSocketClosed") frames.push(`## closed`);
};
const send = (method, params = {}, sessionId) => bounded(method, 15000, new Promise((resolve, reject) => {
  const id = ++nextId;
  pending.set(id, { resolve, reject });
  cdp.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
}));
const { targetId } = await send("Target.createTarget", { url: "about:blank" });
const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true });
const page = (method, params) => send(method, params, sessionId);
await page("Network.enable");
await page("Page.enable");

// Evaluates an expression in the page, with `deep(selector)`: every match,
// through open shadow roots (the UI is made of Lit elements).
const helpers = `
  const deep = (sel, root = document) => { const out = [...root.querySelectorAll(sel)];
    for (const el of root.querySelectorAll("*")) if (el.shadowRoot) out.push(...deep(sel, el.shadowRoot)); return out; };
  const visible = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const text = (el) => (el.innerText ?? el.textContent ?? "").trim();
  const allText = () => { const parts = []; const walk = (root) => { for (const el of root.querySelectorAll("*")) {
      if (el.shadowRoot) walk(el.shadowRoot); } parts.push(root === document ? document.body.innerText : [...root.children].map(text).join("\\n")); };
    walk(document); return parts.join("\\n"); };`;
const evaluate = async (expr) => {
  const r = await page("Runtime.evaluate", { expression: `(() => { ${helpers} return (${expr}); })()`, returnByValue: true, awaitPromise: true });
  if (r.exceptionDetails) throw new Error(`page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
  return r.result.value;
};
// Waits until `expr` is truthy in the page (polled), returns its value.
async function until(what, expr, ms = 30000) {
  const end = Math.min(Date.now() + ms, deadline);
  let last;
  while (Date.now() < end) {
    last = await evaluate(expr).catch((e) => e.message);
    if (last && last !== false) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what}: not seen in ${Math.round(ms / 1000)} s`);
}
async function screenshot() {
  const s = await page("Page.captureScreenshot", { format: "png" });
  writeFileSync(args.shot, Buffer.from(s.data, "base64"));
}

// Waits for a frame (by predicate), bounded; frames seen before count.
async function waitFrame(what, pred, ms) {
  const end = Math.min(Date.now() + ms, deadline);
  while (Date.now() < end) {
    const hit = frames.find(pred);
    if (hit) return hit;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not seen in ${Math.round(ms / 1000)} s`);
}
// Whether a received frame is the ok answer to the page's request for `method`.
const requests = new Map();
function answers(frame, method) {
  try {
    const f = JSON.parse(frame.slice(3));
    return f.type === "res" && f.ok && requests.get(f.id) === method;
  } catch { return false; }
}

let failed = null;
try {
  const hash = new URLSearchParams({ gatewayUrl: args.gateway, token: args.token }).toString();
  step(`opening ${uiUrl}#gatewayUrl=${args.gateway}`);
  await page("Page.navigate", { url: `${uiUrl}#${hash}` });
  // The link names another gateway than the page's own host: the UI asks first.
  const switchLabel = await until("the gateway switch prompt",
    `(() => { const b = deep("button").find((b) => visible(b) && /^Switch to /.test(text(b))); return b ? text(b) : false; })()`);
  step(`confirming "${switchLabel}"`);
  await evaluate(`deep("button").find((b) => visible(b) && /^Switch to /.test(text(b))).click()`);
  await waitFrame("the handshake (hello-ok)", (f) => f.startsWith("<< ") && f.includes('"type":"hello-ok"'), 30000);
  step("connected (hello-ok)");
  // A gateway without a model sends the UI to its model setup first: back to the app.
  const composer = `deep("textarea").find((t) => visible(t) && t.getAttribute("aria-label") === "Chat composer")`;
  await until("the chat composer", `(() => { if (${composer}) return true;
    const back = deep("a,button").find((b) => visible(b) && /^Back to app/.test(text(b))); if (back) back.click(); return false; })()`);
  step(`chat view: ${await evaluate("location.pathname")}`);
  const listed = await waitFrame("the session list (sessions.list answered)", (f) => f.startsWith("<< ") && answers(f, "sessions.list"), 30000);
  step(`sessions.list answered: ${JSON.parse(listed.slice(3)).payload?.sessions?.length ?? 0} sessions`);
  // Type the message as a user would, and send it with Enter.
  await evaluate(`(${composer}).focus()`);
  await page("Input.insertText", { text: args.message });
  await page("Input.dispatchKeyEvent", { type: "keyDown", key: "Enter", code: "Enter", windowsVirtualKeyCode: 13, text: "\r" });
  await page("Input.dispatchKeyEvent", { type: "keyUp", key: "Enter", code: "Enter", windowsVirtualKeyCode: 13 });
  const sendFrame = await waitFrame("the message sent", (f) => f.startsWith(">> ") && f.includes(JSON.stringify(args.message)), 15000);
  const sendReq = JSON.parse(sendFrame.slice(3));
  step(`sent with ${sendReq.method}`);
  const ack = await waitFrame(`${sendReq.method} answered`, (f) => f.startsWith("<< ") && answers(f, sendReq.method), 30000);
  const runId = JSON.parse(ack.slice(3)).payload?.runId;
  step(`run ${runId} started`);
  // The run ends with a chat event (final, or error/aborted where no agent can answer).
  const end = await waitFrame("the end of the run (chat final/error)", (f) => {
    if (!f.startsWith("<< ")) return false;
    try { const e = JSON.parse(f.slice(3)); return e.type === "event" && e.event === "chat" && e.payload?.runId === runId && ["final", "error", "aborted"].includes(e.payload?.state); } catch { return false; }
  }, 60000);
  const state = JSON.parse(end.slice(3)).payload.state;
  step(`run ended: ${state}`);
  if (expect !== "") {
    if (state !== "final") throw new Error(`the run ended with ${state}, not a reply`);
    // The reply, as the transcript shows it: a message group that is not the user's.
    const shown = await until(`the reply containing ${JSON.stringify(expect)} in the transcript`,
      `deep(".chat-group").filter((g) => !g.classList.contains("user") && visible(g)).map(text).find((t) => t.includes(${JSON.stringify(expect)})) ?? false`, 15000);
    step(`reply shown: ${JSON.stringify(shown.replace(/\s+/g, " ").slice(0, 120))}`);
  }
  step("ok");
} catch (e) {
  failed = e.message;
}
await screenshot().catch(() => {});
if (args.frames) appendFileSync(args.frames, frames.join("\n") + "\n");
if (failed) {
  console.error(`interop-controlui: FAILED: ${failed}`);
  const seen = await evaluate("allText()").catch(() => "");
  console.error(`interop-controlui: the page shows:\n${String(seen).slice(0, 1500)}`);
}
finish(failed ? 1 : 0);
