import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Echo, EchoServer } from '../../examples/echo/echo-server.js';
import { startHandler, startServer } from '../../src/testing/index.js';
import { rawRequest, TestClient } from '../conformance/client.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('EchoServer', () => {
  it('answers "ping" with "pong" and keeps other text as "Echo: ..."', async () => {
    const conn = startHandler(EchoServer, { greeting: 'hi' });
    conn.pushText('ping');
    await conn.assertPush(['text', 'pong']);
    conn.pushText('hello');
    await conn.assertPush(['text', 'Echo: hello']);
    conn.peerClose(1000);
    const t = await conn.assertTerminated('remote');
    expect(t.state).toEqual({ messages: ['hello'], opts: { greeting: 'hi' } });
  });

  it('sends binary back as it came', async () => {
    const conn = startHandler(EchoServer, null);
    conn.pushBinary(new Uint8Array([0, 1, 254, 255]));
    await conn.assertPush(['binary', new Uint8Array([0, 1, 254, 255])]);
  });

  it('a control ping gets the automatic pong and nothing else', async () => {
    const conn = startHandler(EchoServer, null);
    conn.ping('are you there');
    await conn.assertPush(['pong', 'are you there']);
    await conn.refutePush();
  });

  it('pushes any message sent to its pid as "Info: ..."', async () => {
    const conn = startHandler(EchoServer, null);
    conn.send({ type: 'notice', n: 1 });
    await conn.assertPush(['text', 'Info: {"type":"notice","n":1}']);
  });

  it('serves real clients, each in its own process', async () => {
    await using server = await startServer(EchoServer, { args: null });
    const a = await server.connect();
    const b = await server.connect();
    a.sendText('from a');
    b.sendText('ping');
    await a.assertReceive(['text', 'Echo: from a']);
    await b.assertReceive(['text', 'pong']);
    await b.refuteReceive(['text', 'Echo: from a']);
    expect(server.connections()).toHaveLength(2);
  });
});

describe('Echo', () => {
  it('echoes text and binary unchanged and ignores other messages', async () => {
    const conn = startHandler(Echo, null);
    conn.pushText('same');
    conn.pushBinary(Buffer.from('bytes'));
    conn.send('ignored');
    expect(await conn.nextFrame()).toEqual(['text', 'same']);
    expect(await conn.nextFrame()).toEqual(['binary', Buffer.from('bytes')]);
    await conn.refutePush();
  });
});

describe('the echo example (examples/echo/main.ts)', () => {
  it('says at start-up that any origin may connect, takes a page from another origin and any deflate offer', async () => {
    const child = spawn(process.execPath, ['--conditions=beamsock-source', '--import', 'tsx', 'examples/echo/main.ts'], { cwd: root, env: { ...process.env, PORT: '0' } });
    try {
      const out = await new Promise<string>((resolve, reject) => {
        let text = '';
        child.stdout.on('data', (d: Buffer) => {
          text += d.toString();
          if (/any Origin/.test(text)) resolve(text);
        });
        child.once('exit', (code) => reject(new Error(`the echo example exited with ${String(code)}: ${text}`)));
      });
      expect(out).toMatch(/accepting upgrades from any Origin \(checkOrigin: false/);
      const url = (/listening on (ws:\/\/\S+)/.exec(out) as RegExpExecArray)[1] as string;
      const client = await TestClient.open(url, { path: 'echo', headers: { Origin: 'http://localhost:5173' } });
      client.send('from a page on another port');
      expect(await client.text()).toBe('from a page on another port');
      client.ws.close();
      const res = await rawRequest(url, { headers: { Origin: 'http://localhost:5173', 'Sec-WebSocket-Extensions': 'permessage-deflate; server_no_context_takeover' } });
      expect(res.status).toBe(101);
      expect(res.headers['sec-websocket-extensions']).toBe('permessage-deflate; server_no_context_takeover');
    } finally {
      child.kill();
    }
  });
});
