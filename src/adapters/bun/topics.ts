/**
 * Bun's own pub/sub as the fastlane's fan-out: a PubSub broadcast to many
 * connections of one Bun server leaves in one `server.publish`, and uWebSockets
 * writes the frame to every subscribed socket natively.
 *
 * The native subscriptions follow the PubSub ones lazily, checked at each
 * broadcast: a socket is subscribed to a topic's native twin when it first joins
 * a broadcast of it (`join`), and every native subscriber that did not join this
 * one — its process left the topic, ended, is busy, has frames waiting, is the
 * sender of `broadcastFrom` — is unsubscribed before the publish. So a publish
 * reaches exactly the sockets whose connections could have been written to at
 * once. Order holds for each of them from then on because uWebSockets writes
 * what was published to a socket before anything sent to it afterwards
 * (`send`, `cork`, `close` drain the socket's share of the topic tree first), and
 * `unsubscribe` delivers what was published while subscribed.
 *
 * Compression and backpressure stay per connection: a publish carries one
 * compression flag, so a compressed socket whose choice (`setDeflate`, the
 * `threshold`) differs from the first one's takes the per-connection way, and so
 * does a socket that could pass its backpressure limit with this frame (Bun
 * writes a publish when its event loop turns, after beamsock would have weighed
 * the socket's buffer).
 */
import type { Cast, CastPublisher } from '../../websock/transport.js';
import type { BunUpgrader } from './native.js';

/** A Bun server as far as publishing goes. */
interface BunPublisher {
  publish(topic: string, data: string | Uint8Array, compress?: boolean): number;
}

/**
 * What `BunTopics` keeps for one socket that has joined a broadcast: made at its
 * first, so a socket that never joins one costs one null field.
 *
 * @example
 * transport.topicState ??= new MemberState(transport.bufferedAmount());
 */
export class MemberState {
  /** The native topics the socket is subscribed to. */
  readonly topics: NativeTopic[] = [];
  /** The epoch of the last cast it joined: a socket joins each cast once. */
  lastCast = 0;
  /**
   * The socket's buffered amount when beamsock last read it, and the bytes Bun
   * may have queued for it since without beamsock reading it again (what was
   * published to it, Bun's own pongs): together, the most it can hold now.
   */
  weighed: number;
  unweighed = 0;
  constructor(buffered: number) {
    this.weighed = buffered;
  }
}

/**
 * What `BunTopics` needs of a socket's transport (`BunTransport` is one).
 *
 * @example
 * topics.join(transport, cast, deflate, highWaterMark);
 */
export interface TopicMember {
  /** What its topics keep for it; null until it first joins a broadcast. */
  topicState: MemberState | null;
  readonly compressed: boolean;
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  bufferedAmount(): number;
  /** Whether a frame of `bytes` bytes goes out compressed when the connection asks for compression. */
  compressesAt(bytes: number): boolean;
}

/**
 * One PubSub topic's twin in a Bun server's topics: the sockets subscribed to it there.
 *
 * @example
 * const topic = new NativeTopic('beamsock/1/room:42');
 */
export class NativeTopic {
  readonly members = new Set<TopicMember>();
  constructor(readonly name: string) {}
}

/** Frame header and deflate's worst growth over the payload, for the backpressure check. */
const FRAME_SLACK = 64;
const EMPTY = new Uint8Array(0);
const utf8 = new TextDecoder();
const NO_TOPIC = new NativeTopic('');
const byServer = new WeakMap<object, BunTopics>();

/**
 * The native topics of one Bun server, shared by every beamsock handler on it:
 * gathers the sockets that join a cast, then publishes it once.
 *
 * @example
 * const topics = BunTopics.of(server); // null when the server cannot publish
 */
export class BunTopics implements CastPublisher {
  private readonly topics = new Map<string, NativeTopic>();
  /** The cast being gathered, its topic, its payload, and how many sockets joined it. */
  private cast: Cast | null = null;
  private topic = NO_TOPIC;
  private data: string | Uint8Array = EMPTY;
  private bytes = 0;
  private joined = 0;
  /** The compression the publish goes with: chosen by the first compressed socket to join; null until then. */
  private compress: boolean | null = null;

  private constructor(private readonly server: BunPublisher) {}

  /** The topics of `server`, or null if it has no `publish` (not a Bun server). */
  static of(server: BunUpgrader): BunTopics | null {
    const publisher = server as Partial<BunPublisher>;
    if (typeof publisher.publish !== 'function') return null;
    let topics = byServer.get(server);
    if (topics === undefined) {
      topics = new BunTopics(publisher as BunPublisher);
      byServer.set(server, topics);
    }
    return topics;
  }

  /**
   * Joins `member` to `cast` if it can take it the native way: true once it is
   * subscribed to the cast's topic and counted in. `compress` is the
   * connection's per-frame choice; `room` the unwritten bytes it may hold.
   */
  join(member: TopicMember, cast: Cast, compress: boolean, room: number): boolean {
    if (this.cast !== cast) this.begin(cast);
    const state = (member.topicState ??= new MemberState(member.bufferedAmount()));
    // A second subscription of the same process: one publish reaches a socket once, so this copy goes the other way.
    if (state.lastCast === cast.epoch) return false;
    if (member.compressed) {
      const wanted = compress && member.compressesAt(this.bytes);
      if (this.compress === null) this.compress = wanted;
      else if (this.compress !== wanted) return false;
    }
    // Bun writes the publish later, unweighed: only a frame that cannot take the socket past its limit goes this way.
    if (room !== Infinity && state.weighed + state.unweighed + this.bytes + FRAME_SLACK > room) return false;
    const topic = this.topic;
    if (!state.topics.includes(topic)) {
      member.subscribe(topic.name);
      state.topics.push(topic);
      topic.members.add(member);
    }
    state.lastCast = cast.epoch;
    state.unweighed += this.bytes + FRAME_SLACK;
    this.joined++;
    return true;
  }

  /** Publishes the cast to the sockets that joined it, after unsubscribing every other. */
  publish(cast: Cast): void {
    const topic = this.topic;
    const joined = this.joined;
    const data = this.data;
    const compress = this.compress === true;
    this.cast = null;
    this.topic = NO_TOPIC;
    this.data = EMPTY;
    this.joined = 0;
    this.compress = null;
    // Every member that joined is marked with this epoch: more members means some must not hear it.
    if (topic.members.size > joined) {
      for (const member of topic.members) {
        if ((member.topicState as MemberState).lastCast !== cast.epoch) this.drop(member, topic);
      }
    }
    if (joined > 0) this.server.publish(topic.name, data, compress);
    else if (topic.members.size === 0) this.topics.delete(topic.name);
  }

  /** The socket closes: its native subscriptions go (Bun drops them too), so no topic keeps it. */
  leave(member: TopicMember): void {
    const state = member.topicState;
    if (state === null) return;
    for (const topic of state.topics) {
      topic.members.delete(member);
      if (topic.members.size === 0) this.topics.delete(topic.name);
    }
    state.topics.length = 0;
  }

  private begin(cast: Cast): void {
    this.cast = cast;
    cast.publishers.push(this);
    let topic = this.topics.get(cast.topic);
    if (topic === undefined) {
      topic = new NativeTopic(cast.topic);
      this.topics.set(cast.topic, topic);
    }
    this.topic = topic;
    const [opcode, payload] = cast.item.frame;
    // Bun publishes a string as a text frame and bytes as a binary one.
    if (opcode === 'text') {
      const text = payload === null ? '' : typeof payload === 'string' ? payload : utf8.decode(payload);
      this.data = text;
      this.bytes = Buffer.byteLength(text);
    } else {
      const bytes = payload === null ? EMPTY : typeof payload === 'string' ? Buffer.from(payload) : payload;
      this.data = bytes;
      this.bytes = bytes.byteLength;
    }
  }

  private drop(member: TopicMember, topic: NativeTopic): void {
    member.unsubscribe(topic.name);
    topic.members.delete(member);
    const topics = (member.topicState as MemberState).topics;
    topics.splice(topics.indexOf(topic), 1);
    if (topic.members.size === 0) this.topics.delete(topic.name);
  }
}
