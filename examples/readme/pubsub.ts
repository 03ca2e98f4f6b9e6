// examples/readme/pubsub.ts
import { PubSub, spawn, self, idle } from 'beamsock';

const news = new PubSub();
for (const name of ['ada', 'bob']) {
  spawn((msg: unknown) => console.log(`${name} got ${JSON.stringify(msg)}`), { init: () => news.subscribe('sports') });
}
await idle();
news.broadcast('sports', { type: 'goal', minute: 42 }); // both get it
spawn(() => undefined, {
  init: () => news.broadcastFrom(self(), 'sports', 'everyone but me'),
});
