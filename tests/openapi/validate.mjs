// validate.mjs - checks an OpenAPI 3.1 document (default: docs/openapi.json):
//   1. against the OpenAPI 3.1 schema (@seriousme/openapi-schema-validator),
//      $refs included;
//   2. every schema in it compiled by a strict JSON Schema 2020-12 validator
//      (Ajv2020: no unknown keywords, no unresolvable $ref, known formats);
//   3. every example (media type `example`, schema `example` / `examples`)
//      valid against its schema;
//   4. unique operationIds, declared path parameters, no operation marked
//      `x-i2v-pending` (everything the document describes is served), and
//      an event stream's `x-i2v-event-data` (its events' data) a schema
//      named with its `x-i2v-event`.
// Usage: node validate.mjs [FILE]. Exit 0 when it is valid; else 1 with
// every error on stderr.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { Validator } from "@seriousme/openapi-schema-validator";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const here = dirname(fileURLToPath(import.meta.url));
const file = process.argv[2] ?? resolve(here, "../../docs/openapi.json");
const errors = [];
const fail = (where, msg) => errors.push(`${where}: ${msg}`);

let doc;
try {
  doc = JSON.parse(readFileSync(file, "utf8"));
} catch (e) {
  console.error(`${file}: ${e.message}`);
  process.exit(1);
}

// 1. the OpenAPI schema
const validator = new Validator({ strict: false });
const res = await validator.validate(structuredClone(doc));
if (!res.valid) {
  const list = Array.isArray(res.errors) ? res.errors : [res.errors];
  for (const e of list)
    fail(
      "openapi-schema",
      typeof e === "string" ? e : `${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`,
    );
}
if (doc.openapi !== "3.1.0") fail("/openapi", `is ${JSON.stringify(doc.openapi)}, not "3.1.0"`);

// 2. every schema, compiled by Ajv 2020-12 in strict mode. Component schemas
// get ids, and "#/components/schemas/X" refs are pointed at them.
const BASE = "https://i2v.invalid/schemas/";
const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
addFormats(ajv);
// OpenAPI's own keywords in its base dialect
for (const k of ["example", "discriminator", "xml", "externalDocs"]) ajv.addKeyword(k);

function rewrite(node) {
  if (Array.isArray(node)) return node.map(rewrite);
  if (node === null || typeof node !== "object") return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === "$ref" && typeof v === "string") {
      const m = /^#\/components\/schemas\/([^/]+)$/.exec(v);
      if (!m) fail("$ref", `${v}: only #/components/schemas/NAME refs are used in schemas`);
      out[k] = m ? BASE + m[1] : v;
    } else {
      out[k] = rewrite(v);
    }
  }
  return out;
}

const schemas = doc.components?.schemas ?? {};
for (const [name, s] of Object.entries(schemas)) {
  try {
    ajv.addSchema({ ...rewrite(s), $id: BASE + name });
  } catch (e) {
    fail(`/components/schemas/${name}`, e.message);
  }
}
const compiled = new Map();
function compile(where, schema) {
  try {
    const key = JSON.stringify(schema);
    if (!compiled.has(key)) compiled.set(key, ajv.compile(rewrite(schema)));
    return compiled.get(key);
  } catch (e) {
    fail(where, e.message);
    return null;
  }
}
for (const name of Object.keys(schemas)) compile(`/components/schemas/${name}`, { $ref: `#/components/schemas/${name}` });

// every other place a schema lives: parameters, headers, media types
function resolveRef(obj) {
  let o = obj;
  for (let i = 0; o && typeof o.$ref === "string" && i < 10; i++) {
    const parts = o.$ref.replace(/^#\//, "").split("/");
    o = parts.reduce((a, p) => (a ? a[p.replace(/~1/g, "/").replace(/~0/g, "~")] : undefined), doc);
    if (!o) fail("$ref", `${obj.$ref} does not resolve`);
  }
  return o;
}
function checkExample(where, schema, value) {
  const v = compile(where, schema);
  if (v && !v(value)) fail(`${where} example`, ajv.errorsText(v.errors));
}
function walkSchemaHolder(where, holder) {
  holder = resolveRef(holder);
  if (!holder) return;
  if (holder.schema) {
    compile(`${where}/schema`, holder.schema);
    if ("example" in holder) checkExample(where, holder.schema, holder.example);
    for (const [n, ex] of Object.entries(holder.examples ?? {}))
      if ("value" in (resolveRef(ex) ?? {})) checkExample(`${where}/examples/${n}`, holder.schema, resolveRef(ex).value);
  }
  for (const [mt, media] of Object.entries(holder.content ?? {})) walkSchemaHolder(`${where}/content/${mt}`, media);
  for (const [h, hdr] of Object.entries(holder.headers ?? {})) walkSchemaHolder(`${where}/headers/${h}`, hdr);
}
// schema-level examples, anywhere in a schema
function walkSchemaExamples(where, s) {
  if (Array.isArray(s)) return s.forEach((x, i) => walkSchemaExamples(`${where}/${i}`, x));
  if (s === null || typeof s !== "object") return;
  if ("example" in s) checkExample(where, s, s.example);
  if (Array.isArray(s.examples)) s.examples.forEach((ex, i) => checkExample(`${where}/examples/${i}`, s, ex));
  for (const [k, v] of Object.entries(s))
    if (k !== "example" && k !== "examples" && k !== "const" && k !== "enum" && k !== "default")
      walkSchemaExamples(`${where}/${k}`, v);
}
for (const [name, s] of Object.entries(schemas)) walkSchemaExamples(`/components/schemas/${name}`, s);

// 4. operations
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const opIds = new Map();
function walkOperations(prefix, items) {
  for (const [path, item] of Object.entries(items ?? {})) {
    const declared = new Set();
    for (const p of item.parameters ?? []) {
      const r = resolveRef(p);
      if (r?.in === "path") declared.add(r.name);
      walkSchemaHolder(`${prefix}${path}/parameters/${r?.name}`, p);
    }
    for (const m of METHODS) {
      const op = item[m];
      if (!op) continue;
      const where = `${prefix}${path}/${m}`;
      if (op.operationId) {
        if (opIds.has(op.operationId)) fail(where, `operationId ${op.operationId} is also ${opIds.get(op.operationId)}'s`);
        opIds.set(op.operationId, where);
      } else {
        fail(where, "has no operationId");
      }
      if ("x-i2v-pending" in op) fail(where, "x-i2v-pending: every operation of the document is served");
      const params = new Set(declared);
      for (const p of op.parameters ?? []) {
        const r = resolveRef(p);
        if (r?.in === "path") params.add(r.name);
        walkSchemaHolder(`${where}/parameters/${r?.name}`, p);
      }
      if (prefix === "") {
        const inPath = [...path.matchAll(/\{([^}]+)\}/g)].map((x) => x[1]);
        for (const n of inPath) if (!params.has(n)) fail(where, `path parameter {${n}} is not declared`);
        for (const n of params) if (!inPath.includes(n)) fail(where, `parameter ${n} is not in the path`);
      }
      if (op.requestBody) walkSchemaHolder(`${where}/requestBody`, op.requestBody);
      if (!op.responses || Object.keys(op.responses).length === 0) fail(where, "has no responses");
      for (const [status, r] of Object.entries(op.responses ?? {})) {
        walkSchemaHolder(`${where}/responses/${status}`, r);
        for (const [mt, media] of Object.entries(resolveRef(r)?.content ?? {}))
          if (media["x-i2v-event-data"]) {
            compile(`${where}/responses/${status}/${mt}/x-i2v-event-data`, media["x-i2v-event-data"]);
            if (typeof media["x-i2v-event"] !== "string") fail(`${where}/responses/${status}/${mt}`, "x-i2v-event-data without its x-i2v-event (the event's name)");
          }
      }
    }
  }
}
walkOperations("", doc.paths);
walkOperations("webhooks:", doc.webhooks);

if (errors.length) {
  console.error(`${file}: ${errors.length} error(s)`);
  for (const e of errors) console.error("  " + e);
  process.exit(1);
}
console.log(
  `${file}: valid OpenAPI ${doc.openapi}; ${Object.keys(doc.paths).length} paths, ${opIds.size} operations, ${Object.keys(schemas).length} schemas, ${compiled.size} schemas compiled`,
);
