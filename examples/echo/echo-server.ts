/**
 * EchoServer from websock_adapter's README, translated: "ping" gets "pong", other
 * text comes back as "Echo: ...", binary comes back as is, and any message sent to
 * the connection's pid is pushed as "Info: ...".
 */
import { ok, reply, push, type WebSock } from 'beamsock';

export interface EchoState {
  readonly messages: readonly string[];
  readonly opts: unknown;
}

export const EchoServer: WebSock<EchoState> = {
  name: 'EchoServer',
  init: (args) => ok({ messages: [], opts: args }),
  handleIn([data], state) {
    if (typeof data !== 'string') return reply('ok', ['binary', data], state);
    if (data === 'ping') return reply('ok', ['text', 'pong'], state);
    return reply('ok', ['text', `Echo: ${data}`], { ...state, messages: [data, ...state.messages] });
  },
  handleInfo: (message, state) => push(['text', `Info: ${JSON.stringify(message)}`], state),
  terminate: () => undefined,
};

/** Echoes every text and binary message back unchanged (what WebSocket test clients such as Autobahn expect). */
export const Echo: WebSock<null> = {
  name: 'Echo',
  init: () => ok(null),
  handleIn: ([data, { opcode }], state) => push([opcode, data], state),
  handleInfo: (_message, state) => ok(state),
};
