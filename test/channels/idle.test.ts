// The server side of heartbeats: the connection's idle timeout closes a socket whose client went silent,
// while phoenix heartbeats keep a quiet one open.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { ServerProc, client, join } from './support.js';

describe('a channels server with a 1.5 s idle timeout', () => {
  let server: ServerProc;
  beforeAll(async () => {
    server = await ServerProc.start('node', { IDLE_MS: '1500' });
  });
  afterAll(() => server.stop());

  it('closes a socket that sends nothing, with 1000', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/socket/websocket?vsn=2.0.0`);
    const code = await new Promise<number>((resolve) => ws.once('close', (c) => resolve(c)));
    expect(code).toBe(1000);
  });

  it('keeps a phoenix client open past it: its heartbeats count as traffic', async () => {
    const s = client(server.url, { params: { token: 'hb' }, heartbeatIntervalMs: 400 });
    let closes = 0;
    s.onClose(() => closes++);
    await join(s.channel('room:idle'));
    await new Promise((r) => setTimeout(r, 3000));
    expect(closes).toBe(0);
    expect(s.isConnected()).toBe(true);
    s.disconnect();
  });
});
