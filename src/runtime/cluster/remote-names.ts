/**
 * Looks a locally registered name up on another node, for `GenServer.call({ name, node })`:
 * one question and one answer over the node streams. A node that goes down before it
 * answers answers "nobody".
 */
import type { Pid } from '../pid.js';
import { whereis } from '../names.js';
import { registerService, serviceSend } from './services.js';

type Wire = { t: 'q'; id: number; name: string } | { t: 'a'; id: number; pid: Pid | null };

const SERVICE = 'whereis';
const asked = new Map<number, { node: string; resolve: (pid: Pid | undefined) => void }>();
let nextId = 1;

/** @internal the pid registered under `name` on `node` now, or undefined (nobody, or the node is not up). */
export function whereisOn(node: string, name: string): Promise<Pid | undefined> {
  const id = nextId++;
  if (!serviceSend(node, SERVICE, { t: 'q', id, name } satisfies Wire)) return Promise.resolve(undefined);
  return new Promise((resolve) => asked.set(id, { node, resolve }));
}

registerService(SERVICE, {
  nodeUp() {},
  nodeDown(node) {
    for (const [id, q] of [...asked]) {
      if (q.node !== node) continue;
      asked.delete(id);
      q.resolve(undefined);
    }
  },
  receive(node, msg) {
    const m = msg as Wire;
    if (m.t === 'q') {
      serviceSend(node, SERVICE, { t: 'a', id: m.id, pid: whereis(m.name) ?? null } satisfies Wire);
      return;
    }
    const q = asked.get(m.id);
    if (q === undefined) return;
    asked.delete(m.id);
    q.resolve(m.pid ?? undefined);
  },
});
