/**
 * The test kit's `startServer` on `beamsock/bun`: the adapter's `serve` passed
 * as an option. Runs under Bun's test runner (`run-under-bun.test.ts` starts it).
 */
import { describe, expect, it } from 'vitest';
import { serve } from '../../src/adapters/bun/server.js';
import { send } from '../../src/runtime/process.js';
import { startServer, UpgradeRefusedError } from '../../src/testing/index.js';
import { ok, push, type CloseReason, type WebSock } from '../../src/websock/behaviour.js';

const ended: CloseReason[] = [];

/** Echoes text and binary; handleInfo pushes a string it is sent. */
const Echo: WebSock<null, null, string> = {
  init: () => ok(null),
  handleIn: ([data, { opcode }], state) => push([opcode, data], state),
  handleInfo: (msg, state) => push(['text', msg], state),
  terminate: (reason) => void ended.push(reason),
};

describe('startServer with the Bun adapter', () => {
  it("runs the handler on Bun's server: clients talk to it, and it is the Bun server that runs", async () => {
    await using server = await startServer(Echo, { serve, args: null, timeout: 5_000 });
    expect(server.bunServer.port).toBe(server.port);
    expect(server.url).toBe(`ws://127.0.0.1:${server.port}`);
    const client = await server.connect('/room?x=1');
    client.sendText('hi');
    await client.assertReceive(['text', 'hi']);
    client.sendBinary(new Uint8Array([7]));
    await client.assertReceive(['binary', new Uint8Array([7])]);
    const [pid] = server.connections();
    if (pid === undefined) throw new Error('the server lists no connection');
    send(pid, 'from elsewhere');
    await client.assertReceive(['text', 'from elsewhere']);
  });

  it('passes the options on: a refused upgrade rejects with its status and body', async () => {
    await using server = await startServer(Echo, { serve, args: null, path: '/ws' });
    const err = await server.connect('/other').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UpgradeRefusedError);
    expect(err).toMatchObject({ status: 404, body: 'no WebSocket endpoint at /other' });
  });

  it('leaving its scope closes its clients with 1001 and runs terminate with shutdown', async () => {
    ended.length = 0;
    let closed: Promise<unknown>[] = [];
    {
      await using server = await startServer(Echo, { serve, args: null });
      closed = (await Promise.all([server.connect(), server.connect('/other')])).map((c) => c.closed);
      expect(server.clients).toHaveLength(2);
    }
    expect(await Promise.all(closed)).toEqual([
      { code: 1001, reason: '' },
      { code: 1001, reason: '' },
    ]);
    expect(ended).toEqual(['shutdown', 'shutdown']);
  });
});
