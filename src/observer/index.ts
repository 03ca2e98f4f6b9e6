/**
 * `beamsock/observer`: a live view of the running node, served over beamsock
 * itself. Off unless mounted:
 *
 * ```ts
 * import { mountObserver } from 'beamsock/observer';
 * const observer = mountObserver({ auth: { token: process.env.OBSERVER_TOKEN! } });
 * observer.attach(server.httpServer); // http://host:port/observer?token=...
 * ```
 *
 * Read-only (no exit signals) by default when `NODE_ENV` is `production`.
 */
export { mountObserver, type Observer, type ObserverOptions } from './mount.js';
export { authorize, type ObserverAuth, type AuthVerdict } from './auth.js';
export { ObserverSocket, type ObserverArgs, type ObserverState } from './socket.js';
export { Sampler, MAX_PAGE_SIZE, type SamplerOptions, type SampleSummary, type HistoryPoint } from './sampler.js';
export { observerPage } from './page.js';
export { RuntimeStats, type RuntimeSample, type MemorySample, type DelaySample, type GcSample } from './runtime-stats.js';
export { ReportLog, REPORTS_PER_MESSAGE, TEXT_LIMIT, type ReportRow, type ReportsSince } from './reports.js';
export { sampleTables, TABLES_SHOWN, KEYS_SHOWN, MEMBERS_SHOWN, type TableView, type TablesSummary, type KeyRow } from './registries.js';
export {
  DEFAULT_QUERY,
  parseQuery,
  parseRequest,
  type PageQuery,
  type PageResult,
  type SortKey,
  type ProcessRow,
  type ProcessDetails,
  type GoneDetails,
  type ChildRow,
  type TreeNode,
  type TreeGroup,
  type ObserverRequest,
  type ObserverMessage,
} from './protocol.js';
