/**
 * The WebSock behaviour, its results, connection commands, upgrade validation
 * and connection options. Knows no server: adapters live in `beamsock/ws`,
 * `beamsock/bun`, `beamsock/deno`. What only adapters need (admission, option
 * resolution, the accept key, refusal rendering) stays inside the package.
 */
export * from './behaviour.js';
export { setActive, setDeflate, setConnectionOptions, setShutdownReason } from './commands.js';
export { fastlane, outbound, Outbound } from './fastlane.js';
export { validateUpgrade, validateUpgradeOrThrow, UpgradeError, WEBSOCKET_VERSION, type UpgradeRequest, type UpgradeRefusal, type UpgradeValidation } from './upgrade-validation.js';
export { checkOrigin, type CheckOriginOption, type OriginCheck, type OriginRefusal } from './origin.js';
export { DEFAULT_OPTIONS, type ConnectionOptions, type ResolvedOptions, type DeflateOptions, type ResolvedDeflateOptions, type DeflateStrategy, type SubprotocolsOption } from './options.js';
export { CloseCode, isValidSendCode, validateCloseDetail, MAX_CLOSE_REASON_BYTES, type CloseCodeValue } from './close-codes.js';
export type { ListenOptions, RunningServer, ServeListenOptions } from './listen-options.js';
export type { FetchMount, FetchMountContext, MountUpgrade } from './mount.js';
export type { Authorize, Authorization } from './admission.js';
export { negotiateDeflate, type DeflateAgreement } from './permessage-deflate.js';
export type { MessageTrace } from './telemetry.js';
