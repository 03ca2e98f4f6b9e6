/**
 * ChatServer from the WebSock documentation, translated, with rooms: each
 * connection joins its room in a Registry, a chat message is answered to its
 * sender (as in the original) and dispatched to everyone else in the room, who
 * pushes it from `handleInfo({ type: 'broadcast', message })`. Joining and leaving
 * are announced to the room the same way.
 */
import { Registry, self, ok, push, reply, send, type CloseReason, type WebSock } from 'beamsock';

/** Room name → the connections in it (value: the username). */
export const Rooms = new Registry<string, string>({ keys: 'duplicate', name: 'ChatRooms' });

export interface ChatArgs {
  readonly room: string;
  readonly username: string;
}

export interface ChatState {
  readonly room: string;
  readonly username: string;
  readonly messages: readonly string[];
}

/** What other processes may send a chat connection. */
export type ChatInfo = { readonly type: 'broadcast'; readonly message: unknown } | 'heartbeat' | { readonly type: string };

/**
 * How a chat connection reaches its room: `join` puts the calling process in it,
 * `toRoom` sends everyone in it but the caller `{ type: 'broadcast', message }`.
 */
export interface ChatRooms {
  join(room: string, username: string): void;
  toRoom(room: string, message: unknown): void;
}

/** The rooms of one process: a Registry. */
export const localRooms: ChatRooms = {
  join: (room, username) => Rooms.register(room, username),
  toRoom(room, message) {
    const me = self();
    Rooms.dispatch(room, (entries) => {
      for (const [pid] of entries) if (pid !== me) send(pid, { type: 'broadcast', message });
    });
  },
};

/** The chat handler over the given rooms (the cluster example passes rooms that span nodes). */
export function chatServer(rooms: ChatRooms): WebSock<ChatState, ChatArgs, ChatInfo> {
  const { toRoom } = rooms;
  return {
    name: 'ChatServer',
    init(args) {
      rooms.join(args.room, args.username);
      toRoom(args.room, { type: 'join', from: args.username });
      return ok({ room: args.room, username: args.username, messages: [] });
    },

    handleIn([data], state) {
      if (typeof data !== 'string') return ok(state);
      let decoded: { type?: unknown; content?: unknown };
      try {
        decoded = JSON.parse(data) as typeof decoded;
      } catch {
        return ok(state); // Ignore invalid JSON
      }
      if (decoded.type === 'chat' && typeof decoded.content === 'string') {
        const response = { type: 'chat', from: state.username, content: decoded.content };
        toRoom(state.room, response);
        return reply('ok', ['text', JSON.stringify(response)], state);
      }
      if (decoded.type === 'ping') return reply('ok', ['text', JSON.stringify({ type: 'pong' })], state);
      return ok(state);
    },

    // Pong is sent automatically; nothing else to do.
    handleControl: (_frame, state) => ok(state),

    handleInfo(message, state) {
      if (message === 'heartbeat') return push(['text', JSON.stringify({ type: 'heartbeat' })], state);
      if (typeof message === 'object' && message.type === 'broadcast' && 'message' in message) {
        return push(['text', JSON.stringify(message.message)], state);
      }
      return ok(state);
    },

    terminate(reason: CloseReason, state) {
      toRoom(state.room, { type: 'leave', from: state.username });
      if (reason === 'normal') console.log(`User ${state.username} disconnected normally`);
      else if (reason === 'remote') console.log(`User ${state.username} closed connection`);
      else if (typeof reason === 'object') console.log(`User ${state.username} disconnected with error: ${String(reason.error)}`);
    },
  };
}

export const ChatServer = chatServer(localRooms);
