/**
 * Test helpers for the observer: a server with it attached, and a WebSocket
 * client that speaks its protocol.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { exit, idle, processes, type Pid } from '../../src/runtime/index.js';
import { mountObserver, type Observer, type ObserverOptions } from '../../src/observer/mount.js';
import type { ObserverMessage, ObserverRequest } from '../../src/observer/protocol.js';
import { ok, type WebSock } from '../../src/websock/behaviour.js';
import { TestClient } from '../conformance/client.js';

export interface Observed {
  readonly server: Server;
  readonly observer: Observer;
  /** `http://127.0.0.1:port` */
  readonly http: string;
  /** `ws://127.0.0.1:port` */
  readonly ws: string;
  close(): Promise<void>;
}

/**
 * A plain node:http server answering 'app' to everything (and handing other
 * upgrades to `appUpgrade`, if given), with an observer attached in front.
 */
export async function observed(opts: ObserverOptions = {}, appUpgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void): Promise<Observed> {
  const server = createServer((_req, res) => res.end('app'));
  if (appUpgrade !== undefined) server.on('upgrade', appUpgrade);
  const observer = mountObserver(opts);
  observer.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    observer,
    http: `http://127.0.0.1:${port}`,
    ws: `ws://127.0.0.1:${port}`,
    async close() {
      await observer.close(1_000);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

type Message<T extends ObserverMessage['type']> = Extract<ObserverMessage, { type: T }>;

/** An observer page without the page: sends requests, reads messages in order. */
export class ObserverClient {
  private constructor(readonly client: TestClient) {}

  static async open(base: string, path = '/observer/ws', headers?: Record<string, string>): Promise<ObserverClient> {
    return new ObserverClient(await TestClient.open(base, { path, ...(headers !== undefined ? { headers } : {}) }));
  }

  send(req: ObserverRequest): void {
    this.client.send(JSON.stringify(req));
  }

  /** The next message of `type`, skipping the others; its raw frame length too. */
  async next<T extends ObserverMessage['type']>(type: T): Promise<Message<T> & { readonly frameLength: number }> {
    for (;;) {
      const text = await this.client.text();
      const m = JSON.parse(text) as ObserverMessage;
      if (m.type === type) return Object.assign(m as Message<T>, { frameLength: text.length });
    }
  }

  /** The first snapshot for which `accept` holds. */
  async snapshotWhere(accept: (m: Message<'snapshot'>) => boolean): Promise<Message<'snapshot'>> {
    for (;;) {
      const m = await this.next('snapshot');
      if (accept(m)) return m;
    }
  }

  close(): void {
    this.client.ws.close();
  }
}

/**
 * Kills the processes a test started: those alive now and not in `baseline`.
 * Runtime processes started before (such as the supervisor of upgraded
 * connections) are left alone.
 */
export async function killStartedSince(baseline: ReadonlySet<Pid>): Promise<void> {
  for (const pid of processes()) if (!baseline.has(pid)) exit(pid, 'kill');
  await idle();
}

/**
 * A handler that does nothing, given as a class instance: the adapters name a
 * connection after its handler's class, so each test subclasses it under the
 * name it wants to see.
 */
export class QuietSocket implements WebSock<null, null> {
  init() {
    return ok(null);
  }
  handleIn(_frame: unknown, state: null) {
    return ok(state);
  }
  handleInfo(_msg: unknown, state: null) {
    return ok(state);
  }
}
