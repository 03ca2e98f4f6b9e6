/**
 * A beamsock node: this process's name and incarnation in a cluster, the liveness of
 * the other nodes, and one reliable stream per (this node, other node) pair carried
 * by a broker transport.
 *
 * Subjects (Redis channels are the same strings), `<c>` the cluster name:
 * - `bs.<c>.n.<node>`: everything addressed to one node (data frames, acks, nacks, resets);
 * - `bs.<c>.ctl`: heartbeats and goodbyes.
 *
 * Streams. Everything sent to one node within one event-loop turn leaves as ONE broker
 * message (a frame), numbered per stream: `(sid, seq)`, `sid` drawn afresh each time the
 * peer comes up. The receiver takes frames strictly in order: a duplicate is dropped, a
 * gap is never skipped (the frame is refused and a NACK asks for the missing ones), and
 * acknowledges cumulatively. The sender keeps every unacknowledged frame (the outbox)
 * and retransmits it after a NACK, when the broker comes back, or when it has waited
 * `retransmitMs`. So a broker outage shorter than `outageMs` loses nothing: what was
 * sent meanwhile arrives once, in order, afterwards. Past `outageMs`, or past
 * `maxOutboxBytes`, the peer is declared down (`noconnection`) and what its outbox held
 * is counted as lost, reported, never silently dropped.
 *
 * Liveness. Each node publishes a heartbeat every `heartbeatMs`; a peer silent for
 * `nodeDownAfterMs` is down. While this node's own broker connection is down, peers are
 * not judged (the silence is ours); once it is back they get a fresh `nodeDownAfterMs`.
 */
import { channel } from 'node:diagnostics_channel';
import { randomInt } from 'node:crypto';
import { Packr } from 'msgpackr';
import { Pid, Ref, internRef, makeRef, nodeName, setNodeIdentity } from '../pid.js';
import { report } from '../logger.js';
import { isAlive, remoteExitSignal, self, send, setRemoteRouter, unwatch, watch } from '../process.js';
import { formatReason, type DownMessage, type ExitReason } from '../reasons.js';
import { PubSub } from '../pubsub.js';
import { remoteReply } from '../gen-server.js';
import { msgpackCodec, type Codec } from './codec.js';
import type { Transport, Unsubscribe } from './transport.js';
import { serviceReceive, servicesNodeDown, servicesNodeUp, setServiceCarrier } from './services.js';
import { whereisOn } from './remote-names.js';

/** Options for `startNode`. */
export interface NodeOptions {
  /** This node's name, unique in the cluster: letters, digits and `_-@.:` (e.g. `'chat-1@10.0.0.5'`). */
  readonly name: string;
  /** The broker connection (`connectNats`, `connectRedis`). The node closes it on `stop`. */
  readonly transport: Transport;
  /** Nodes see each other only within one cluster name (a subject prefix). Default `'default'`. */
  readonly cluster?: string;
  /** How messages cross. Every node of a cluster must use the same. Default `msgpackCodec`. */
  readonly codec?: Codec;
  /** Milliseconds between heartbeats. Default 200. */
  readonly heartbeatMs?: number;
  /** A peer silent this long is down. Default 800: a SIGKILLed node is noticed in at most `nodeDownAfterMs + heartbeatMs`. */
  readonly nodeDownAfterMs?: number;
  /** How long unacknowledged messages are held through a broker outage before the peer is declared down. Default 5000. */
  readonly outageMs?: number;
  /** Unacknowledged bytes held per peer before it is declared down. Default 16 MiB. */
  readonly maxOutboxBytes?: number;
  /** A frame unacknowledged this long is sent again. Default 600. */
  readonly retransmitMs?: number;
}

/** Counters of one node's cluster traffic, as `ClusterNode.stats()` returns them. */
export interface ClusterStats {
  /** Messages handed to the cluster for another node. */
  messagesOut: number;
  /** Messages received from other nodes and delivered. */
  messagesIn: number;
  /** Frames (broker messages) published with data, first sends only. */
  framesOut: number;
  /** Frames sent again (after a NACK, a reconnect or a timeout). */
  retransmitted: number;
  /** Frames received twice and dropped. */
  duplicates: number;
  /** Frames received out of order (a gap): refused and asked for again. */
  gaps: number;
  /** Messages given up on: held for a peer declared down. */
  lost: number;
  /** Messages for a node that is not up (unknown, down, or another incarnation), dropped at once. */
  unreachable: number;
  /** Times an outbox went over `maxOutboxBytes`. */
  overflows: number;
  /** Frames or messages that could not be decoded, dropped. */
  badFrames: number;
}

/** Sent to processes that called `monitorNode` / `monitorNodes`. */
export interface NodeDownMessage {
  readonly type: 'nodedown';
  readonly node: string;
  /** `'noconnection'` when the node went silent, its stream broke or the broker was away too long; `'disconnect'` when it stopped cleanly. */
  readonly reason: 'noconnection' | 'disconnect';
}

/** Sent to processes that called `monitorNodes`. */
export interface NodeUpMessage {
  readonly type: 'nodeup';
  readonly node: string;
}

// ---- wire format of frames (independent of the message codec) ----

const MAGIC = 0xb5c1; // beamsock cluster frame, version 1
const F_DATA = 1;
const F_ACK = 2;
const F_NACK = 3;
const F_RESET = 4;
const F_BEAT = 10;
const F_BYE = 11;
const OP_SEND = 1;
const OP_SEND_NAME = 2;
const OP_EXIT = 3;
const OP_MONITOR = 4;
const OP_DEMONITOR = 5;
const OP_DOWN = 6;
const OP_LINK = 7;
const OP_UNLINK = 8;
const OP_LINK_EXIT = 9;
const OP_PUBSUB = 10;
const OP_REPLY = 11;
const OP_SERVICE = 12;

/** A pid or ref on the wire: [node, serial or id, creation]. */
type Id = [string, number, number];

type Op =
  | [typeof OP_SEND, number, Uint8Array]
  | [typeof OP_SEND_NAME, string, Uint8Array]
  | [typeof OP_EXIT, number, Id, Uint8Array]
  | [typeof OP_MONITOR, number, Id, Id]
  | [typeof OP_DEMONITOR, number, Id]
  | [typeof OP_DOWN, Id, Uint8Array]
  | [typeof OP_LINK, number, Id]
  | [typeof OP_UNLINK, number, Id]
  | [typeof OP_LINK_EXIT, number, Id, Uint8Array]
  | [typeof OP_PUBSUB, string, string, string, Uint8Array]
  | [typeof OP_REPLY, Id, number, Uint8Array]
  | [typeof OP_SERVICE, string, Uint8Array];

const pidId = (pid: Pid): Id => [pid.node, pid.serial, pid.creation];
const refId = (ref: Ref): Id => {
  internRef(ref);
  return [ref.node, ref.id, ref.creation];
};
const idPid = ([node, serial, creation]: Id): Pid => Pid.from({ node, serial, creation });
const idRef = ([node, ref, creation]: Id): Ref => Ref.from({ node, ref, creation });

/** A monitor on a process of another node, held by a process here or by runtime code (a pending call). */
interface OutMonitor {
  readonly owner: Pid | ((pid: Pid, reason: ExitReason) => void);
  readonly target: Pid;
}

/** A link between a process here and one on another node; `watchRef` watches the local end. */
interface RemoteLink {
  readonly local: Pid;
  readonly remote: Pid;
  readonly watchRef: Ref;
}

const framePackr = new Packr({ useRecords: false, moreTypes: false });

interface Unacked {
  readonly seq: number;
  readonly bytes: Uint8Array;
  readonly count: number;
  readonly firstSentAt: number;
  lastSentAt: number;
}

class Peer {
  up = false;
  lastSeen = 0;
  // Outbound stream.
  outSid = 0;
  nextSeq = 1;
  unacked: Unacked[] = [];
  unackedBytes = 0;
  pending: Op[] = [];
  pendingBytes = 0;
  // Inbound stream.
  inSid = 0;
  expected = 1;
  ackDue = false;
  framesSinceAck = 0;
  lastNackAt = 0;
  readonly closedInSids = new Set<number>();
  // Remote monitors and links with this peer, for `noconnection` when it goes down.
  readonly outMonitors = new Map<Ref, OutMonitor>();
  /** Monitors the peer's processes hold on ours: ref key -> our runtime watcher. */
  readonly inMonitors = new Map<string, { target: Pid; watchRef: Ref }>();
  /** Key: `${local.serial}:${remote.serial}`. */
  readonly links = new Map<string, RemoteLink>();

  constructor(
    readonly name: string,
    readonly creation: number,
  ) {}
}

const nodeUpChannel = channel('beamsock:cluster:nodeup');
const nodeDownChannel = channel('beamsock:cluster:nodedown');
const overflowChannel = channel('beamsock:cluster:overflow');
const gapChannel = channel('beamsock:cluster:gap');
const badFrameChannel = channel('beamsock:cluster:bad_frame');

const NAME_RE = /^[A-Za-z0-9_\-@.:]+$/;

let current: ClusterNode | null = null;

/** Escapes a name into one subject token (no `.`, `*`, `>` or spaces). */
function token(name: string): string {
  return name.replace(/[%.*> ]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
}

function positive(options: NodeOptions, key: keyof NodeOptions, fallback: number): number {
  const v = options[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new TypeError(`startNode option '${key}' must be a positive number, got ${String(v)}`);
  }
  return v;
}

/**
 * This process's node in a cluster, as `startNode` returns it. One per process.
 */
export class ClusterNode {
  /** This node's name. */
  readonly name: string;
  /** This node's incarnation: a random non-zero 32-bit number drawn at start. */
  readonly creation: number;
  /** The cluster name (subject prefix). */
  readonly cluster: string;
  readonly codec: Codec;
  private readonly transport: Transport;
  private readonly heartbeatMs: number;
  private readonly nodeDownAfterMs: number;
  private readonly outageMs: number;
  private readonly maxOutboxBytes: number;
  private readonly retransmitMs: number;
  private readonly maxFrameBytes: number;
  private readonly prefix: string;
  private readonly ctlSubject: string;
  private readonly peers = new Map<string, Peer>();
  private readonly counters: ClusterStats = {
    messagesOut: 0,
    messagesIn: 0,
    framesOut: 0,
    retransmitted: 0,
    duplicates: 0,
    gaps: 0,
    lost: 0,
    unreachable: 0,
    overflows: 0,
    badFrames: 0,
  };
  private readonly watchersAll = new Set<Pid>();
  private readonly watchersOne = new Map<string, Set<Pid>>();
  private readonly unsubscribes: Unsubscribe[] = [];
  private readonly stopStatus: () => void;
  private tick: ReturnType<typeof setInterval> | undefined;
  private ackTimer: ReturnType<typeof setTimeout> | undefined;
  private flushQueued = false;
  private brokerDownSince = 0;
  private stopped = false;
  private lastHelloReply = 0;
  private nameConflict: number | undefined;
  private onDrained: (() => void) | undefined;

  /** @internal use `startNode`. */
  constructor(options: NodeOptions, creation: number) {
    this.name = options.name;
    this.creation = creation;
    this.cluster = options.cluster ?? 'default';
    this.codec = options.codec ?? msgpackCodec;
    this.transport = options.transport;
    this.heartbeatMs = positive(options, 'heartbeatMs', 200);
    this.nodeDownAfterMs = positive(options, 'nodeDownAfterMs', 800);
    this.outageMs = positive(options, 'outageMs', 5000);
    this.maxOutboxBytes = positive(options, 'maxOutboxBytes', 16 * 1024 * 1024);
    this.retransmitMs = positive(options, 'retransmitMs', 600);
    // Room for the frame header within the broker's limit.
    this.maxFrameBytes = Math.max(1024, this.transport.maxPayload - 4096);
    this.prefix = `bs.${token(this.cluster)}`;
    this.ctlSubject = `${this.prefix}.ctl`;
    this.stopStatus = this.transport.onStatus((s) => (s === 'up' ? this.brokerUp() : this.brokerDown()));
  }

  /** @internal subscribes, announces itself and waits for the others' heartbeats. */
  async start(): Promise<void> {
    this.unsubscribes.push(await this.transport.subscribe(`${this.prefix}.n.${token(this.name)}`, (d) => this.onNodeFrame(d)));
    this.unsubscribes.push(await this.transport.subscribe(this.ctlSubject, (d) => this.onCtlFrame(d)));
    this.beat(true);
    this.tick = setInterval(() => this.onTick(), this.heartbeatMs);
    this.tick.unref();
    // Every live node answers a hello at once; two heartbeat periods let those answers arrive.
    await new Promise<void>((resolve) => setTimeout(resolve, 2 * this.heartbeatMs));
    if (this.nameConflict !== undefined) {
      const other = this.nameConflict;
      await this.stop();
      throw new Error(`startNode: the name '${this.name}' is already taken in cluster '${this.cluster}' by a live node (incarnation ${other}); pick another name`);
    }
  }

  /** Names of the other nodes that are up now, sorted. */
  nodes(): string[] {
    const up: string[] = [];
    for (const p of this.peers.values()) if (p.up) up.push(p.name);
    return up.sort();
  }

  /** A snapshot of this node's counters. */
  stats(): ClusterStats {
    return { ...this.counters };
  }

  /** Unacknowledged messages held for `node` now (0 for an unknown node). */
  outboxSize(node: string): number {
    const p = this.peers.get(node);
    if (p === undefined) return 0;
    let n = p.pending.length;
    for (const u of p.unacked) n += u.count;
    return n;
  }

  /**
   * Leaves the cluster: a goodbye (peers see `nodedown` with reason `'disconnect'` at
   * once), then the transport is closed. Afterwards nothing of the node keeps the
   * process alive. Messages still unacknowledged are counted as lost.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.flush();
    if (this.transport.isUp() && !this.drained()) {
      // What was sent before stop() should arrive: wait (bounded) for the acks.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2 * this.retransmitMs);
        this.onDrained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.onDrained = undefined;
    }
    this.stopped = true;
    if (this.tick !== undefined) clearInterval(this.tick);
    if (this.ackTimer !== undefined) clearTimeout(this.ackTimer);
    this.stopStatus();
    if (this.transport.isUp()) this.transport.publish(this.ctlSubject, this.frame([F_BYE, this.name, this.creation]));
    for (const p of this.peers.values()) if (p.up) this.peerDown(p, 'disconnect', false);
    await this.transport.flush();
    for (const u of this.unsubscribes.splice(0)) await u().catch(() => {});
    await this.transport.close();
    if (current === this) {
      current = null;
      setRemoteRouter(null);
      setServiceCarrier(null);
    }
  }

  // ---- sending ----

  /** @internal queues a message for a remote pid (the process core calls this). */
  sendTo(to: Pid, msg: unknown): void {
    const bytes = this.codec.encode(msg);
    this.counters.messagesOut++;
    const p = this.reachable(to.node, to.creation);
    if (p === undefined) {
      this.counters.unreachable++;
      return;
    }
    this.queue(p, [OP_SEND, to.serial, bytes], bytes.byteLength);
  }

  /** @internal queues a message for a name registered on `node`. */
  sendToName(name: string, node: string, msg: unknown): void {
    const bytes = this.codec.encode(msg);
    this.counters.messagesOut++;
    const p = this.reachable(node, 0);
    if (p === undefined) {
      this.counters.unreachable++;
      return;
    }
    this.queue(p, [OP_SEND_NAME, name, bytes], bytes.byteLength + name.length);
  }

  /** @internal an exit signal for a remote pid. */
  exitTo(to: Pid, from: Pid, reason: ExitReason): void {
    const bytes = this.encodeReason(reason);
    const p = this.reachable(to.node, to.creation);
    if (p === undefined) {
      this.counters.unreachable++;
      return;
    }
    this.queue(p, [OP_EXIT, to.serial, [from.node, from.serial, from.creation], bytes], bytes.byteLength + 32);
  }

  /**
   * @internal `monitor(remotePid)` from a local process: DOWN arrives with the remote
   * process's exit reason, `noproc` if it is not alive, `noconnection` if its node goes down.
   */
  monitorRemote(owner: Pid, target: Pid, ref: Ref): void {
    const p = this.reachable(target.node, target.creation);
    if (p === undefined) {
      const m: DownMessage = { type: 'DOWN', ref, pid: target, reason: 'noconnection' };
      send(owner, m);
      return;
    }
    p.outMonitors.set(ref, { owner, target });
    this.queue(p, [OP_MONITOR, target.serial, pidId(owner), refId(ref)], 64);
  }

  /** @internal runtime code watches a remote process (a call waiting for its reply): `fn` runs once when it ends or its node goes. */
  watchRemote(target: Pid, fn: (pid: Pid, reason: ExitReason) => void): Ref {
    const ref = makeRef();
    const p = this.reachable(target.node, target.creation);
    if (p === undefined) {
      queueMicrotask(() => fn(target, 'noconnection'));
      return ref;
    }
    p.outMonitors.set(ref, { owner: fn, target });
    this.queue(p, [OP_MONITOR, target.serial, pidId(target), refId(ref)], 64);
    return ref;
  }

  /** @internal answers a call made from another node. A reply the codec cannot carry rejects the call with the reason. */
  replyRemote(to: Pid, ref: Ref, ok: boolean, value: unknown): void {
    const p = this.reachable(to.node, to.creation);
    if (p === undefined) {
      this.counters.unreachable++;
      return;
    }
    let bytes: Uint8Array;
    let fine = ok;
    try {
      bytes = this.codec.encode(value);
    } catch (e) {
      fine = false;
      bytes = this.codec.encode(`the reply could not cross to ${to.node}: ${(e as Error).message}`);
    }
    this.queue(p, [OP_REPLY, refId(ref), fine ? 1 : 0, bytes], bytes.byteLength + 48);
  }

  /** @internal `demonitor(ref)` of a remote monitor; true if it was active. */
  demonitorRemote(ref: Ref): boolean {
    for (const p of this.peers.values()) {
      const m = p.outMonitors.get(ref);
      if (m === undefined) continue;
      p.outMonitors.delete(ref);
      if (p.up) this.queue(p, [OP_DEMONITOR, m.target.serial, refId(ref)], 48);
      return true;
    }
    return false;
  }

  /** @internal `link(remotePid)` from `local`: exit signals cross both ways; `noconnection` if the node goes down. */
  linkRemote(local: Pid, remote: Pid): void {
    const p = this.reachable(remote.node, remote.creation);
    if (p === undefined) {
      remoteExitSignal(local, remote, 'noconnection');
      return;
    }
    if (this.addLink(p, local, remote)) this.queue(p, [OP_LINK, remote.serial, pidId(local)], 48);
  }

  /** @internal `unlink(remotePid)` from `local`. */
  unlinkRemote(local: Pid, remote: Pid): void {
    const p = this.peers.get(remote.node);
    if (p === undefined) return;
    const key = `${local.serial}:${remote.serial}`;
    const l = p.links.get(key);
    if (l === undefined) return;
    p.links.delete(key);
    unwatch(local, l.watchRef);
    if (p.up) this.queue(p, [OP_UNLINK, remote.serial, pidId(local)], 48);
  }

  /** Links `local` (alive here) with `remote`; false if `local` is dead or already linked. */
  private addLink(p: Peer, local: Pid, remote: Pid): boolean {
    const key = `${local.serial}:${remote.serial}`;
    if (p.links.has(key)) return false;
    const watchRef = watch(local, (_pid, reason) => {
      if (p.links.get(key)?.watchRef !== watchRef) return;
      p.links.delete(key);
      if (p.up) this.queue(p, [OP_LINK_EXIT, remote.serial, pidId(local), this.encodeReason(reason)], 64);
    });
    if (watchRef === undefined) return false;
    p.links.set(key, { local, remote, watchRef });
    return true;
  }

  /**
   * @internal a PubSub broadcast for the PubSub named `pubsub` on every other node up
   * (or only on `only`), on the node streams: in order with everything else this node
   * sends there, and held through outages like it. Encoded once for all nodes.
   */
  broadcastToNodes(pubsub: string, topic: string, dispatcher: string | undefined, message: unknown, only?: string, interested?: (node: string) => boolean): void {
    const bytes = this.codec.encode(message);
    const size = bytes.byteLength + pubsub.length + topic.length;
    if (only !== undefined) {
      const p = this.reachable(only, 0);
      if (p === undefined) this.counters.unreachable++;
      else this.queue(p, [OP_PUBSUB, pubsub, topic, dispatcher ?? '', bytes], size);
      return;
    }
    for (const p of this.peers.values()) {
      if (p.up && (interested === undefined || interested(p.name))) this.queue(p, [OP_PUBSUB, pubsub, topic, dispatcher ?? '', bytes], size);
    }
  }

  // ---- replicated services (groups, global names, topic interest): see services.ts ----

  /** @internal queues a service message for `node`; false if it is not up. */
  sendService(node: string, service: string, msg: unknown): boolean {
    const p = this.reachable(node, 0);
    if (p === undefined) return false;
    const bytes = this.codec.encode(msg);
    this.queue(p, [OP_SERVICE, service, bytes], bytes.byteLength + service.length);
    return true;
  }

  /** @internal the remote processes linked to the local process `local`, for `processInfo().links`. */
  remoteLinksOf(local: Pid): Pid[] {
    const out: Pid[] = [];
    for (const p of this.peers.values()) for (const l of p.links.values()) if (l.local === local) out.push(l.remote);
    return out;
  }

  /** An exit reason for the wire; one the codec cannot carry crosses as its printed form, `{ error: '...' }`. */
  private encodeReason(reason: ExitReason): Uint8Array {
    try {
      return this.codec.encode(reason);
    } catch {
      return this.codec.encode({ error: formatReason(reason) });
    }
  }

  private reachable(node: string, creation: number): Peer | undefined {
    const p = this.peers.get(node);
    if (p === undefined || !p.up || this.stopped) return undefined;
    // A pid of another incarnation names a process that died with it.
    if (creation !== 0 && creation !== p.creation) return undefined;
    return p;
  }

  private queue(p: Peer, op: Op, size: number): void {
    if (size > this.maxFrameBytes) {
      throw new TypeError(`message is ${size} bytes encoded, over the ${this.maxFrameBytes} bytes one broker message carries (${this.transport.kind} max payload)`);
    }
    p.pending.push(op);
    p.pendingBytes += size + 8;
    if (p.unackedBytes + p.pendingBytes > this.maxOutboxBytes) {
      this.overflow(p);
      return;
    }
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(this.flushBound);
    }
  }

  private readonly flushBound = (): void => this.flush();

  /** Turns every peer's pending messages into frames: one broker message per peer per turn (split at the broker's limit). */
  private flush(): void {
    this.flushQueued = false;
    const now = Date.now();
    for (const p of this.peers.values()) {
      if (p.pending.length === 0) continue;
      let start = 0;
      let bytes = 0;
      for (let i = 0; i < p.pending.length; i++) {
        const size = opSize(p.pending[i] as Op);
        if (bytes + size > this.maxFrameBytes && i > start) {
          this.sendData(p, p.pending.slice(start, i), now);
          start = i;
          bytes = 0;
        }
        bytes += size;
      }
      this.sendData(p, start === 0 ? p.pending : p.pending.slice(start), now);
      p.pending = [];
      p.pendingBytes = 0;
    }
  }

  private sendData(p: Peer, ops: Op[], now: number): void {
    const seq = p.nextSeq++;
    const ackSeq = p.inSid === 0 ? 0 : p.expected - 1;
    const bytes = this.frame([F_DATA, this.name, this.creation, p.creation, p.outSid, seq, p.inSid, ackSeq, ops]);
    if (p.inSid !== 0) {
      p.ackDue = false;
      p.framesSinceAck = 0;
    }
    p.unacked.push({ seq, bytes, count: ops.length, firstSentAt: now, lastSentAt: now });
    p.unackedBytes += bytes.byteLength;
    this.counters.framesOut++;
    this.transport.publish(this.nodeSubject(p.name), bytes);
  }

  private retransmit(p: Peer, fromSeq: number, now: number): void {
    const subject = this.nodeSubject(p.name);
    for (const u of p.unacked) {
      if (u.seq < fromSeq) continue;
      u.lastSentAt = now;
      this.counters.retransmitted++;
      this.transport.publish(subject, u.bytes);
    }
  }

  private overflow(p: Peer): void {
    this.counters.overflows++;
    const held = this.outboxSize(p.name);
    overflowChannel.publish({ node: p.name, bytes: p.unackedBytes + p.pendingBytes, messages: held });
    report({
      kind: 'cluster',
      event: 'outbox_overflow',
      node: p.name,
      lost: held,
      detail: `over ${this.maxOutboxBytes} bytes unacknowledged; the node is declared down (noconnection)`,
    });
    this.peerDown(p, 'noconnection', false);
  }

  // ---- receiving ----

  private onNodeFrame(data: Uint8Array): void {
    const f = this.parse(data);
    if (f === undefined) return;
    const type = f[1];
    if (type === F_DATA || type === F_ACK || type === F_NACK || type === F_RESET) {
      const [, , from, fromCreation, toCreation] = f as [number, number, unknown, unknown, unknown];
      if (typeof from !== 'string' || typeof fromCreation !== 'number' || typeof toCreation !== 'number') return this.bad(data, 'malformed header');
      // For an earlier incarnation of this node: its processes are gone.
      if (toCreation !== this.creation) return;
      const p = this.peerFor(from, fromCreation);
      if (type === F_DATA) this.onData(p, f);
      else if (type === F_ACK) this.onAck(p, f[5], f[6]);
      else if (type === F_NACK) this.onNack(p, f[5], f[6]);
      else this.onReset(p, f[5], f[6]);
    } else {
      this.bad(data, `unknown frame type ${String(type)} on a node subject`);
    }
  }

  private onCtlFrame(data: Uint8Array): void {
    const f = this.parse(data);
    if (f === undefined) return;
    const [, type, from, creation, hello] = f as [number, number, unknown, unknown, unknown];
    if (typeof from !== 'string' || typeof creation !== 'number') return this.bad(data, 'malformed control frame');
    if (from === this.name) {
      if (creation !== this.creation) this.onNameConflict(creation);
      return;
    }
    if (type === F_BEAT) {
      const p = this.peerFor(from, creation);
      p.lastSeen = Date.now();
      if (hello === 1 && this.transport.isUp() && p.lastSeen - this.lastHelloReply > this.heartbeatMs / 4) {
        this.lastHelloReply = p.lastSeen;
        this.beat(false);
      }
    } else if (type === F_BYE) {
      const p = this.peers.get(from);
      if (p !== undefined && p.creation === creation) {
        if (p.up) this.peerDown(p, 'disconnect', true);
        this.peers.delete(from);
      }
    } else {
      this.bad(data, `unknown frame type ${String(type)} on the control subject`);
    }
  }

  private parse(data: Uint8Array): unknown[] | undefined {
    let f: unknown;
    try {
      f = framePackr.unpack(data);
    } catch (e) {
      this.bad(data, `not a beamsock frame (${(e as Error).message})`);
      return undefined;
    }
    if (!Array.isArray(f) || f[0] !== MAGIC) {
      this.bad(data, 'not a beamsock frame (no magic number)');
      return undefined;
    }
    return f;
  }

  private bad(data: Uint8Array, why: string): void {
    this.counters.badFrames++;
    badFrameChannel.publish({ bytes: data.byteLength, reason: why });
    report({ kind: 'cluster', event: 'bad_frame', node: undefined, lost: 0, detail: `dropped ${data.byteLength} bytes: ${why}` });
  }

  /** The peer record for a live (name, creation); a new creation means the old incarnation died. */
  private peerFor(name: string, creation: number): Peer {
    let p = this.peers.get(name);
    if (p !== undefined && p.creation !== creation) {
      if (p.up) this.peerDown(p, 'noconnection', true);
      p = undefined;
    }
    if (p === undefined) {
      p = new Peer(name, creation);
      this.peers.set(name, p);
    }
    if (!p.up && !this.stopped) this.peerUp(p);
    p.lastSeen = Date.now();
    return p;
  }

  private onData(p: Peer, f: unknown[]): void {
    const [, , , , , sid, seq, ackSid, ackSeq, ops] = f as [number, number, string, number, number, unknown, unknown, unknown, unknown, unknown];
    if (typeof sid !== 'number' || typeof seq !== 'number' || !Array.isArray(ops)) return this.bad(new Uint8Array(0), `malformed data frame from ${p.name}`);
    if (p.closedInSids.has(sid)) {
      // A stream this node closed when it declared the peer down: tell the peer.
      this.sendReset(p, sid, 0);
      return;
    }
    if (sid !== p.inSid) {
      if (p.inSid !== 0) {
        // The peer started a new stream: it saw the connection break. So do we.
        this.peerDown(p, 'noconnection', true);
        this.peerUp(p);
      }
      p.inSid = sid;
      p.expected = 1;
    }
    if (typeof ackSid === 'number' && typeof ackSeq === 'number') this.onAck(p, ackSid, ackSeq);
    if (seq < p.expected) {
      this.counters.duplicates++;
      this.ackSoon(p, true);
      return;
    }
    if (seq > p.expected) {
      this.counters.gaps++;
      gapChannel.publish({ node: p.name, expected: p.expected, got: seq });
      const now = Date.now();
      if (now - p.lastNackAt > this.retransmitMs / 2) {
        p.lastNackAt = now;
        this.transport.publish(this.nodeSubject(p.name), this.frame([F_NACK, this.name, this.creation, p.creation, sid, p.expected]));
      }
      return;
    }
    p.expected++;
    this.deliverOps(p, ops);
    this.ackSoon(p, ++p.framesSinceAck >= 32);
  }

  private deliverOps(p: Peer, ops: unknown[]): void {
    for (const op of ops) {
      if (!Array.isArray(op)) continue;
      try {
        this.deliverOp(p, op as Op);
      } catch (e) {
        this.counters.badFrames++;
        report({ kind: 'cluster', event: 'bad_message', node: p.name, lost: 1, detail: `a message could not be decoded with the ${this.codec.name} codec: ${(e as Error).message}` });
      }
    }
  }

  private deliverOp(p: Peer, op: Op): void {
    const local = (serial: number): Pid => Pid.from({ node: this.name, serial, creation: this.creation });
    switch (op[0]) {
      case OP_SEND: {
        const msg = this.codec.decode(op[2]);
        this.counters.messagesIn++;
        send(local(op[1]), msg);
        break;
      }
      case OP_SEND_NAME: {
        const msg = this.codec.decode(op[2]);
        this.counters.messagesIn++;
        // As Erlang's {Name, Node} ! Msg: dropped when nobody holds the name.
        send({ name: op[1], node: this.name }, msg);
        break;
      }
      case OP_EXIT:
        remoteExitSignal(local(op[1]), idPid(op[2]), this.codec.decode(op[3]) as ExitReason);
        break;
      case OP_MONITOR: {
        const target = local(op[1]);
        const ref = idRef(op[3]);
        const key = op[3].join(':');
        const watchRef = watch(target, (_pid, reason) => {
          if (p.inMonitors.get(key)?.watchRef !== watchRef) return;
          p.inMonitors.delete(key);
          if (p.up) this.queue(p, [OP_DOWN, refId(ref), this.encodeReason(reason)], 64);
        });
        if (watchRef === undefined) this.queue(p, [OP_DOWN, refId(ref), this.codec.encode('noproc')], 64);
        else p.inMonitors.set(key, { target, watchRef });
        break;
      }
      case OP_DEMONITOR: {
        const key = op[2].join(':');
        const m = p.inMonitors.get(key);
        if (m !== undefined) {
          p.inMonitors.delete(key);
          unwatch(m.target, m.watchRef);
        }
        break;
      }
      case OP_DOWN: {
        const ref = idRef(op[1]);
        const m = p.outMonitors.get(ref);
        if (m === undefined) break;
        p.outMonitors.delete(ref);
        this.fireDown(ref, m, this.codec.decode(op[2]) as ExitReason);
        break;
      }
      case OP_REPLY: {
        const value = this.codec.decode(op[3]);
        this.counters.messagesIn++;
        remoteReply(idRef(op[1]), op[2] === 1, value);
        break;
      }
      case OP_LINK: {
        const target = local(op[1]);
        const from = idPid(op[2]);
        // A link to a process that is gone answers at once, as on the BEAM.
        if (!this.addLink(p, target, from) && !p.links.has(`${target.serial}:${from.serial}`)) {
          this.queue(p, [OP_LINK_EXIT, from.serial, pidId(target), this.codec.encode('noproc')], 64);
        }
        break;
      }
      case OP_UNLINK: {
        const key = `${op[1]}:${op[2][1]}`;
        const l = p.links.get(key);
        if (l !== undefined) {
          p.links.delete(key);
          unwatch(l.local, l.watchRef);
        }
        break;
      }
      case OP_PUBSUB: {
        const msg = this.codec.decode(op[4]);
        this.counters.messagesIn++;
        PubSub.lookupByName(op[1])?.deliverRemote(op[2], msg, op[3] === '' ? undefined : op[3]);
        break;
      }
      case OP_SERVICE:
        serviceReceive(p.name, op[1], this.codec.decode(op[2]));
        break;
      case OP_LINK_EXIT: {
        const target = local(op[1]);
        const from = idPid(op[2]);
        const key = `${target.serial}:${from.serial}`;
        const l = p.links.get(key);
        if (l === undefined) break;
        p.links.delete(key);
        unwatch(target, l.watchRef);
        remoteExitSignal(target, from, this.codec.decode(op[3]) as ExitReason);
        break;
      }
    }
  }

  private ackSoon(p: Peer, now: boolean): void {
    p.ackDue = true;
    if (now) {
      this.sendAck(p);
      return;
    }
    if (this.ackTimer === undefined) {
      // Short: it only waits for outgoing data to carry the ack instead.
      this.ackTimer = setTimeout(() => {
        this.ackTimer = undefined;
        for (const q of this.peers.values()) if (q.ackDue) this.sendAck(q);
      }, 5);
      this.ackTimer.unref();
    }
  }

  private sendAck(p: Peer): void {
    p.ackDue = false;
    p.framesSinceAck = 0;
    this.transport.publish(this.nodeSubject(p.name), this.frame([F_ACK, this.name, this.creation, p.creation, p.inSid, p.expected - 1]));
  }

  private onAck(p: Peer, sid: unknown, seq: unknown): void {
    if (sid !== p.outSid || typeof seq !== 'number') return;
    let n = 0;
    while (n < p.unacked.length && (p.unacked[n] as Unacked).seq <= seq) {
      p.unackedBytes -= (p.unacked[n] as Unacked).bytes.byteLength;
      n++;
    }
    if (n > 0) p.unacked.splice(0, n);
    if (this.onDrained !== undefined && this.drained()) this.onDrained();
  }

  private drained(): boolean {
    for (const p of this.peers.values()) if (p.up && p.unacked.length > 0) return false;
    return true;
  }

  private onNack(p: Peer, sid: unknown, expected: unknown): void {
    if (sid !== p.outSid || typeof expected !== 'number') return;
    this.onAck(p, sid, expected - 1);
    this.retransmit(p, expected, Date.now());
  }

  /** `theirOut`: the peer closed its stream to us with that sid; `ourOut`: it refused ours. */
  private onReset(p: Peer, theirOut: unknown, ourOut: unknown): void {
    if ((theirOut !== 0 && theirOut === p.inSid) || (ourOut !== 0 && ourOut === p.outSid)) {
      this.peerDown(p, 'noconnection', true);
      this.peerUp(p);
    }
  }

  private sendReset(p: Peer, ourClosedIn: number, ourClosedOut: number): void {
    this.transport.publish(this.nodeSubject(p.name), this.frame([F_RESET, this.name, this.creation, p.creation, ourClosedOut, ourClosedIn]));
  }

  // ---- liveness ----

  private peerUp(p: Peer): void {
    p.up = true;
    p.lastSeen = Date.now();
    p.outSid = randomInt(1, 0x7fffffff);
    p.nextSeq = 1;
    p.inSid = 0;
    p.expected = 1;
    nodeUpChannel.publish({ node: p.name });
    // First on the fresh stream: the replicated services' snapshots.
    servicesNodeUp(p.name);
    this.notify({ type: 'nodeup', node: p.name }, p.name, false);
  }

  private peerDown(p: Peer, reason: 'noconnection' | 'disconnect', tellPeer: boolean): void {
    if (!p.up) return;
    p.up = false;
    const lost = this.outboxSize(p.name);
    if (tellPeer && reason === 'noconnection') this.sendReset(p, p.inSid, p.outSid);
    if (p.inSid !== 0) {
      p.closedInSids.add(p.inSid);
      if (p.closedInSids.size > 8) p.closedInSids.delete(p.closedInSids.values().next().value as number);
    }
    p.unacked = [];
    p.unackedBytes = 0;
    p.pending = [];
    p.pendingBytes = 0;
    p.inSid = 0;
    p.ackDue = false;
    this.counters.lost += lost;
    if (lost > 0 && reason === 'noconnection') {
      report({ kind: 'cluster', event: 'nodedown', node: p.name, lost, detail: `node down (${reason}) with messages unacknowledged` });
    }
    nodeDownChannel.publish({ node: p.name, reason, lost });
    servicesNodeDown(p.name);
    this.notify({ type: 'nodedown', node: p.name, reason }, p.name, true);
    this.breakRemoteTies(p);
  }

  private fireDown(ref: Ref, m: OutMonitor, reason: ExitReason): void {
    if (typeof m.owner === 'function') {
      m.owner(m.target, reason);
      return;
    }
    const down: DownMessage = { type: 'DOWN', ref, pid: m.target, reason };
    send(m.owner, down);
  }

  /** The node is gone: its monitors fire DOWN and its links EXIT, both `noconnection`; ours on it are dropped. */
  private breakRemoteTies(p: Peer): void {
    const monitors = [...p.outMonitors];
    p.outMonitors.clear();
    for (const [ref, m] of monitors) this.fireDown(ref, m, 'noconnection');
    for (const m of p.inMonitors.values()) unwatch(m.target, m.watchRef);
    p.inMonitors.clear();
    const links = [...p.links.values()];
    p.links.clear();
    for (const l of links) {
      unwatch(l.local, l.watchRef);
      remoteExitSignal(l.local, l.remote, 'noconnection');
    }
  }

  private beat(hello: boolean): void {
    this.transport.publish(this.ctlSubject, this.frame([F_BEAT, this.name, this.creation, hello ? 1 : 0]));
  }

  private onTick(): void {
    const now = Date.now();
    if (!this.transport.isUp()) {
      if (this.brokerDownSince !== 0 && now - this.brokerDownSince > this.outageMs) {
        for (const p of this.peers.values()) if (p.up) this.peerDown(p, 'noconnection', false);
      }
      return;
    }
    this.beat(false);
    for (const p of this.peers.values()) {
      if (!p.up) continue;
      if (now - p.lastSeen > this.nodeDownAfterMs) {
        this.peerDown(p, 'noconnection', false);
        continue;
      }
      const oldest = p.unacked[0];
      if (oldest === undefined) continue;
      if (now - oldest.firstSentAt > this.outageMs) this.peerDown(p, 'noconnection', true);
      else if (now - oldest.lastSentAt > this.retransmitMs) this.retransmit(p, 0, now);
    }
  }

  private brokerDown(): void {
    if (this.brokerDownSince === 0) this.brokerDownSince = Date.now();
  }

  private brokerUp(): void {
    const now = Date.now();
    this.brokerDownSince = 0;
    if (this.stopped) return;
    this.beat(true);
    for (const p of this.peers.values()) {
      if (!p.up) continue;
      // Their silence was ours: give them a full period to be heard again.
      p.lastSeen = now;
      this.retransmit(p, 0, now);
    }
  }

  private onNameConflict(creation: number): void {
    this.nameConflict = creation;
    report({
      kind: 'cluster',
      event: 'name_conflict',
      node: this.name,
      lost: 0,
      detail: `another live node (incarnation ${creation}) uses this node's name; node names must be unique in a cluster`,
    });
  }

  // ---- node monitors ----

  /** @internal */
  watch(pid: Pid, node: string | undefined, on: boolean): void {
    if (node === undefined) {
      if (on) this.watchersAll.add(pid);
      else this.watchersAll.delete(pid);
      return;
    }
    let set = this.watchersOne.get(node);
    if (!on) {
      set?.delete(pid);
      return;
    }
    if (!this.peers.get(node)?.up) {
      const m: NodeDownMessage = { type: 'nodedown', node, reason: 'noconnection' };
      send(pid, m);
      return;
    }
    if (set === undefined) this.watchersOne.set(node, (set = new Set()));
    set.add(pid);
  }

  private notify(msg: NodeUpMessage | NodeDownMessage, node: string, down: boolean): void {
    for (const pid of this.watchersAll) {
      if (isAlive(pid)) send(pid, msg);
      else this.watchersAll.delete(pid);
    }
    if (!down) return;
    const once = this.watchersOne.get(node);
    if (once === undefined) return;
    this.watchersOne.delete(node);
    for (const pid of once) send(pid, msg);
  }

  private nodeSubject(node: string): string {
    return `${this.prefix}.n.${token(node)}`;
  }

  private frame(fields: unknown[]): Uint8Array {
    return framePackr.pack([MAGIC, ...fields]);
  }
}

function opSize(op: Op): number {
  const last = op[op.length - 1];
  return (last instanceof Uint8Array ? last.byteLength : 0) + 48;
}

/**
 * Makes this process a node of a cluster: names it (unique in the cluster; the call
 * fails if a live node already has the name), draws its incarnation, starts the
 * heartbeats and waits until the nodes already up are known (`nodes()`). Call it
 * before the first `spawn`, because pids carry the node's name and incarnation.
 * Afterwards `send(pid, msg)` reaches pids of other nodes.
 *
 * @example
 * import { connectNats, startNode } from 'beamsock/cluster';
 * const node = await startNode({ name: 'chat-1', transport: await connectNats() });
 * node.nodes(); // ['chat-2']
 */
export async function startNode(options: NodeOptions): Promise<ClusterNode> {
  if (typeof options !== 'object' || options === null) throw new TypeError('startNode expects an options object { name, transport }');
  if (typeof options.name !== 'string' || !NAME_RE.test(options.name)) {
    throw new TypeError(`startNode option 'name' must be letters, digits and _-@.: only, got ${JSON.stringify(options.name)}`);
  }
  if (options.cluster !== undefined && (typeof options.cluster !== 'string' || !NAME_RE.test(options.cluster))) {
    throw new TypeError(`startNode option 'cluster' must be letters, digits and _-@.: only, got ${JSON.stringify(options.cluster)}`);
  }
  const t = options.transport as Partial<Transport> | undefined;
  if (t === undefined || typeof t.publish !== 'function' || typeof t.subscribe !== 'function') {
    throw new TypeError(`startNode option 'transport' must be a Transport (connectNats() or connectRedis())`);
  }
  if (current !== null) throw new Error(`startNode: this process is already node '${current.name}'; one node per process`);
  const creation = randomInt(1, 0xffffffff);
  setNodeIdentity(options.name, creation);
  const n = new ClusterNode(options, creation);
  current = n;
  setRemoteRouter({
    send: (to, msg) => (to instanceof Pid ? n.sendTo(to, msg) : n.sendToName(to.name, to.node, msg)),
    exit: (to, from, reason) => n.exitTo(to, from, reason),
    monitor: (owner, target, ref) => n.monitorRemote(owner, target, ref),
    demonitor: (ref) => n.demonitorRemote(ref),
    link: (local, remote) => n.linkRemote(local, remote),
    unlink: (local, remote) => n.unlinkRemote(local, remote),
    watch: (target, fn) => n.watchRemote(target, fn),
    unwatch: (ref) => void n.demonitorRemote(ref),
    reply: (to, ref, ok, value) => n.replyRemote(to, ref, ok, value),
    nodes: () => n.nodes(),
    links: (local) => n.remoteLinksOf(local),
    whereis: (name, node) => whereisOn(node, name),
  });
  setServiceCarrier({ send: (to, service, msg) => n.sendService(to, service, msg), nodes: () => n.nodes() });
  try {
    await n.start();
  } catch (e) {
    if (current === n) {
      current = null;
      setRemoteRouter(null);
      setServiceCarrier(null);
    }
    throw e;
  }
  return n;
}

/**
 * The name of this node (`nodeName()`): `'nonode@nohost'` outside a cluster.
 *
 * @example
 * node(); // 'chat-1'
 */
export function node(): string {
  return nodeName();
}

/**
 * The other nodes that are up, sorted (empty outside a cluster).
 *
 * @example
 * nodes(); // ['chat-2', 'chat-3']
 */
export function nodes(): string[] {
  return current === null ? [] : current.nodes();
}

/** This process's cluster node, or null before `startNode` (and after `stop`). */
export function currentNode(): ClusterNode | null {
  return current;
}

/**
 * Erlang's `monitor_node(node, true)`: the calling process gets one
 * `{ type: 'nodedown', node, reason }` when `node` goes down, or at once if it is not
 * up now. `monitorNode(node, false)` cancels.
 *
 * @example
 * monitorNode('chat-2'); // later: { type: 'nodedown', node: 'chat-2', reason: 'noconnection' }
 */
export function monitorNode(target: string, on = true, pid: Pid = self()): void {
  if (current === null) {
    if (on) {
      const m: NodeDownMessage = { type: 'nodedown', node: target, reason: 'noconnection' };
      send(pid, m);
    }
    return;
  }
  current.watch(pid, target, on);
}

/**
 * Erlang's `net_kernel:monitor_nodes(true)`: the calling process gets
 * `{ type: 'nodeup', node }` and `{ type: 'nodedown', node, reason }` for every node
 * from now on, until `monitorNodes(false)` or its exit.
 *
 * @example
 * monitorNodes(); // later: { type: 'nodeup', node: 'chat-3' }
 */
export function monitorNodes(on = true, pid: Pid = self()): void {
  if (current === null) throw new Error('monitorNodes: this process is not a cluster node (call startNode first)');
  current.watch(pid, undefined, on);
}
