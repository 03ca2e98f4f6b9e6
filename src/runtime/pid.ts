/**
 * Process identifiers and references.
 *
 * A `Pid` names one process for its whole life and after it: it is printable
 * (`#PID<0.42>` for a local process, `#PID<name.42>` for one on another node),
 * comparable, serializable with its node name, and usable as a `Map` key because
 * the runtime hands out exactly one `Pid` object per process (see `Pid.from`).
 */

let localNode = 'nonode@nohost';
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
  localNode = name;
}

/** The JSON shape of a `Pid`, as `JSON.stringify(pid)` writes it. */
export interface PidJSON {
  readonly node: string;
  readonly serial: number;
}

// Interned pids that no live local process holds: remote pids and dead local ones.
// Weak, so a pid nothing else holds can be collected; its emptied entry is swept
// once the table has doubled (cheaper per exit than a FinalizationRegistry).
const interned = new Map<string, WeakRef<Pid>>();
let sweepAt = 1024;

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
  /** @internal the live process; undefined once it has exited or when remote. */
  _proc: unknown;

  /** @internal use `spawn` or `Pid.from`. */
  constructor(node: string, serial: number, proc: unknown) {
    this.node = node;
    this.serial = serial;
    this._proc = proc;
  }

  /** @internal a fresh local pid; freezes the node name. */
  static _local(serial: number, proc: unknown): Pid {
    nodeNameFrozen = true;
    return new Pid(localNode, serial, proc);
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
    if (typeof node !== 'string' || !Number.isSafeInteger(serial) || serial < 0) {
      throw new TypeError(`not a pid: ${JSON.stringify(json)}`);
    }
    if (node === localNode) {
      const live = liveLookup(serial);
      if (live !== undefined) return live;
    }
    const key = `${node}\u0000${serial}`;
    const existing = interned.get(key)?.deref();
    if (existing !== undefined) return existing;
    const pid = new Pid(node, serial, undefined);
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
    return a.serial - b.serial;
  }

  /** True for a process on this node. */
  get isLocal(): boolean {
    return this.node === localNode;
  }

  /** Same node and serial. Pids are interned, so `===` agrees with this. */
  equals(other: unknown): boolean {
    return other instanceof Pid && other.node === this.node && other.serial === this.serial;
  }

  /** `#PID<0.42>` for a local process, `#PID<node.42>` for a remote one. */
  toString(): string {
    return `#PID<${this.node === localNode ? '0' : this.node}.${this.serial}>`;
  }

  toJSON(): PidJSON {
    return { node: this.node, serial: this.serial };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

/** @internal keeps a pid findable by `Pid.from` once no live process holds it. */
export function intern(pid: Pid): void {
  const key = `${pid.node}\u0000${pid.serial}`;
  interned.set(key, new WeakRef(pid));
  if (interned.size >= sweepAt) {
    for (const [k, ref] of interned) if (ref.deref() === undefined) interned.delete(k);
    sweepAt = Math.max(1024, interned.size * 2);
  }
}

let refCounter = 0;

/**
 * A unique reference, as returned by `monitor` and `sendAfter`: printable as
 * `#Ref<0.17>`, compared by identity.
 */
export class Ref {
  readonly node: string;
  readonly id: number;
  /** @internal use `makeRef`. */
  constructor(node: string, id: number) {
    this.node = node;
    this.id = id;
  }
  toString(): string {
    return `#Ref<${this.node === localNode ? '0' : this.node}.${this.id}>`;
  }
  toJSON(): { node: string; ref: number } {
    return { node: this.node, ref: this.id };
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

/**
 * A new unique reference, like Erlang's `make_ref/0`.
 *
 * @example
 * const ref = makeRef();
 * send(server, { ref, from: self() });
 */
export function makeRef(): Ref {
  return new Ref(localNode, ++refCounter);
}
