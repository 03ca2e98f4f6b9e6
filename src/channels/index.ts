/**
 * Phoenix Channels on beamsock: sockets that speak the Phoenix wire protocol to
 * the official `phoenix` JavaScript client, channels as processes, broadcasts
 * through PubSub and the fastlane, and Presence across a cluster.
 * Long-polling is not offered: WebSocket only.
 */
export { createSocket, drainSocket, type PhoenixSocket, type SocketOptions, type ConnectInfo, type ConnectResult, type SocketArgs, type SocketState } from './socket.js';
export {
  ChannelSocket,
  joinOk,
  joinError,
  reply,
  noreply,
  stopChannel,
  type Channel,
  type JoinResult,
  type JoinOk,
  type JoinError,
  type InResult,
  type InfoResult,
  type ReplyResult,
  type NoReplyResult,
  type StopResult,
} from './channel.js';
export { Endpoint, isBroadcast, type Broadcast, type EndpointOptions } from './endpoint.js';
export { serializerFor, type SerializerVersion } from './serializer.js';
export { Presence, type PresenceOptions, type PresenceState, type PresenceDiff, type PresenceMeta } from './presence.js';
