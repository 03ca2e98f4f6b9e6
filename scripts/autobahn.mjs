#!/usr/bin/env node
/**
 * Runs Autobahn|Testsuite's fuzzing client (every case, permessage-deflate
 * included) against the echo example on each runtime, one after the other, and
 * prints per runtime how many cases were OK, NON-STRICT, INFORMATIONAL,
 * UNIMPLEMENTED and FAILED, naming each case that was not OK.
 *
 *   npm run autobahn                          # ws, Bun and Deno, every case
 *   npm run autobahn -- --runtimes ws,bun     # some runtimes
 *   npm run autobahn -- --cases 9.3.*,13.2.*  # some cases (Autobahn's patterns)
 *   npm run autobahn -- --bare                # bare ws, Bun and Deno echo servers too, for comparison
 *
 * The suite is not a dependency of the project: it runs beside it. Get the
 * Python 3 fork (github.com/ricardo-valero/autobahn-testsuite) into
 * AUTOBAHN_DIR (default: ../autobahn-testsuite beside this checkout) and its
 * Python packages (on Debian: apt-get install python3-autobahn python3-twisted
 * python3-jinja2). AUTOBAHN_PYTHON names the interpreter (default: the first of
 * python3 and /usr/bin/python3 that imports them). The HTML and JSON reports go
 * to AUTOBAHN_REPORTS (default: a fresh directory under the system temp dir),
 * with wstest's log of each run (`<agent>.log`) to follow a long one.
 *
 * The full profile takes minutes per runtime (the 9.x cases send up to 16 MiB
 * messages and measure); it is not part of `npm test`. Exits 1 if a case failed
 * on a beamsock server (bare servers are reported, not judged).
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name) => path.join(root, 'node_modules', '.bin', name);

function arg(name, fallback) {
  const at = process.argv.indexOf(name);
  return at === -1 ? fallback : process.argv[at + 1];
}
const runtimes = arg('--runtimes', 'ws,bun,deno').split(',');
const cases = arg('--cases', '*').split(',');
const bare = process.argv.includes('--bare');
for (const r of runtimes) {
  if (!['ws', 'bun', 'deno'].includes(r)) fail(`--runtimes: '${r}' is not one of ws, bun, deno`);
}

const suiteDir = path.resolve(process.env.AUTOBAHN_DIR ?? path.join(root, '..', 'autobahn-testsuite'));
const pythonPath = path.join(suiteDir, 'autobahntestsuite');
if (!existsSync(path.join(pythonPath, 'autobahntestsuite', 'wstest.py'))) {
  fail(
    `no Autobahn|Testsuite in ${suiteDir} (AUTOBAHN_DIR): clone github.com/ricardo-valero/autobahn-testsuite there, ` +
      `or set AUTOBAHN_DIR to where it is`,
  );
}
const python = findPython();
const reports = process.env.AUTOBAHN_REPORTS ?? mkdtempSync(path.join(tmpdir(), 'autobahn-'));
mkdirSync(reports, { recursive: true });

function fail(message) {
  console.error(`autobahn: ${message}`);
  process.exit(2);
}

function findPython() {
  const candidates = process.env.AUTOBAHN_PYTHON !== undefined ? [process.env.AUTOBAHN_PYTHON] : ['python3', '/usr/bin/python3'];
  for (const candidate of candidates) {
    try {
      execFileSync(candidate, ['-c', 'import autobahn, twisted, jinja2'], { stdio: 'ignore' });
      return candidate;
    } catch {
      // Not this one: try the next.
    }
  }
  return fail(
    `no Python among ${candidates.join(', ')} imports autobahn, twisted and jinja2 ` +
      `(Debian: apt-get install python3-autobahn python3-twisted python3-jinja2; or set AUTOBAHN_PYTHON)`,
  );
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Bare echo servers, each with its runtime's permessage-deflate on, for what the runtime gives without beamsock.
const BARE = {
  ws: [
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { WebSocketServer } from 'ws';
       const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(process.env.PORT), perMessageDeflate: true, maxPayload: 20_000_000 });
       wss.on('connection', (ws) => {
         ws.on('error', () => undefined);
         ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
       });
       wss.on('listening', () => console.log('listening'));`,
    ],
  ],
  bun: [
    bin('bun'),
    [
      '-e',
      `Bun.serve({ hostname: '127.0.0.1', port: Number(process.env.PORT),
         fetch: (req, s) => (s.upgrade(req) ? undefined : new Response('upgrade only', { status: 400 })),
         websocket: { perMessageDeflate: true, maxPayloadLength: 20_000_000, message: (ws, m) => void ws.send(m) } });
       console.log('listening');`,
    ],
  ],
  deno: [
    bin('deno'),
    [
      'eval',
      `Deno.serve({ hostname: '127.0.0.1', port: Number(Deno.env.get('PORT')), onListen: () => console.log('listening') }, (req) => {
         const { socket, response } = Deno.upgradeWebSocket(req);
         socket.onmessage = (e) => socket.send(e.data);
         return response;
       });`,
    ],
  ],
};

/** Starts a server and resolves with it once it printed its first line (each says it listens). */
function startServer(runtime, isBare, port) {
  const [command, args] = isBare
    ? BARE[runtime]
    : [process.execPath, ['scripts/start.mjs', 'examples/echo/main.ts', '--bun', 'examples/echo/bun.ts', '--deno', 'examples/echo/deno.ts']];
  // In a process group of its own, so that stopping it stops the launcher and the runtime it started.
  const child = spawn(command, args, {
    cwd: root,
    env: { ...process.env, PORT: String(port), SERVER: runtime },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${runtime} server exited with ${code} before listening`)));
    child.stdout.once('data', () => resolve(child));
    child.stdout.resume();
  });
}

function stopServer(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const killer = setTimeout(() => process.kill(-child.pid, 'SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(killer);
      resolve();
    });
    process.kill(-child.pid, 'SIGTERM');
  });
}

/**
 * wstest's entry point. With Debian's python3-autobahn (22.x) some case results
 * hold bytes, which the fork's JSON report writer cannot serialise: it would stop
 * at the report after running every case, and wait forever. Bytes are written
 * as latin-1 text instead; nothing else changes.
 */
const WSTEST = `
import json
_default = json.JSONEncoder.default
json.JSONEncoder.default = lambda self, o: o.decode('latin-1') if isinstance(o, (bytes, bytearray)) else _default(self, o)
from autobahntestsuite.wstest import run
run()
`;

function runSuite(agent, port) {
  const outdir = path.join(reports, agent);
  const spec = path.join(reports, `${agent}.json`);
  writeFileSync(
    spec,
    JSON.stringify({ outdir, servers: [{ agent, url: `ws://127.0.0.1:${port}/` }], cases, 'exclude-cases': [], 'exclude-agent-cases': {} }, null, 2),
  );
  // wstest's own log (one line per case) goes to <agent>.log beside the reports, to follow a long run.
  const log = openSync(path.join(reports, `${agent}.log`), 'w');
  const run = spawn(python, ['-c', WSTEST, '-m', 'fuzzingclient', '-s', spec], {
    cwd: reports,
    env: { ...process.env, PYTHONPATH: pythonPath },
    stdio: ['ignore', log, 'inherit'],
  });
  closeSync(log);
  return new Promise((resolve, reject) => {
    run.once('error', reject);
    run.once('exit', (code) => {
      // Stopped early, wstest may exit 0 without a report.
      const report = path.join(outdir, 'index.json');
      if (code !== 0 || !existsSync(report)) return reject(new Error(`wstest exited with ${code} for ${agent}, ${existsSync(report) ? 'after' : 'without'} its report`));
      resolve(JSON.parse(readFileSync(report, 'utf8'))[agent]);
    });
  });
}

/** Case ids in Autobahn's order (1.1.2 before 1.1.10). */
const byCaseId = (a, b) => {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
};

/** Case ids, a whole group as `12.1.*` when every case of it is there (UNIMPLEMENTED lists all of 12 and 13 on a server without deflate). */
function compact(ids, all) {
  const group = (id) => id.split('.').slice(0, -1).join('.');
  const out = [];
  const done = new Set();
  for (const id of ids) {
    const g = group(id);
    if (g.includes('.') && !done.has(g)) {
      const members = all.filter((c) => group(c) === g);
      if (members.length > 1 && members.every((c) => ids.includes(c))) {
        done.add(g);
        out.push(`${g}.*`);
        continue;
      }
    }
    if (!done.has(g)) out.push(id);
  }
  return out.join(', ');
}

function summarize(agent, results) {
  const counts = {};
  const notOk = {};
  for (const id of Object.keys(results).sort(byCaseId)) {
    const { behavior } = results[id];
    counts[behavior] = (counts[behavior] ?? 0) + 1;
    if (behavior !== 'OK') (notOk[behavior] ??= []).push(id);
  }
  const order = ['OK', 'NON-STRICT', 'INFORMATIONAL', 'UNIMPLEMENTED', 'FAILED'];
  const line = [...order, ...Object.keys(counts).filter((k) => !order.includes(k))].map((k) => `${k} ${counts[k] ?? 0}`).join(', ');
  console.log(`${agent}: ${Object.keys(results).length} cases: ${line}`);
  const all = Object.keys(results);
  for (const [behavior, ids] of Object.entries(notOk)) console.log(`  ${behavior}: ${compact(ids, all)}`);
  return counts['FAILED'] ?? 0;
}

console.log(`Autobahn|Testsuite from ${suiteDir} (${python}); reports in ${reports}`);
let failed = 0;
for (const runtime of runtimes) {
  for (const isBare of bare ? [false, true] : [false]) {
    const agent = `${isBare ? 'bare' : 'beamsock'}-${runtime}`;
    const port = await freePort();
    const server = await startServer(runtime, isBare, port);
    const started = Date.now();
    try {
      const results = await runSuite(agent, port);
      const f = summarize(agent, results);
      console.log(`  (${Math.round((Date.now() - started) / 1000)} s)`);
      if (!isBare) failed += f;
    } finally {
      await stopServer(server);
    }
  }
}
process.exit(failed === 0 ? 0 : 1);
