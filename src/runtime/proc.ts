/**
 * The internal record of one process. Not exported from the package: code outside
 * the runtime holds a `Pid`, never a `Proc`.
 *
 * Kept small on purpose (the idle-process heap target is 400 bytes): everything a
 * process may never use (links, monitors, timers, exit hooks) stays `null` until used.
 */
import type { Pid, Ref } from './pid.js';
import type { ExitReason } from './reasons.js';

/** In the run queue, or running its slice right now. */
export const SCHEDULED = 1;
/** Waiting for the promise its last callback returned; its mailbox waits too. */
export const BUSY = 2;
/** Exit signals become EXIT messages. */
export const TRAP_EXIT = 4;
/** Exited; nothing is delivered any more. */
export const DEAD = 8;
/** Released its buffers until the next message. */
export const HIBERNATED = 16;
/** Over its maxHeapSize and already reported once. */
export const HEAP_OVER = 32;
/** Its `init` is the first thing in its mailbox; that marker is not a message. */
export const STARTING = 64;
/** Dead, and running its exit hooks (a connection's terminate): it may still send. */
export const EXITING = 128;

/** Messages in one block of a long mailbox (see `ProcExtras.mqMore`). */
export const MAILBOX_BLOCK = 4096;

/** What a process runs for each message. */
export type Receive = (msg: never) => unknown;

/** Called when a monitored process ends, for monitors owned by runtime code rather than a process. */
export type Watcher = (pid: Pid, reason: ExitReason) => void;

/** Runs while a process is being torn down, before links and monitors are told. */
export type ExitHook = (reason: ExitReason) => void;

/**
 * An object that runs a process and hears of its life, instead of closures: a
 * connection is one, so that each costs no per-process functions.
 */
export interface ProcOwner {
  /** Handles one message, as a `receive` function does. */
  receive(msg: unknown): unknown;
  /** After each slice of messages, and after an async callback settles (connections flush writes). */
  sliceEnd(): void;
  /** While the process is torn down, before its exit hooks, links and monitors; it may still send. */
  exited(reason: ExitReason): void;
  /** `hibernate()` was called. */
  hibernated(): void;
  /** Kind-specific details for processInfo. */
  describe(): Record<string, unknown>;
  /** Runs first, as the process's `init` (see `spawnOwned`). */
  start?(): unknown;
  /** The process's parent, when the owner keeps it (instead of the process's extras): for processInfo. */
  parent?(): Pid | undefined;
  /** The process's `fullsweepAfter`, when the owner keeps it (instead of the process's extras). */
  fullsweepAfter?(): number | undefined;
}

/** Rarely used per-process settings, allocated only when one is set. */
export interface ProcExtras {
  name: string | undefined;
  heapKill: boolean;
  heapLog: boolean;
  fullsweepAfter: number | undefined;
  onHibernate: (() => void) | null;
  /** Kind-specific details for processInfo and the observer. */
  describe: (() => Record<string, unknown>) | null;
  parent: Pid | undefined;
  /** Monitors this process made with a registered name: their DOWN message carries it. */
  monitorNames: Map<Ref, string> | null;
  /**
   * A mailbox backlog longer than `MAILBOX_BLOCK` continues here, after `Proc.mq`, in
   * blocks of that many messages, oldest first; only the last block may be short, and
   * it takes new messages. One ever-growing array would be copied each time V8 grows
   * it, and a long one lives in V8's large-object space, where each growth maps fresh
   * memory: blocks are never copied, and the scheduler drops each once it is handled.
   * Kept here rather than on `Proc` because few processes ever queue that much.
   */
  mqMore: unknown[][] | null;
}

export class Proc {
  readonly pid: Pid;
  receive: Receive;
  /**
   * Mailbox: messages from `mqHead` on are pending, then those of a long backlog's
   * further blocks (`extras.mqMore`). `null` when empty.
   */
  mq: unknown[] | null = null;
  mqHead = 0;
  flags = 0;
  /** Bytes held outside the mailbox (a connection: outbound bytes not yet written). */
  held = 0;
  /** `maxHeapSize` in bytes; 0 is off. */
  maxHeap = 0;
  msgIn = 0;
  msgOut = 0;
  lastMessage: unknown = undefined;
  kind: string;
  /** One linked process, or a set of them: most processes link to just their supervisor. */
  links: Proc | Set<Proc> | null = null;
  /** Monitors this process owns: ref to target. */
  monitors: Map<Ref, Proc> | null = null;
  /** Monitors on this process: ref to the owning process or a runtime watcher. */
  monitoredBy: Map<Ref, Proc | Watcher> | null = null;
  timers: Set<Ref> | null = null;
  exitHooks: ExitHook[] | null = null;
  owner: ProcOwner | null = null;
  extras: ProcExtras | null = null;

  constructor(pid: Pid, receive: Receive, kind: string) {
    this.pid = pid;
    this.receive = receive;
    this.kind = kind;
  }

  get queueLength(): number {
    if (this.mq === null) return 0;
    let n = this.mq.length - this.mqHead - ((this.flags & STARTING) === 0 ? 0 : 1);
    const more = this.extras?.mqMore;
    // Every block but the last is full: enqueue opens a new block only then.
    if (more !== undefined && more !== null) n += (more.length - 1) * MAILBOX_BLOCK + (more[more.length - 1] as unknown[]).length;
    return n;
  }

  /** Adds `other` to this process's links (one direction; a link is both). */
  linkTo(other: Proc): void {
    const l = this.links;
    if (l === null) this.links = other;
    else if (l instanceof Proc) {
      if (l !== other) this.links = new Set([l, other]);
    } else l.add(other);
  }

  /** Removes `other` from this process's links (one direction). */
  unlinkFrom(other: Proc): void {
    const l = this.links;
    if (l === other) this.links = null;
    else if (l instanceof Set) l.delete(other);
  }

  /** The linked processes, as a fresh array. */
  linked(): Proc[] {
    const l = this.links;
    return l === null ? [] : l instanceof Proc ? [l] : [...l];
  }

  /**
   * Its parent: set by `spawnLink`, or kept by its owner (a connection's supervisor),
   * so that a connection needs no extras for it.
   */
  parentPid(): Pid | undefined {
    return this.extras?.parent ?? this.owner?.parent?.();
  }

  /** Its `fullsweepAfter`: set on it, or its owner's (a connection's option, one number for a server's connections). */
  fullsweepAfter(): number | undefined {
    return this.extras?.fullsweepAfter ?? this.owner?.fullsweepAfter?.();
  }

  ext(): ProcExtras {
    return (this.extras ??= {
      name: undefined,
      heapKill: true,
      heapLog: true,
      fullsweepAfter: undefined,
      onHibernate: null,
      describe: null,
      parent: undefined,
      monitorNames: null,
      mqMore: null,
    });
  }
}
