// The client's authToken option: the token travels as a subprotocol, and connect reads it.
import { describe, expect, it } from 'vitest';
import { setLogger } from '../../src/runtime/logger.js';
import { Socket } from 'phoenix';
import { WebSocket } from 'ws';
import { createSocket, joinOk } from '../../src/channels/index.js';
import { serve } from '../../src/adapters/ws/index.js';
import { join } from './support.js';

describe('the phoenix client authToken option', () => {
  it('reaches connect as info.authToken, and a wrong token is refused', async () => {
    setLogger(() => undefined);
    const tokens: (string | undefined)[] = [];
    const userSocket = createSocket<string>({
      channels: { 'room:*': { join: (_t, _p, s) => joinOk(null, { assigns: s.assigns }) } },
      connect: (_params, info) => {
        tokens.push(info.authToken);
        return info.authToken === 'sécret.token' ? { assigns: 'ada' } : false;
      },
    });
    const server = await serve(userSocket.handler, { port: 0, path: '/socket/websocket', authorize: userSocket.authorize, subprotocols: ['phoenix'] });
    try {
      const good = new Socket(`ws://127.0.0.1:${server.port}/socket`, { transport: WebSocket, authToken: 'sécret.token' });
      good.connect();
      expect(await join(good.channel('room:a'))).toEqual({ status: 'ok', response: { assigns: 'ada' } });
      good.disconnect();
      const bad = new Socket(`ws://127.0.0.1:${server.port}/socket`, { transport: WebSocket, authToken: 'guess', reconnectAfterMs: () => 60_000 });
      const refused = new Promise<void>((resolve) => bad.onError(() => resolve()));
      bad.connect();
      await refused;
      bad.disconnect();
      expect(new Set(tokens)).toEqual(new Set(['sécret.token', 'guess']));
    } finally {
      await server.close();
    }
  });
});
