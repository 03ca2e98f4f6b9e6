// examples/readme/supervisor.ts
import { Supervisor, GenServer, exit, whereis, idle, setLogger, type GenServerImpl } from 'beamsock';

setLogger(() => undefined); // the supervisor's restart reports are expected here
const Worker = {
  init: () => ({ ok: null }),
} satisfies GenServerImpl<null>;

const sup = await Supervisor.start(
  [{ id: 'worker', start: () => GenServer.startLink(Worker, undefined, { name: 'worker' }), restart: 'permanent', shutdown: 5_000 }],
  { strategy: 'one_for_one', maxRestarts: 3, maxSeconds: 5 },
);
const before = whereis('worker');
exit(before!, 'kill');
await idle();
console.log(String(before), '->', String(whereis('worker'))); // restarted under a new pid
console.log(await Supervisor.countChildren(sup)); // { specs: 1, active: 1, supervisors: 0, workers: 1 }
await Supervisor.stop(sup);
