/**
 * beamsock's cluster: several Node (or Bun) processes behaving as one system through a
 * broker (NATS or Redis). See the README's Cluster section for what is guaranteed and
 * what is lost when.
 */
export {
  startNode,
  node,
  nodes,
  monitorNode,
  monitorNodes,
  currentNode,
  ClusterNode,
  type NodeOptions,
  type ClusterStats,
  type NodeDownMessage,
  type NodeUpMessage,
} from './node.js';
export { clusterAdapter } from './pubsub.js';
export { runOnCores, type CoresOptions, type CoreInfo, type CoreWorker, type CoresPrimary, type CoresWorker, type StopWorker } from './cores.js';
export { msgpackCodec, jsonCodec, assertTransferable, MAX_MESSAGE_DEPTH, type Codec } from './codec.js';
export type { Transport, TransportStatus, Unsubscribe } from './transport.js';
export { connectNats, type NatsTransportOptions } from './nats.js';
export { connectRedis, type RedisTransportOptions } from './redis.js';
