// examples/readme/handler.ts
import { ok, push, stop, type WebSock } from 'beamsock';
import { startHandler } from 'beamsock/testing';

/** Greets, counts messages, and says goodbye on "bye". */
const Greeter: WebSock<{ name: string; seen: number }, { name: string }, 'ding'> = {
  init: ({ name }) => push(['text', `hello ${name}`], { name, seen: 0 }),
  handleIn([data], state) {
    if (data === 'bye') return stop('normal', { code: 1000, reason: 'see you' }, ['text', `${state.seen} messages`], state);
    return ok({ ...state, seen: state.seen + 1 });
  },
  handleInfo: (msg, state) => push(['text', msg], state),
  terminate: (reason, state) => console.log(`${state.name}'s connection ended: ${String(reason)}`),
};

const conn = startHandler(Greeter, { name: 'ada' });
await conn.assertPush(['text', 'hello ada']);
conn.pushText('one');
conn.send('ding');
await conn.assertPush(['text', 'ding']);
conn.pushText('bye');
await conn.assertPush(['text', '1 messages']);
await conn.assertClosed({ code: 1000, reason: 'see you' });
// ada's connection ended: normal
