// Drives Écluse's POST /mcp with the official MCP TypeScript SDK client (pinned in
// package-lock.json): connect, list tools, call every tool where allowed and where refused,
// and raw-HTTP protocol negative tests.  The SDK itself checks each structuredContent against
// the tool's outputSchema (Client.callTool, once listTools has cached the validators).
//
// Environment:
//   ECLUSE_URL    base URL of the gateway (http://127.0.0.1:PORT) or the /mcp endpoint itself
//   AGENT_KEY     bearer key of an agent with record access (get and query on some dataset)
//   OTHER_KEY     bearer key of an agent with fewer rights (no access to that dataset/purpose)
//   RECORD_ID     a subject identifier present in the agent's dataset
//   ON_BEHALF_OF  official for purposes that require it (default "official-1")
//   CASE_REF      case reference for purposes that require it (default "CASE-1")
//   QUERY_WHERE   JSON where clause for query_records (default {})
//
// Output: one JSON object per line on stdout ({"event": ...}); the last line is
// {"event":"summary",...}.  Exit status 0 when every expectation held, 1 otherwise.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';

const env = (name, dflt) => {
  const v = process.env[name];
  if (v === undefined || v === '') {
    if (dflt === undefined) {
      console.error(`client_test: ${name} is required`);
      process.exit(64);
    }
    return dflt;
  }
  return v;
};

const base = env('ECLUSE_URL');
const endpoint = new URL(base.replace(/\/+$/, '').endsWith('/mcp') ? base : base.replace(/\/+$/, '') + '/mcp');
const AGENT_KEY = env('AGENT_KEY');
const OTHER_KEY = env('OTHER_KEY');
const RECORD_ID = env('RECORD_ID');
const OBO = env('ON_BEHALF_OF', 'official-1');
const CASE = env('CASE_REF', 'CASE-1');
const WHERE = JSON.parse(env('QUERY_WHERE', '{}'));

let failures = 0;
const auditSeqs = [];
const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const fail = (what, detail) => {
  failures++;
  emit({ event: 'failure', what, detail: String(detail) });
};

async function connect(label, key) {
  const transport = new StreamableHTTPClientTransport(endpoint, {
    requestInit: { headers: { Authorization: `Bearer ${key}` } },
  });
  const client = new Client({ name: 'ecluse-client-test', version: '1.0.0' });
  await client.connect(transport);
  emit({
    event: 'connected',
    agent: label,
    protocolVersion: transport.protocolVersion,
    session: transport.sessionId !== undefined,
    server: client.getServerVersion(),
  });
  return { client, transport };
}

// Calls a tool and reports it.  expect: 'allowed' (isError false) or 'refused' (isError true
// with a reason code).  The SDK throws if structuredContent breaks the outputSchema.
async function call(label, client, tool, args, expect) {
  let res;
  try {
    res = await client.callTool({ name: tool, arguments: args });
  } catch (e) {
    fail(`${label} ${tool} (${expect})`, e instanceof McpError ? `McpError ${e.code}: ${e.message}` : e);
    return null;
  }
  const sc = res.structuredContent;
  const isError = res.isError === true;
  const seq = isError ? sc?.error?.audit_seq : sc?.meta?.audit_seq;
  const text = Array.isArray(res.content) && res.content.length > 0 && res.content[0].type === 'text';
  emit({
    event: 'call', agent: label, tool, expect, isError,
    code: isError ? sc?.error?.code ?? null : null,
    audit_seq: seq ?? null, structured: sc !== undefined, text,
  });
  if (seq !== undefined && seq !== null) {
    auditSeqs.push(seq);
  }
  if (sc === undefined || !text) {
    fail(`${label} ${tool}`, 'no structuredContent or no text item');
  }
  if ((expect === 'refused') !== isError) {
    fail(`${label} ${tool}`, `expected ${expect}, got isError=${isError}`);
  }
  if (expect === 'refused' && !(typeof sc?.error?.code === 'string' && sc.error.code.length > 0)) {
    fail(`${label} ${tool}`, 'a refusal without a reason code');
  }
  if (expect === 'allowed' && typeof seq !== 'number') {
    fail(`${label} ${tool}`, 'an allowed call without meta.audit_seq');
  }
  return res;
}

// A raw HTTP exchange for the protocol negative tests.
async function raw(name, { method = 'POST', headers = {}, body, want }) {
  const h = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    ...headers,
  };
  for (const k of Object.keys(h)) {
    if (h[k] === null) delete h[k];
  }
  let status = 0;
  let json = null;
  try {
    const r = await fetch(endpoint, { method, headers: h, body });
    status = r.status;
    const t = await r.text();
    json = t ? JSON.parse(t) : null;
  } catch (e) {
    fail(`negative ${name}`, e);
    return;
  }
  const code = json?.error?.code ?? null;
  const ok = status === want.status && (want.code === undefined || code === want.code);
  emit({ event: 'negative', name, status, code, ok });
  if (!ok) {
    fail(`negative ${name}`, `status ${status} code ${code}, wanted ${JSON.stringify(want)}`);
  }
}

const INIT = (version) => JSON.stringify({
  jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
});
const PING = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' });

async function main() {
  // ---- the agent with record access ----
  const a = await connect('agent', AGENT_KEY);
  const tools = (await a.client.listTools()).tools;
  emit({ event: 'tools', agent: 'agent', names: tools.map((t) => t.name), outputSchemas: tools.every((t) => t.outputSchema) });
  for (const name of ['list_datasets', 'describe_dataset', 'get_record', 'query_records', 'explain_access']) {
    if (!tools.some((t) => t.name === name)) fail('agent tools/list', `${name} missing`);
  }
  const listed = await call('agent', a.client, 'list_datasets', {}, 'allowed');
  // The first dataset and purpose granting get and query.
  let ds = null;
  let purpose = null;
  for (const d of listed?.structuredContent?.data ?? []) {
    for (const p of d.purposes) {
      if (!ds && p.operations.includes('get') && p.operations.includes('query')) {
        ds = d; purpose = p;
      }
    }
  }
  if (!ds) {
    fail('agent list_datasets', 'no dataset with get and query');
    return;
  }
  const extra = {};
  if (purpose.requires.includes('on_behalf_of')) extra.on_behalf_of = OBO;
  if (purpose.requires.includes('case')) extra.case = CASE;
  const described = await call('agent', a.client, 'describe_dataset', { dataset: ds.name }, 'allowed');
  await call('agent', a.client, 'explain_access', { purpose: purpose.purpose }, 'allowed');
  const got = await call('agent', a.client, 'get_record',
    { dataset: ds.name, purpose: purpose.purpose, id: RECORD_ID, ...extra }, 'allowed');
  // By the agent's own pseudonym of the subject, when the subject field is pseudonymized.
  const subjectField = described?.structuredContent?.data?.subject_field;
  const ps = got?.structuredContent?.data?.[subjectField];
  if (typeof ps === 'string' && ps.startsWith('ps_')) {
    const again = await call('agent', a.client, 'get_record',
      { dataset: ds.name, purpose: purpose.purpose, pseudonym: ps, ...extra }, 'allowed');
    if (again && again.structuredContent?.data?.[subjectField] !== ps) {
      fail('agent get_record by pseudonym', 'a different subject came back');
    }
  } else {
    emit({ event: 'note', what: 'subject field not pseudonymized: get_record by pseudonym skipped' });
  }
  const page = await call('agent', a.client, 'query_records',
    { dataset: ds.name, purpose: purpose.purpose, where: WHERE, limit: 1, ...extra }, 'allowed');
  const next = page?.structuredContent?.meta?.next_cursor;
  if (typeof next === 'string') {
    await call('agent', a.client, 'query_records',
      { dataset: ds.name, purpose: purpose.purpose, where: WHERE, limit: 1, cursor: next, ...extra }, 'allowed');
  }
  // Refused for the agent itself: a purpose it does not have, a missing requirement.
  const noPurpose = 'ecluse_client_test_no_such_purpose';
  await call('agent', a.client, 'get_record', { dataset: ds.name, purpose: noPurpose, id: RECORD_ID, ...extra }, 'refused');
  await call('agent', a.client, 'query_records', { dataset: ds.name, purpose: noPurpose, ...extra }, 'refused');
  await call('agent', a.client, 'describe_dataset', { dataset: 'ecluse_client_test_no_such_dataset' }, 'refused');
  if (purpose.requires.length > 0) {
    await call('agent', a.client, 'get_record', { dataset: ds.name, purpose: purpose.purpose, id: RECORD_ID }, 'refused');
  }
  // Invalid arguments are tool errors too (no disclosure, no audit entry needed).
  await call('agent', a.client, 'get_record', { dataset: ds.name, purpose: purpose.purpose }, 'refused');
  // An unknown tool is a protocol error.
  try {
    await a.client.callTool({ name: 'ecluse_no_such_tool', arguments: {} });
    fail('unknown tool', 'no error');
  } catch (e) {
    emit({ event: 'negative', name: 'unknown_tool', code: e.code ?? null, ok: e.code === -32602 });
    if (e.code !== -32602) fail('unknown tool', e);
  }
  const sessionId = a.transport.sessionId;

  // ---- the agent with fewer rights: its tools/list is smaller, record calls are refused ----
  const o = await connect('other', OTHER_KEY);
  const otherTools = (await o.client.listTools()).tools;
  emit({ event: 'tools', agent: 'other', names: otherTools.map((t) => t.name) });
  if (otherTools.length >= tools.length) fail('other tools/list', 'not smaller than the agent\'s');
  await call('other', o.client, 'list_datasets', {}, 'allowed');
  await call('other', o.client, 'explain_access', { purpose: purpose.purpose }, 'allowed');
  await call('other', o.client, 'describe_dataset', { dataset: ds.name }, 'refused');
  await call('other', o.client, 'get_record', { dataset: ds.name, purpose: purpose.purpose, id: RECORD_ID, ...extra }, 'refused');
  await call('other', o.client, 'query_records', { dataset: ds.name, purpose: purpose.purpose, where: WHERE, ...extra }, 'refused');

  // ---- protocol negative tests over raw HTTP ----
  const auth = { authorization: `Bearer ${AGENT_KEY}` };
  const v = { 'mcp-protocol-version': '2025-11-25' };
  await raw('unsupported_protocol_version_initialize', { headers: auth, body: INIT('2024-01-01'), want: { status: 200, code: -32602 } });
  await raw('unsupported_protocol_version_header', { headers: { ...auth, 'mcp-protocol-version': '1999-01-01', 'mcp-session-id': sessionId }, body: PING, want: { status: 400 } });
  await raw('missing_session', { headers: { ...auth, ...v }, body: PING, want: { status: 400 } });
  await raw('unknown_session', { headers: { ...auth, ...v, 'mcp-session-id': '00000000' + '0'.repeat(32) }, body: PING, want: { status: 404 } });
  await raw('session_of_another_agent', { headers: { authorization: `Bearer ${OTHER_KEY}`, ...v, 'mcp-session-id': sessionId }, body: PING, want: { status: 404 } });
  await raw('malformed_json', { headers: { ...auth, ...v, 'mcp-session-id': sessionId }, body: '{"jsonrpc":', want: { status: 400, code: -32700 } });
  await raw('invalid_request', { headers: { ...auth, ...v, 'mcp-session-id': sessionId }, body: '{"jsonrpc":"1.0","id":1,"method":"ping"}', want: { status: 400, code: -32600 } });
  await raw('batch', { headers: { ...auth, ...v, 'mcp-session-id': sessionId }, body: `[${PING}]`, want: { status: 400, code: -32600 } });
  await raw('unknown_method', { headers: { ...auth, ...v, 'mcp-session-id': sessionId }, body: '{"jsonrpc":"2.0","id":3,"method":"resources/list"}', want: { status: 200, code: -32601 } });
  await raw('bad_origin', { headers: { ...auth, ...v, 'mcp-session-id': sessionId, origin: 'http://evil.example' }, body: PING, want: { status: 403 } });
  await raw('missing_key', { headers: { ...v, 'mcp-session-id': sessionId }, body: PING, want: { status: 401 } });
  await raw('bad_key', { headers: { authorization: 'Bearer ecl_not_a_key', ...v, 'mcp-session-id': sessionId }, body: PING, want: { status: 401 } });
  await raw('get_405', { method: 'GET', headers: { ...auth, ...v, 'mcp-session-id': sessionId }, want: { status: 405 } });

  // ---- end both sessions (DELETE), then the ended session is gone ----
  await a.transport.terminateSession();
  await raw('ended_session', { headers: { ...auth, ...v, 'mcp-session-id': sessionId }, body: PING, want: { status: 404 } });
  await o.transport.terminateSession();
  await a.client.close();
  await o.client.close();
}

try {
  await main();
} catch (e) {
  fail('client', e?.stack ?? e);
}
emit({ event: 'summary', failures, audit_seqs: auditSeqs });
process.exit(failures === 0 ? 0 : 1);
