// examples/readme/registry.ts
import { Registry, spawn, send, idle } from 'beamsock';

const rooms = new Registry<string, string>({ keys: 'duplicate', name: 'rooms' });
for (const name of ['ada', 'bob']) {
  spawn((msg: string) => console.log(`${name} got ${msg}`), { init: () => void rooms.register('lobby', name) });
}
await idle();
console.log(rooms.lookup('lobby').map(([, name]) => name)); // [ 'ada', 'bob' ]
rooms.dispatch('lobby', (entries) => {
  for (const [pid] of entries) send(pid, 'hi'); // ada got hi, bob got hi
});
