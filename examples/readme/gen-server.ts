// examples/readme/gen-server.ts
import { GenServer, type GenServerImpl, type From } from 'beamsock';

const Counter = {
  name: 'Counter',
  init: (start: number) => ({ ok: start }),
  handleCall: (_req: 'get', _from: From, n: number) => ({ reply: n, state: n }),
  handleCast: (by: number, n: number) => ({ noreply: true, state: n + by }),
} satisfies GenServerImpl<number, 'get', number, number, unknown, number>;

const pid = await GenServer.start(Counter, 0, { name: 'counter' });
GenServer.cast(pid, 5);
console.log(await GenServer.call('counter', 'get')); // 5
await GenServer.stop(pid);
await GenServer.call(pid, 'get').catch((err: Error) => console.log(err.message)); // call to #PID<0.1> failed: noproc ...
