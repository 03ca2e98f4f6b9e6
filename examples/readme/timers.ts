// examples/readme/timers.ts
import { spawn, sendAfter, cancelTimer, readTimer, self } from 'beamsock';

spawn((msg: string) => console.log(`got ${msg}`), {
  init() {
    const t = sendAfter(self(), 'never', 1_000); // to a pid: cancelled if that process exits
    console.log(readTimer(t)); // ms left, e.g. 1000
    console.log(cancelTimer(t)); // ms left, or false if it already fired
    sendAfter(self(), 'tick', 10); // got tick
  },
});
