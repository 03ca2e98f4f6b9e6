// examples/readme/processes.ts
import { spawn, send, self, exit, isAlive, processInfo, idle } from 'beamsock';

const logger = spawn((msg: string) => console.log(`${String(self())} got ${msg}`));
send(logger, 'hello'); // #PID<0.1> got hello
await idle();
console.log(processInfo(logger)?.counters); // { messagesIn: 1, messagesOut: 0 }
exit(logger, 'kill');
console.log(isAlive(logger)); // false
send(logger, 'ignored'); // to a pid it never throws: dropped, as on the BEAM
