/**
 * The README's framework recipes, run the way a user runs them: each file of
 * examples/frameworks/ starts in its own Node process on a free port with the
 * real framework, serves the framework's route and beamsock's WebSocket on that
 * one port, and on SIGTERM closes: its open client sees 1001, the close resolves
 * ("closed") well within the 15 s shutdownTimeout, and then the process exits by
 * itself. In process, each framework's own close (Express's and Hono's
 * `server.close()`, `fastify.close()`) runs the attachment's graceful close.
 */
import { serve as honoServe } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { attach } from '../../src/adapters/ws/upgrade.js';
import { isAlive } from '../../src/runtime/process.js';
import { rawRequest, TestClient, within } from '../conformance/client.js';
import { Recorder, scripted } from '../conformance/handlers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NODE_ARGS = ['--conditions=beamsock-source', '--import', 'tsx'];
/** From SIGTERM to "closed": a third of the shutdownTimeout, so a close that waited for it fails. */
const CLOSE_WITHIN_MS = 5_000;
/** From "closed" to the process's exit. */
const EXIT_WITHIN_MS = 2_000;
/** Starting tsx on a loaded machine takes its time; only the close and the exit are measured. */
const RUN_TIMEOUT_MS = 60_000;
/** Room for the waits above to fail with their own message and the child to be killed. */
const TEST_TIMEOUT_MS = 2 * RUN_TIMEOUT_MS;

const EXAMPLES = [
  { file: 'express.ts', framework: 'Express' },
  { file: 'express-serve.ts', framework: 'Express' },
  { file: 'fastify.ts', framework: 'Fastify' },
  { file: 'fastify-serve.ts', framework: 'Fastify' },
  { file: 'hono.ts', framework: 'Hono' },
  { file: 'hono-serve.ts', framework: 'Hono' },
] as const;

/** A running example: where it serves, once it says so, and when it printed "closed" and exited. */
interface RunningExample {
  readonly child: ChildProcess;
  /** Its route and its WebSocket endpoint, from the line it prints once it listens. */
  readonly ready: Promise<{ readonly http: URL; readonly ws: URL }>;
  /** performance.now() when it printed "closed". */
  readonly closed: Promise<number>;
  readonly exited: Promise<{ readonly code: number | null; readonly at: number }>;
  output(): string;
}

/** Starts `examples/frameworks/<file>` with PORT=0. */
function start(file: string): RunningExample {
  const child = spawn(process.execPath, [...NODE_ARGS, `examples/frameworks/${file}`], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let announce: ((urls: RegExpExecArray) => void) | undefined;
  let closedAt: ((at: number) => void) | undefined;
  const announced = new Promise<RegExpExecArray>((resolve) => (announce = resolve));
  const closed = new Promise<number>((resolve) => (closedAt = resolve));
  const exited = new Promise<{ code: number | null; at: number }>((resolve) => child.once('exit', (code) => resolve({ code, at: performance.now() })));
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    const urls = /^\w+: (http:\/\/\S+) and (ws:\/\/\S+)$/m.exec(output);
    if (urls !== null) announce?.(urls);
    if (/^closed$/m.test(output)) closedAt?.(performance.now());
  });
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const ready = Promise.race([
    announced.then((urls) => ({ http: new URL(urls[1] as string), ws: new URL(urls[2] as string) })),
    exited.then(({ code }) => Promise.reject(new Error(`${file} exited with ${String(code)} before serving:\n${output}`))),
  ]);
  return { child, ready, closed, exited, output: () => output };
}

describe('the framework recipes (examples/frameworks)', () => {
  it.concurrent.each(EXAMPLES)(
    '$file: a route and an echoing WebSocket on one port; on SIGTERM the client sees 1001, the close resolves promptly, the process exits by itself',
    async ({ file, framework }) => {
      const app = start(file);
      try {
        const { http, ws } = await within(app.ready, `${file} to listen`, RUN_TIMEOUT_MS);
        expect(ws.host).toBe(http.host);
        const res = await fetch(http);
        expect([res.status, await res.text()]).toEqual([200, `hello from ${framework}`]);

        const client = await TestClient.open(`ws://${ws.host}`, { path: ws.pathname });
        client.send('hello');
        expect(await client.text()).toBe('hello');
        const elsewhere = await rawRequest(`ws://${ws.host}`, { path: '/elsewhere' });
        expect([elsewhere.status, elsewhere.body]).toEqual([404, 'no WebSocket endpoint at /elsewhere']);

        app.child.kill('SIGTERM');
        const closedAt = await within(app.closed, `${file} to print "closed" after SIGTERM`, CLOSE_WITHIN_MS);
        expect((await client.closeSeen()).code).toBe(1001);
        const exit = await within(app.exited, `${file} to exit`, RUN_TIMEOUT_MS);
        expect(exit.code, app.output()).toBe(0);
        expect(exit.at - closedAt, app.output()).toBeLessThan(EXIT_WITHIN_MS);
      } finally {
        if (app.child.exitCode === null && app.child.signalCode === null) app.child.kill('SIGKILL');
      }
    },
    TEST_TIMEOUT_MS,
  );
});

/** A framework's app listening on a free port, and the close its users call. */
interface FrameworkApp {
  readonly server: Server;
  close(): Promise<unknown>;
}

const FRAMEWORKS: Readonly<Record<string, () => Promise<FrameworkApp>>> = {
  async 'Express: server.close()'() {
    const server = express().listen(0, '127.0.0.1');
    await once(server, 'listening');
    return { server, close: () => new Promise((resolve) => server.close(resolve)) };
  },
  async 'Fastify: fastify.close()'() {
    const app = Fastify();
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { server: app.server, close: () => app.close() };
  },
  async "Hono: the close of @hono/node-server's serve()"() {
    const server = honoServe({ fetch: new Hono().fetch, port: 0, hostname: '127.0.0.1' }) as Server;
    await once(server, 'listening');
    return { server, close: () => new Promise((resolve) => server.close(resolve)) };
  },
};

describe("attach() on each framework's server", () => {
  it.each(Object.entries(FRAMEWORKS))('%s with a client connected resolves promptly: the client sees 1001, terminate sees shutdown, no connection outlives the supervisor', async (_name, listen) => {
    const { server, close } = await listen();
    const rec = new Recorder();
    const attachment = attach(server, scripted(rec), { path: '/ws' });
    try {
      const client = await TestClient.open(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`, { path: '/ws' });
      const pid = await rec.pid();
      const supervisor = await attachment.supervisor;
      await within(close(), 'the close to resolve', CLOSE_WITHIN_MS);
      expect((await client.closeSeen()).code).toBe(1001);
      expect((await rec.terminated(pid)).reason).toBe('shutdown');
      expect(isAlive(supervisor)).toBe(false);
      expect(attachment.connections()).toEqual([]);
    } finally {
      await attachment.close(0);
      if (server.listening) server.close();
    }
  });
});

describe('the README', () => {
  it('shows every framework recipe, each block exactly its file', () => {
    const readme = readFileSync(`${ROOT}README.md`, 'utf8');
    const files = readdirSync(`${ROOT}examples/frameworks`).sort();
    expect(files).toEqual(EXAMPLES.map((e) => e.file).sort());
    for (const file of files) {
      const code = readFileSync(`${ROOT}examples/frameworks/${file}`, 'utf8');
      expect(readme, file).toContain('```ts\n' + code + '```');
    }
  });
});
