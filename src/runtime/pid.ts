/**
 * Process identifiers and references.
 *
 * A `Pid` names one process for its whole life and after it: it is printable
 * (`#PID<0.42>` for a local process, `#PID<name.42>` for one on another node),
 * comparable, serializable with its node name, and usable as a `Map` key because
 * the runtime hands out exactly one `Pid` object per process (see `Pid.from`).
 */

let localNode = 'nonode@nohost';
// This node's incarnation: 0 outside a cluster, a random non-zero 32-bit number per
// cluster start, so that pids of a dead incarnation never reach its successor.
let localCreation = 0;
let nodeNameFrozen = false;

/**
 * The name of this node, carried by every `Pid` and `Ref` it creates.
 *
 * @example
 * nodeName(); // 'nonode@nohost'
 */
export function nodeName(): string {
  return localNode;
}

/**
 * Names this node before its first process is spawned (a cluster transport does it).
 * Throws once a `Pid` exists, because live pids would otherwise change identity.
 *
 * @example
 * setNodeName('chat-1@10.0.0.5');
 */
export function setNodeName(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || /[\s<>]/.test(name)) {
    throw new TypeError(`node name must be a non-empty string without spaces or angle brackets, got ${JSON.stringify(name)}`);
  }
  if (nodeNameFrozen && name !== localNode) {
    throw new Error(`setNodeName(${JSON.stringify(name)}) must be called before the first process is spawned (this node is already ${localNode})`);
  }
  if (name !== localNode) identityChanging();
  localNode = name;
}

/**
 * This node's incarnation (Erlang's *creation*): 0 until a cluster node starts,
 * then a random non-zero 32-bit number drawn by `startNode`.
 *
 * @example
 * nodeCreation(); // 0 outside a cluster
 */
export function nodeCreation(): number {
  return localCreation;
}

/**
 * @internal names this node and its incarnation at once (the cluster does it, before
 * the first spawn); the same freezing rule as `setNodeName`.
 */
export function setNodeIdentity(name: string, creation: number): void {
  if (!Number.isInteger(creation) || creation < 0 || creation > 0xffffffff) {
    throw new TypeError(`node creation must be a 32-bit unsigned integer, got ${String(creation)}`);
  }
  if (nodeNameFrozen && creation !== localCreation) {
    throw new Error(`the node identity must be set before the first process is spawned (this node is already ${localNode})`);
  }
  setNodeName(name);
  if (creation !== localCreation) identityChanging();
  localCreation = creation;
}

/**
 * The JSON shape of a `Pid`, as `JSON.stringify(pid)` writes it. `creation` is the
 * incarnation of its node, present once the node is part of a cluster.
 */
export interface PidJSON {
  readonly node: string;
  readonly serial: number;
  readonly creation?: number;
}

// Weak, so a value nothing else holds can be collected; emptied entries are swept
// once the table has doubled (cheaper per exit than a FinalizationRegistry).
class WeakTable<K, T extends object> {
  private readonly map = new Map<K, WeakRef<T>>();
  private sweepAt = 1024;

  get(key: K): T | undefined {
    return this.map.get(key)?.deref();
  }

  private readonly sweepOne = (ref: WeakRef<T>, key: K): void => {
    if (ref.deref() === undefined) this.map.delete(key);
  };

  set(key: K, value: T): void {
    this.map.set(key, new WeakRef(value));
    if (this.map.size >= this.sweepAt) {
      // forEach, not for-of: an entry array per entry was most of what interning a pid allocated.
      this.map.forEach(this.sweepOne);
      this.sweepAt = Math.max(1024, this.map.size * 2);
    }
  }

  /** Empties the table, handing each value still alive to `to`. */
  drain(to: (value: T) => void): void {
    for (const ref of this.map.values()) {
      const v = ref.deref();
      if (v !== undefined) to(v);
    }
    this.map.clear();
  }
}

// Interned pids that no live local process holds. This node's own (its name and
// incarnation) are keyed by serial alone: one is added at every process exit, and a
// number key costs half what the string key of the others does.
const interned = new WeakTable<string, Pid>();
const ownInterned = new WeakTable<number, Pid>();

/** The own table's pids stop being this node's when its identity changes (allowed before the first spawn). */
function identityChanging(): void {
  ownInterned.drain((pid) => interned.set(keyOf(pid.node, pid.serial, pid.creation), pid));
}

function keyOf(node: string, serial: number, creation: number): string {
  return `${node}\u0000${serial}\u0000${creation}`;
}

// Set by process.ts: finds the Pid of a live local process by serial.
let liveLookup: (serial: number) => Pid | undefined = () => undefined;
/** @internal */
export function setLiveLookup(fn: (serial: number) => Pid | undefined): void {
  liveLookup = fn;
}

/** An opaque process identifier. Create pids with `spawn`; rebuild them with `Pid.from`. */
export class Pid {
  /** The node the process runs on. */
  readonly node: string;
  /** The process's serial number, unique on its node. */
  readonly serial: number;
  /**
   * The incarnation of its node (0 outside a cluster, or for a pid rebuilt without
   * one, which then stands for whatever incarnation of that node is alive).
   */
  readonly creation: number;
  /** @internal the live process; undefined once it has exited or when remote. */
  _proc: unknown;

  /** @internal use `spawn` or `Pid.from`. */
  constructor(node: string, serial: number, proc: unknown, creation: number = node === localNode ? localCreation : 0) {
    this.node = node;
    this.serial = serial;
    this.creation = creation;
    this._proc = proc;
  }

  /** @internal a fresh local pid; freezes the node name. */
  static _local(serial: number, proc: unknown): Pid {
    nodeNameFrozen = true;
    return new Pid(localNode, serial, proc, localCreation);
  }

  /**
   * The one `Pid` object for a node and serial, so that a pid received from the
   * cluster or parsed from JSON is `===` to the one already held.
   *
   * @example
   * const copy = Pid.from(JSON.parse(JSON.stringify(pid)));
   * copy === pid; // true
   */
  static from(json: PidJSON): Pid {
    const { node, serial } = json;
    const creation = json.creation ?? (node === localNode ? localCreation : 0);
    if (typeof node !== 'string' || !Number.isSafeInteger(serial) || serial < 0 || !Number.isInteger(creation) || creation < 0 || creation > 0xffffffff) {
      throw new TypeError(`not a pid: ${JSON.stringify(json)}`);
    }
    if (node === localNode && creation === localCreation) {
      const own = liveLookup(serial) ?? ownInterned.get(serial);
      if (own !== undefined) return own;
    }
    // A pid made for a node name before this node took it is in the string table.
    const existing = interned.get(keyOf(node, serial, creation));
    if (existing !== undefined) return existing;
    const pid = new Pid(node, serial, undefined, creation);
    intern(pid);
    return pid;
  }

  /**
   * Parses the printed form, `#PID<0.42>` (local) or `#PID<node.42>`.
   *
   * @example
   * Pid.parse(String(pid)) === pid; // true
   */
  static parse(text: string): Pid {
    const m = /^#PID<(.+)\.(\d+)>$/.exec(text);
    if (m === null) throw new TypeError(`not a printed pid: ${JSON.stringify(text)}`);
    const node = m[1] === '0' ? localNode : (m[1] as string);
    return Pid.from({ node, serial: Number(m[2]) });
  }

  /** Orders pids by node name, then serial, as the BEAM orders them. */
  static compare(a: Pid, b: Pid): number {
    if (a.node !== b.node) return a.node < b.node ? -1 : 1;
    return a.serial - b.serial || a.creation - b.creation;
  }

  /** True for a process on this node. */
  get isLocal(): boolean {
    return this.node === localNode;
  }

  /** Same node, serial and creation. Pids are interned, so `===` agrees with this. */
  equals(other: unknown): boolean {
    return other instanceof Pid && other.node === this.node && other.serial === this.serial && other.creation === this.creation;
  }

  /** `#PID<0.42>` for a local process, `#PID<node.42>` for a remote one. */
  toString(): string {
    return `#PID<${this.node === localNode ? '0' : this.node}.${this.serial}>`;
  }

  toJSON(): PidJSON {
    return this.creation === 0 ? { node: this.node, serial: this.serial } : { node: this.node, serial: this.serial, creation: this.creation };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

/** @internal keeps a pid findable by `Pid.from` once no live process holds it. */
export function intern(pid: Pid): void {
  if (pid.node === localNode && pid.creation === localCreation) ownInterned.set(pid.serial, pid);
  else interned.set(keyOf(pid.node, pid.serial, pid.creation), pid);
}

let refCounter = 0;

/** The JSON shape of a `Ref`, as `JSON.stringify(ref)` writes it. */
export interface RefJSON {
  readonly node: string;
  readonly ref: number;
  readonly creation?: number;
}

// Refs that crossed the wire (sent away or received), so that a ref coming back is
// the very object its owner holds. Weak, swept like the pid table.
const internedRefs = new WeakTable<string, Ref>();

/**
 * A unique reference, as returned by `monitor` and `sendAfter`: printable as
 * `#Ref<0.17>`, compared by identity.
 */
export class Ref {
  readonly node: string;
  readonly id: number;
  /** The incarnation of its node, as on `Pid`. */
  readonly creation: number;
  /** @internal use `makeRef` or `Ref.from`. */
  constructor(node: string, id: number, creation: number = node === localNode ? localCreation : 0) {
    this.node = node;
    this.id = id;
    this.creation = creation;
  }

  /**
   * The one `Ref` object for a node, id and creation: a ref that went to another
   * node (or through JSON) and came back is `===` to the original, as long as the
   * original crossed through the cluster codec or `Ref.from` before.
   *
   * @example
   * const ref = makeRef();
   * Ref.from(JSON.parse(JSON.stringify(Ref.from(ref.toJSON())))) === Ref.from(ref.toJSON()); // true
   */
  static from(json: RefJSON): Ref {
    const { node, ref: id } = json;
    const creation = json.creation ?? (node === localNode ? localCreation : 0);
    if (typeof node !== 'string' || !Number.isSafeInteger(id) || id < 0 || !Number.isInteger(creation) || creation < 0 || creation > 0xffffffff) {
      throw new TypeError(`not a ref: ${JSON.stringify(json)}`);
    }
    const key = `${node}\u0000${id}\u0000${creation}`;
    const existing = internedRefs.get(key);
    if (existing !== undefined) return existing;
    const ref = new Ref(node, id, creation);
    internRef(ref);
    return ref;
  }

  toString(): string {
    return `#Ref<${this.node === localNode ? '0' : this.node}.${this.id}>`;
  }
  toJSON(): RefJSON {
    return this.creation === 0 ? { node: this.node, ref: this.id } : { node: this.node, ref: this.id, creation: this.creation };
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

/** @internal keeps a ref findable by `Ref.from` (the codec calls it for refs it sends). */
export function internRef(ref: Ref): void {
  const key = `${ref.node}\u0000${ref.id}\u0000${ref.creation}`;
  if (internedRefs.get(key) !== ref) internedRefs.set(key, ref);
}

/**
 * A new unique reference, like Erlang's `make_ref/0`.
 *
 * @example
 * const ref = makeRef();
 * send(server, { ref, from: self() });
 */
export function makeRef(): Ref {
  return new Ref(localNode, ++refCounter, localCreation);
}
