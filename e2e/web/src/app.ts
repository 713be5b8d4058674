// An internal web app's view of the gateway: a page on its own origin calls the gateway with a
// client typed from openapi/openapi.json (openapi-typescript types + openapi-fetch). The flow:
// create a record, read it, PATCH it with an Idempotency-Key (and replay the PATCH), list with
// search[last_name], and show the typed problem of a bad phone. Every call names an operation
// path, a body and response fields of the document, so a change of the document that breaks
// this app fails `tsc --noEmit`.
//
// Page URL: index.html?gateway=<gateway base URL>&dataset=100#token=<JWT> (the token is in the
// fragment, which the browser never sends to the page's own server).
//
// The result is rendered as a table and left in `window.flowResult` with
// `document.body.dataset.state = "done"` for the driver (browser-flow.js).

import createClient from "openapi-fetch";

import type { components, paths } from "./openapi";

type Problem = components["schemas"]["Problem"];
type Record = components["schemas"]["Record"];

/** One step of the flow as shown on the page. */
export interface Step {
  name: string;
  ok: boolean;
  detail: string;
}

/** What the page did, for the driver. */
export interface FlowResult {
  origin: string;
  gateway: string;
  /** The last name of this run's records (unique per run). */
  lastName: string;
  steps: Step[];
  passed: boolean;
  /** The step that threw, with the thrown error's name (`TypeError` when the browser blocks). */
  failure?: { step: string; name: string; message: string };
}

declare global {
  interface Window {
    flowResult?: FlowResult;
  }
}

const query = new URLSearchParams(location.search);
const gateway = (query.get("gateway") ?? "").replace(/\/+$/, "");
const dataset = Number(query.get("dataset") ?? "100");
const token = new URLSearchParams(location.hash.slice(1)).get("token") ?? "";

const client = createClient<paths>({
  baseUrl: gateway,
  headers: { Authorization: `Bearer ${token}` },
});

/** A fresh Structured Field string for `Idempotency-Key`. */
function idempotencyKey(): string {
  return `"${crypto.randomUUID()}"`;
}

/** Whether a 422 body is a problem (not a batch result). */
function isProblem(body: unknown): body is Problem {
  return typeof body === "object" && body !== null && "code" in body && "status" in body;
}

class StepFailed extends Error {}

function expect(condition: boolean, message: string): asserts condition {
  if (!condition) throw new StepFailed(message);
}

async function flow(lastName: string, record: (step: Step) => void): Promise<void> {
  const path = { dataset };

  // 1. Create one record: 201, its id, and Location readable across origins.
  const created = await client.POST("/datasets/{dataset}/records", {
    params: { path },
    body: { title: "Admiral", first_name: "Grace", last_name: lastName, mobile_phone: "+44 7700 900456" },
  });
  expect(created.response.status === 201, `create answered ${created.response.status}`);
  expect(created.data !== undefined && "id" in created.data, "create returned no single record");
  const id = created.data.id;
  const location = created.response.headers.get("Location");
  expect(location === `/datasets/${dataset}/records/${id}`, `Location header: ${location}`);
  const requestId = created.response.headers.get("X-Request-Id");
  expect(requestId !== null, "X-Request-Id is not readable (Access-Control-Expose-Headers)");
  record({ name: "create", ok: true, detail: `201, id ${id}, live ${created.data.live}, Location ${location}, X-Request-Id ${requestId}` });

  // 2. Read it back.
  const read = await client.GET("/datasets/{dataset}/records/{id}", { params: { path: { dataset, id } } });
  expect(read.data !== undefined, `read answered ${read.response.status}`);
  const got: Record = read.data;
  expect(got.last_name === lastName && got.mobile_phone === "+44 7700 900456", "read a different record");
  record({ name: "read", ok: true, detail: `200, ${got.first_name} ${got.last_name}, ${got.mobile_phone}, outcome ${got.outcome_code}` });

  // 3. PATCH with an Idempotency-Key, then the same again: replayed, not written twice.
  const key = idempotencyKey();
  const change = { postcode: "EC1A 1BB", notes_append: "called from a browser" };
  const patched = await client.PATCH("/datasets/{dataset}/records/{id}", {
    params: { path: { dataset, id }, header: { "Idempotency-Key": key } },
    body: change,
  });
  expect(patched.data !== undefined && patched.data.id === id, `PATCH answered ${patched.response.status}`);
  const replay = await client.PATCH("/datasets/{dataset}/records/{id}", {
    params: { path: { dataset, id }, header: { "Idempotency-Key": key } },
    body: change,
  });
  const replayed = replay.response.headers.get("Idempotent-Replayed");
  expect(replay.data?.id === id && replayed === "true", `replay: ${replay.response.status}, Idempotent-Replayed ${replayed}`);
  record({ name: "patch", ok: true, detail: `200, Idempotency-Key ${key}; the retry: 200, Idempotent-Replayed ${replayed}` });

  // 4. List with a search.
  const listed = await client.GET("/datasets/{dataset}/records", {
    params: { path, query: { "search[last_name]": lastName, limit: 10 } },
  });
  expect(listed.data !== undefined, `list answered ${listed.response.status}`);
  const { total, records } = listed.data;
  expect(total === 1 && records[0]?.id === id && records[0]?.postcode === "EC1A 1BB", `list: total ${total}`);
  record({ name: "list", ok: true, detail: `200, search[last_name]=${lastName}: total ${total}, postcode ${records[0].postcode}` });

  // 5. A bad phone: a typed problem, shown to the user field by field.
  const refused = await client.POST("/datasets/{dataset}/records", {
    params: { path },
    body: { first_name: "Grace", last_name: lastName, mobile_phone: "not a phone" },
  });
  expect(refused.response.status === 422 && isProblem(refused.error), `bad phone answered ${refused.response.status}`);
  const problem: Problem = refused.error;
  const fields = (problem.errors ?? []).map((e) => `${e.field}: ${e.message}`);
  expect(problem.code === "validation_failed" && fields.some((f) => f.startsWith("mobile_phone")), `problem ${problem.code}`);
  record({ name: "bad phone", ok: true, detail: `${problem.status} ${problem.code} — ${fields.join("; ")} (request ${problem.request_id})` });
}

function render(result: FlowResult): void {
  const rows = result.steps
    .map((s) => `<tr class="${s.ok ? "ok" : "fail"}"><td>${s.ok ? "✔" : "✘"}</td><th>${escape(s.name)}</th><td>${escape(s.detail)}</td></tr>`)
    .join("");
  const verdict = result.passed ? "PASS" : `FAIL at ${escape(result.failure?.step ?? "?")}`;
  document.getElementById("app")!.innerHTML = `
    <p>Page origin <code>${escape(result.origin)}</code> → gateway <code>${escape(result.gateway)}</code></p>
    <table>${rows}</table>
    <p id="verdict" class="${result.passed ? "ok" : "fail"}">${verdict}</p>`;
}

function escape(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] ?? c);
}

async function main(): Promise<void> {
  const lastName = `Hopper-${crypto.randomUUID().slice(0, 8)}`;
  const result: FlowResult = { origin: location.origin, gateway, lastName, steps: [], passed: false };
  const names = ["create", "read", "patch", "list", "bad phone"];
  try {
    await flow(lastName, (step) => result.steps.push(step));
    result.passed = true;
  } catch (error) {
    const step = names[result.steps.length] ?? "?";
    const name = error instanceof StepFailed ? "StepFailed" : error instanceof Error ? error.name : "unknown";
    const message = error instanceof Error ? error.message : String(error);
    result.failure = { step, name, message };
    result.steps.push({ name: step, ok: false, detail: `${name}: ${message}` });
  }
  window.flowResult = result;
  render(result);
  document.body.dataset.state = "done";
}

void main();
