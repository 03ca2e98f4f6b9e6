// examples/readme/links.ts
import { spawn, spawnLink, send, trapExit, monitor, isExit, isDown, formatReason, setLogger } from 'beamsock';

setLogger(() => undefined); // the worker's crash report is expected here
spawn(
  (msg) => {
    if (isExit(msg)) console.log(`${String(msg.from)} exited: ${formatReason(msg.reason)}`);
    if (isDown(msg)) console.log(`monitor ${String(msg.ref)} fired: ${formatReason(msg.reason)}`);
  },
  {
    init() {
      trapExit(true); // a linked crash becomes an EXIT message instead of a crash here
      const worker = spawnLink(() => {
        throw new Error('boom');
      });
      monitor(worker);
      send(worker, 'work');
    },
  },
);
// #PID<0.2> exited: {error, Error: boom}
// monitor #Ref<0.1> fired: {error, Error: boom}
