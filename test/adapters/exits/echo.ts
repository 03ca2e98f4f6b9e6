/** The handler every exit fixture serves: echoes text, with an idle timer running. */
import { ok, push, type WebSock } from '../../../src/websock/behaviour.js';

export const Echo: WebSock<null> = {
  init: () => ok(null),
  handleIn: ([data], state) => push(['text', String(data)], state),
  handleInfo: (_msg, state) => ok(state),
};
