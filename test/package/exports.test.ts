/**
 * What the root entry point (and `beamsock/websock`) gives applications: the
 * runtime and the WebSock behaviour, not the pieces only server adapters use
 * (issue 12, item 6).
 */
import { describe, expect, it } from 'vitest';
import * as root from '../../src/index.js';
import * as websock from '../../src/websock/index.js';

const ADAPTER_INTERNALS = [
  'admit',
  'authorization',
  'normalizeOptions',
  'listenOptions',
  'renderRefusal',
  'acceptKey',
  'fromFetchRequest',
  'selectSubprotocol',
  'validateCheckOrigin',
  'closeReplyCode',
  'WEBSOCKET_GUID',
  'Serving',
  'Connection',
];

describe('the public entry points', () => {
  it('export no adapter internals', () => {
    for (const name of ADAPTER_INTERNALS) {
      expect(Object.keys(root), name).not.toContain(name);
      expect(Object.keys(websock), name).not.toContain(name);
    }
  });

  it('export what applications use: the behaviour, the runtime, validation for their own servers', () => {
    for (const name of ['ok', 'push', 'stop', 'spawn', 'send', 'GenServer', 'Supervisor', 'Registry', 'PubSub', 'Task', 'validateUpgrade', 'checkOrigin', 'negotiateDeflate', 'fastlane', 'CloseCode']) {
      expect(Object.keys(root), name).toContain(name);
    }
  });
});
