/**
 * Replicated cluster state (process groups, global names, PubSub topic interest) rides
 * the node-to-node streams through this small seam, so that it is ordered with every
 * other message one node sends another and held through broker outages like them.
 *
 * Each service is the only authority for its own node's part of the state: when a peer
 * comes up (a fresh stream) the service sends it a full snapshot as the first thing on
 * that stream, then deltas; when the peer goes down (the stream broke) everything it
 * had announced is dropped. A stream restarts only through a down and an up, so a
 * snapshot plus the deltas after it always rebuild exactly what the peer holds.
 *
 * The node registers nothing here; services register themselves when their module
 * loads, and the node calls them. Neither imports the other.
 */

/** A replicated service, called by the node. */
export interface ClusterService {
  /** `node` came up on a fresh stream: send it a snapshot of this node's part. */
  nodeUp(node: string): void;
  /** `node` went down (or this node stopped): drop what it had announced. */
  nodeDown(node: string): void;
  /** A message of this service from `node`, in stream order. */
  receive(node: string, msg: unknown): void;
}

/** What the node lends the services to reach their peers. */
export interface ServiceCarrier {
  /** Queues `msg` for the service `service` on `node`; false if the node is not up. Throws what the codec throws. */
  send(node: string, service: string, msg: unknown): boolean;
  /** The other nodes up now. */
  nodes(): string[];
}

const services = new Map<string, ClusterService>();
let carrier: ServiceCarrier | null = null;

/** @internal a service module registers itself once, at load. */
export function registerService(name: string, service: ClusterService): void {
  services.set(name, service);
}

/** @internal the node connects (or, stopping, disconnects) the carrier. */
export function setServiceCarrier(c: ServiceCarrier | null): void {
  carrier = c;
}

/** @internal queues `msg` for `service` on `node`; false if there is no cluster or the node is not up. */
export function serviceSend(node: string, service: string, msg: unknown): boolean {
  return carrier !== null && carrier.send(node, service, msg);
}

/** @internal queues `msg` for `service` on every other node up. */
export function serviceBroadcast(service: string, msg: unknown): void {
  if (carrier === null) return;
  for (const n of carrier.nodes()) carrier.send(n, service, msg);
}

/** @internal the other nodes up now (none outside a cluster). */
export function serviceNodes(): string[] {
  return carrier === null ? [] : carrier.nodes();
}

/** @internal the node calls this when a peer comes up on a fresh stream. */
export function servicesNodeUp(node: string): void {
  for (const s of services.values()) s.nodeUp(node);
}

/** @internal the node calls this when a peer goes down. */
export function servicesNodeDown(node: string): void {
  for (const s of services.values()) s.nodeDown(node);
}

/** @internal a service message arrived; one for a service this process does not run is dropped. */
export function serviceReceive(node: string, service: string, msg: unknown): void {
  services.get(service)?.receive(node, msg);
}
