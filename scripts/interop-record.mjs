// Records the frames an official OpenClaw client exchanges with a gateway:
// a WebSocket relay on loopback that forwards every frame both ways and
// appends them to a file (`>> ` client to gateway, `<< ` gateway to client,
// `## ` opens and closes), in the format of tests/fixtures/openclaw-frames.*.
//
//   node interop-record.mjs --listen PORT --target ws://127.0.0.1:GW \
//        --out FILE --ws PATH/TO/node_modules/ws
//
// Runs until killed. scripts/interop-diff.sh points the official CLI at it
// (OPENCLAW_GATEWAY_URL) to record `openclaw status` and `openclaw gateway
// call`, and replays the recorded `>>` frames against both gateways.
import { appendFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
for (const need of ["listen", "target", "out", "ws"]) {
  if (!args[need]) {
    console.error(`interop-record: --${need} is required (see the header of ${process.argv[1]})`);
    process.exit(2);
  }
}
const WebSocket = createRequire(join(args.ws, "package.json"))(args.ws);
writeFileSync(args.out, "");
const log = (line) => appendFileSync(args.out, line + "\n");

let conns = 0;
const server = new WebSocket.WebSocketServer({ host: "127.0.0.1", port: Number(args.listen), maxPayload: 64 * 1024 * 1024 });
server.on("connection", (client, req) => {
  const n = ++conns;
  log(`## connection ${n} opened`);
  const headers = req.headers.origin ? { Origin: req.headers.origin } : {};
  const upstream = new WebSocket(args.target, { headers, maxPayload: 64 * 1024 * 1024 });
  const pending = [];
  upstream.on("open", () => pending.splice(0).forEach((m) => upstream.send(m)));
  client.on("message", (data) => {
    const text = data.toString();
    log(`>> ${text}`);
    upstream.readyState === WebSocket.OPEN ? upstream.send(text) : pending.push(text);
  });
  upstream.on("message", (data) => {
    const text = data.toString();
    log(`<< ${text}`);
    client.send(text);
  });
  const closeCode = (code) => (code >= 1000 && code <= 4999 && code !== 1005 && code !== 1006 ? code : 1000);
  client.on("close", (code) => {
    log(`## connection ${n}: client closed ${code}`);
    upstream.close(closeCode(code));
  });
  upstream.on("close", (code) => {
    log(`## connection ${n}: gateway closed ${code}`);
    client.close(closeCode(code));
  });
  client.on("error", () => {});
  upstream.on("error", (e) => log(`## connection ${n}: gateway error ${e.message}`));
});
server.on("listening", () => console.log(`interop-record: ws://127.0.0.1:${args.listen} -> ${args.target}, frames to ${args.out}`));
