/**
 * `beamsock/ws`: hosts WebSock handlers on Node's HTTP server through `ws`.
 */
export { upgrade, attach, type Attachment, type AttachOptions, type UpgradeOptions } from './upgrade.js';
export { serve, type ServeOptions, type BeamsockServer, type ServeMount } from './server.js';
