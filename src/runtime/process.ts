/**
 * Processes with BEAM semantics, in one import: spawn, send, exit signals, links,
 * monitors, names, timers, policies and introspection. Each lives in a room of its
 * own (process-core.ts, links.ts, monitors.ts, names.ts, timers.ts, heap.ts,
 * policies.ts, introspection.ts); this module only gathers them. Nothing inside
 * the runtime imports it, so it closes no import circle.
 */
export {
  ExitSignal,
  enqueue,
  exitSignal,
  handleThrow,
  kill,
  offExit,
  onExit,
  procOf,
  remoteExitSignal,
  requireSelf,
  rootPid,
  self,
  send,
  setRemoteRouter,
  spawn,
  spawnOwned,
  type RemoteRouter,
  type RemoteName,
  type SpawnOptions,
} from './process-core.js';
export { exit, link, spawnLink, trapExit, unlink } from './links.js';
export { demonitor, monitor, spawnMonitor, unwatch, watch } from './monitors.js';
export { register, registered, unregister, whereis, type GlobalName } from './names.js';
export { cancelTimer, pendingTimerCount, readTimer, sendAfter } from './timers.js';
export { QUEUED_MESSAGE_BYTES, heapSize, recheckHeap, type MaxHeapSize } from './heap.js';
export { flag, hibernate, setHeld, setOnHibernate, type ProcessFlags } from './policies.js';
export { isAlive, processCount, processInfo, processes, setDescribe, type ProcessInfo } from './introspection.js';
export { Proc } from './proc.js';
