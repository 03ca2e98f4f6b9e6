/**
 * beamsock's actor runtime: BEAM-style processes, mailboxes, links, monitors,
 * timers, GenServer, Registry, PubSub and supervisors. It knows nothing of sockets.
 */
export { Pid, Ref, makeRef, nodeName, setNodeName, type PidJSON } from './pid.js';
export {
  type ExitReason,
  type ExitMessage,
  type DownMessage,
  type ShutdownReason,
  type ErrorReason,
  isExit,
  isDown,
  isShutdownReason,
  isErrorReason,
  isQuietReason,
  formatReason,
} from './reasons.js';
export {
  spawn,
  spawnLink,
  spawnMonitor,
  self,
  send,
  exit,
  link,
  unlink,
  monitor,
  demonitor,
  trapExit,
  flag,
  hibernate,
  isAlive,
  register,
  unregister,
  whereis,
  registered,
  processes,
  processCount,
  processInfo,
  sendAfter,
  cancelTimer,
  readTimer,
  rootPid,
  QUEUED_MESSAGE_BYTES,
  type SpawnOptions,
  type MaxHeapSize,
  type ProcessInfo,
  type ProcessFlags,
} from './process.js';
export { idle, SLICE, BUDGET_MS } from './scheduler.js';
export {
  setLogger,
  consoleLogger,
  formatReport,
  type Logger,
  type Report,
  type CrashReport,
  type HeapReport,
  type SupervisorReport,
} from './logger.js';
export {
  Registry,
  type RegistryKeys,
  type RegistryEntry,
  type RegistryOptions,
  type RegisterResult,
  type RegistryEvent,
  type UpdatedValue,
} from './registry.js';
export {
  PubSub,
  defaultDispatcher,
  type Dispatcher,
  type PubSubAdapter,
  type PubSubOptions,
} from './pubsub.js';
