/**
 * Names unique across the cluster, as Erlang's `:global`: `registerGlobal(name, pid)`,
 * `whereisGlobal(name)`, `send({ global: name }, msg)`.
 *
 * Each node is the authority for the names its own processes hold: it announces them to
 * a peer as the first thing on a fresh node-to-node stream, and each claim and release
 * as it happens, so every node holds a copy of the whole table. A name whose holder
 * exits is released; the names of a node that goes down vanish from the others.
 *
 * Conflicts. Two claims for one name can both be made: two nodes claiming within one
 * round trip, or two sides of a broken cluster that claimed it while apart and meet
 * again. Every node settles them by the same rule, so they agree without a vote: the
 * claim made EARLIER wins (each claim carries its node's wall clock at `registerGlobal`),
 * then the lower node name, then the lower pid serial. The losing process's name is
 * unregistered and the process gets `{ type: 'global_name_conflict', name, winner }`; it
 * is not killed. A `registerGlobal` still waiting for the other nodes resolves `false`
 * instead (no message then).
 */
import { Pid, type Ref, nodeName } from '../pid.js';
import { send, unwatch, watch } from '../process.js';
import { setGlobalLookup } from '../names.js';
import { registerService, serviceBroadcast, serviceNodes, serviceSend } from './services.js';

/** What the loser of a global name conflict receives. */
export interface GlobalNameConflict {
  readonly type: 'global_name_conflict';
  readonly name: string;
  /** The process that keeps the name. */
  readonly winner: Pid;
}

interface Claim {
  readonly pid: Pid;
  /** Wall-clock ms at the claiming node when it was made. */
  readonly at: number;
}

interface Pending {
  readonly name: string;
  readonly pid: Pid;
  readonly waiting: Set<string>;
  readonly resolve: (ok: boolean) => void;
}

type Wire =
  | { t: 's' }
  /** A claim; `id` 0 (a snapshot's) asks for no acknowledgement. */
  | { t: 'c'; n: string; p: Pid; a: number; id: number }
  | { t: 'k'; id: number }
  | { t: 'u'; n: string; p: Pid }
  | { t: 'r'; n: string; p: Pid };

const SERVICE = 'global';
const table = new Map<string, Claim>();
/** Names held by local processes: their exit watchers. */
const localWatch = new Map<string, Ref>();
const pending = new Map<number, Pending>();
let nextId = 1;

setGlobalLookup((name) => table.get(name)?.pid);

/** True if claim `a` beats claim `b` under the documented rule. */
function beats(a: Claim, b: Claim): boolean {
  if (a.at !== b.at) return a.at < b.at;
  if (a.pid.node !== b.pid.node) return a.pid.node < b.pid.node;
  return a.pid.serial < b.pid.serial;
}

function requireName(what: string, name: unknown): asserts name is string {
  if (typeof name !== 'string' || name === '') throw new TypeError(`${what}: name must be a non-empty string, got ${JSON.stringify(name)}`);
}

function isPending(name: string, pid: Pid): boolean {
  for (const p of pending.values()) if (p.name === name && p.pid === pid) return true;
  return false;
}

/** Drops a local holder's claim (its exit watcher too); says so to the other nodes if `announce`. */
function dropLocal(name: string, pid: Pid, announce: boolean): void {
  const ref = localWatch.get(name);
  localWatch.delete(name);
  if (ref !== undefined) unwatch(pid, ref);
  if (announce) serviceBroadcast(SERVICE, { t: 'u', n: name, p: pid } satisfies Wire);
}

/** Applies a claim heard from another node, settling a conflict by the rule. */
function applyRemote(name: string, claim: Claim): void {
  const held = table.get(name);
  if (held === undefined || held.pid === claim.pid) {
    table.set(name, claim);
    return;
  }
  if (!beats(claim, held)) return;
  table.set(name, claim);
  if (held.pid.node !== nodeName()) return;
  // A local process lost the name.
  dropLocal(name, held.pid, false);
  if (!isPending(name, held.pid)) {
    const m: GlobalNameConflict = { type: 'global_name_conflict', name, winner: claim.pid };
    send(held.pid, m);
  }
}

function settle(id: number, node: string | null): void {
  const p = pending.get(id);
  if (p === undefined) return;
  if (node !== null) p.waiting.delete(node);
  if (p.waiting.size > 0) return;
  pending.delete(id);
  p.resolve(table.get(p.name)?.pid === p.pid);
}

/**
 * Registers `pid` (a process of this node) under `name` across the cluster. Resolves
 * `true` once every other node up has acknowledged the claim and no earlier claim for
 * the name turned up; `false` if the name was already held (anywhere this node knows),
 * or an earlier claim won the conflict meanwhile (see the module doc for the rule).
 * The name is released when the process exits. Throws `TypeError` for a bad name or
 * a pid that is not a local process.
 *
 * @example
 * if (await registerGlobal('leader', self())) console.log('I lead');
 * send({ global: 'leader' }, { type: 'hello' });
 */
export function registerGlobal(name: string, pid: Pid): Promise<boolean> {
  requireName('registerGlobal', name);
  if (!(pid instanceof Pid) || pid.node !== nodeName()) {
    throw new TypeError(`registerGlobal('${name}', pid): pid must be a process of this node (register it on its own node), got ${String(pid)}`);
  }
  if (table.has(name)) return Promise.resolve(false);
  const ref = watch(pid, () => {
    if (table.get(name)?.pid !== pid) return;
    table.delete(name);
    dropLocal(name, pid, true);
  });
  if (ref === undefined) return Promise.resolve(false);
  const at = Date.now();
  table.set(name, { pid, at });
  localWatch.set(name, ref);
  const id = nextId++;
  const waiting = new Set<string>();
  const msg: Wire = { t: 'c', n: name, p: pid, a: at, id };
  for (const node of serviceNodes()) if (serviceSend(node, SERVICE, msg)) waiting.add(node);
  return new Promise<boolean>((resolve) => {
    pending.set(id, { name, pid, waiting, resolve });
    settle(id, null);
  });
}

/**
 * The process holding the global `name`, on whatever node, or undefined.
 *
 * @example
 * const leader = whereisGlobal('leader');
 */
export function whereisGlobal(name: string): Pid | undefined {
  return table.get(name)?.pid;
}

/**
 * Releases the global `name`, wherever its holder runs (a holder on another node is
 * released by its node, which then tells every node). Returns false if nobody held it.
 *
 * @example
 * unregisterGlobal('leader');
 */
export function unregisterGlobal(name: string): boolean {
  requireName('unregisterGlobal', name);
  const held = table.get(name);
  if (held === undefined) return false;
  table.delete(name);
  if (held.pid.node === nodeName()) dropLocal(name, held.pid, true);
  else serviceSend(held.pid.node, SERVICE, { t: 'r', n: name, p: held.pid } satisfies Wire);
  return true;
}

/**
 * Every global name held now, sorted.
 *
 * @example
 * registeredGlobal(); // ['leader', 'scheduler']
 */
export function registeredGlobal(): string[] {
  return [...table.keys()].sort();
}

registerService(SERVICE, {
  nodeUp(node) {
    // A reset, then each name this node's processes hold, as claims (one message each: no size limit to meet).
    serviceSend(node, SERVICE, { t: 's' } satisfies Wire);
    for (const [name, c] of table) if (c.pid.node === nodeName()) serviceSend(node, SERVICE, { t: 'c', n: name, p: c.pid, a: c.at, id: 0 } satisfies Wire);
  },
  nodeDown(node) {
    for (const [name, c] of [...table]) if (c.pid.node === node) table.delete(name);
    for (const id of [...pending.keys()]) settle(id, node);
  },
  receive(node, msg) {
    const m = msg as Wire;
    switch (m.t) {
      case 's':
        // A snapshot starts: it replaces everything heard from `node` before.
        for (const [name, c] of [...table]) if (c.pid.node === node) table.delete(name);
        break;
      case 'c':
        applyRemote(m.n, { pid: m.p, at: m.a });
        // The ack follows on the same ordered stream, after any claim this node made earlier.
        if (m.id !== 0) serviceSend(node, SERVICE, { t: 'k', id: m.id } satisfies Wire);
        break;
      case 'k':
        settle(m.id, node);
        break;
      case 'u':
        if (table.get(m.n)?.pid === m.p) table.delete(m.n);
        break;
      case 'r':
        if (table.get(m.n)?.pid === m.p && m.p.node === nodeName()) {
          table.delete(m.n);
          dropLocal(m.n, m.p, true);
        }
        break;
    }
  },
});
