// examples/readme/policies.ts
import { spawn, send, isAlive, setLogger, QUEUED_MESSAGE_BYTES, formatReport } from 'beamsock';

setLogger((report) => console.log(formatReport(report)));
// Room for 10 queued messages; the 11th kills it and logs one report.
const slow = spawn(() => new Promise((r) => setTimeout(r, 1_000)), {
  maxHeapSize: { size: 10 * QUEUED_MESSAGE_BYTES, kill: true, errorLogger: true },
});
for (let i = 0; i < 12; i++) send(slow, i);
console.log(isAlive(slow)); // false
