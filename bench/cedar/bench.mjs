// Cedar's official WebAssembly build deciding the same requests as bench_policy, on the
// equivalent policy set that bench_policy wrote.  Fair measurement: the policy set is parsed
// once (preparsePolicySet), every request is checked to get the same decision and the same
// determining policy as Écluse, then a warm-up, then timed whole passes over the requests.
//   node bench.mjs DIR [SECONDS]
import { readFileSync } from "node:fs";
import * as cedar from "@cedar-policy/cedar-wasm/nodejs";

const dir = process.argv[2];
const seconds = Number(process.argv[3] ?? 3);
const policies = JSON.parse(readFileSync(`${dir}/cedar.json`, "utf8"));
const requests = JSON.parse(readFileSync(`${dir}/requests.json`, "utf8"));

const parsed = cedar.preparsePolicySet("bench", { staticPolicies: policies });
if (parsed.type !== "success") {
  console.error("cedar: the policy set does not parse", JSON.stringify(parsed.errors));
  process.exit(1);
}
const calls = requests.map((r) => ({
  principal: { type: "Agent", id: r.principal },
  action: { type: "Action", id: r.action },
  resource: { type: "Dataset", id: r.resource },
  context: r.context,
  preparsedPolicySetId: "bench",
  entities: [],
}));

// same decisions as Écluse, with the same determining rule
let mismatches = 0;
calls.forEach((c, i) => {
  const a = cedar.statefulIsAuthorized(c);
  if (a.type !== "success") {
    console.error("cedar: authorization failed", JSON.stringify(a.errors));
    process.exit(1);
  }
  const decision = a.response.decision;
  const rule = a.response.diagnostics.reason[0] ?? null;
  if (decision !== requests[i].expect || rule !== requests[i].rule) {
    mismatches++;
  }
});
if (mismatches > 0) {
  console.error(`cedar: ${mismatches} decisions differ from Écluse's`);
  process.exit(1);
}

for (let w = 0; w < 1; w++) {
  for (const c of calls) cedar.statefulIsAuthorized(c);
}
let n = 0;
let allowed = 0;
const t0 = process.hrtime.bigint();
let t1 = t0;
do {
  for (const c of calls) {
    if (cedar.statefulIsAuthorized(c).response.decision === "allow") allowed++;
  }
  n += calls.length;
  t1 = process.hrtime.bigint();
} while (Number(t1 - t0) / 1e9 < seconds);
const s = Number(t1 - t0) / 1e9;
console.log(`cedar ${cedar.getCedarVersion()} (cedar-wasm ${cedar.getCedarSDKVersion()}): ` +
  `${requests.length} requests, same decisions as ecluse`);
console.log(`cedar decisions/s: ${Math.round(n / s)} (${n} decisions in ${s.toFixed(2)} s, ` +
  `${allowed} allowed)`);
