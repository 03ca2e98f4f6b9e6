/**
 * The WebSock behaviour, its results, connection commands, upgrade validation
 * and connection options. Knows no server: adapters live in `beamsock/ws`, `beamsock/bun`.
 */
export * from './behaviour.js';
export { setActive, setDeflate, setConnectionOptions, setShutdownReason } from './commands.js';
export { fastlane, outbound, Outbound } from './fastlane.js';
export { validateUpgrade, validateUpgradeOrThrow, UpgradeError, acceptKey, fromFetchRequest, renderRefusal, WEBSOCKET_GUID, WEBSOCKET_VERSION, type UpgradeRequest, type UpgradeRefusal, type UpgradeValidation } from './upgrade-validation.js';
export { checkOrigin, validateCheckOrigin, type CheckOriginOption, type OriginCheck, type OriginRefusal } from './origin.js';
export { normalizeOptions, selectSubprotocol, DEFAULT_OPTIONS, type ConnectionOptions, type ResolvedOptions, type DeflateOptions, type ResolvedDeflateOptions, type DeflateStrategy, type SubprotocolsOption } from './options.js';
export { CloseCode, isValidSendCode, validateCloseDetail, closeReplyCode, MAX_CLOSE_REASON_BYTES, type CloseCodeValue } from './close-codes.js';
export { listenOptions, type ListenOptions, type RunningServer, type ServeListenOptions } from './listen-options.js';
export type { FetchMount, FetchMountContext, MountUpgrade } from './mount.js';
export { admit, type Admission } from './admission.js';
