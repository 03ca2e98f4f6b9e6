/**
 * The handler both beamsock bench servers run: echo every message; started with
 * the argument `pubsub`, every connection also subscribes to one topic in `init`,
 * and `broadcast` sends to them all: `fastlane` (the default) through PubSub with
 * the fastlane dispatcher, `fastlane-per-socket` the same without the topic (so
 * the fastlane writes every socket itself, never through Bun's publish), `pubsub`
 * through PubSub's default dispatcher (each
 * connection's `handleInfo` pushes the text), `send` a `send` to each pid (the same
 * `handleInfo`). `arm` sets every connection's idle timeout from its `handleInfo`.
 */
import { PubSub } from '../../src/runtime/pubsub.js';
import { send } from '../../src/runtime/process.js';
import type { Pid } from '../../src/runtime/pid.js';
import { idle } from '../../src/runtime/scheduler.js';
import { ok, push, type WebSock } from '../../src/websock/behaviour.js';
import { setConnectionOptions } from '../../src/websock/commands.js';
import { fastlane, outbound } from '../../src/websock/fastlane.js';

const TOPIC = 'bench';
const subscribe = process.argv.includes('pubsub');
const pubsub = new PubSub();

/** What `arm` sends each connection. */
interface Arm {
  readonly armIdle: number;
}

export const Echo: WebSock<null> = {
  init() {
    if (subscribe) pubsub.subscribe(TOPIC);
    return ok(null);
  },
  handleIn: ([data, { opcode }], state) => push([opcode, data], state),
  handleInfo: (msg, state) => {
    if (typeof msg === 'string') return push(['text', msg], state);
    if (typeof msg === 'object' && msg !== null && 'armIdle' in msg) setConnectionOptions({ timeout: (msg as Arm).armIdle });
    return ok(state);
  },
};

/** Subscribers when started with `pubsub`, else `connections`. */
export function memberCount(connections: number): number {
  return subscribe ? pubsub.subscriberCount(TOPIC) : connections;
}

/** One broadcast the way `mode` names, resolved once the scheduler has written it everywhere. */
export async function broadcast(message: string, mode: string | undefined, connections: () => Pid[]): Promise<void> {
  switch (mode ?? 'fastlane') {
    case 'fastlane':
      pubsub.broadcast(TOPIC, outbound(['text', message]), fastlane);
      break;
    case 'fastlane-per-socket':
      // Without the topic the fastlane cannot hand the frame to the server's own fan-out (Bun's publish): it writes each socket.
      pubsub.broadcast(TOPIC, outbound(['text', message]), (entries, from, msg) => fastlane(entries, from, msg));
      break;
    case 'pubsub':
      pubsub.broadcast(TOPIC, message);
      break;
    case 'send':
      for (const pid of connections()) send(pid, message);
      break;
    default:
      throw new Error(`beamsock broadcasts 'fastlane', 'fastlane-per-socket', 'pubsub' or 'send'; got '${String(mode)}'`);
  }
  await idle();
}

/** Every connection idles out after `ms` without inbound data, all from now. */
export function arm(ms: number, connections: () => Pid[]): void {
  const msg: Arm = { armIdle: ms };
  for (const pid of connections()) send(pid, msg);
}
