/**
 * The demo behind `npm start`: a chat with rooms on http://localhost:4000,
 * the same with Phoenix Channels and Presence at /channels
 * (`PORT` to change) and the observer at /observer. Ctrl-C shuts down
 * gracefully: every connection gets 1001 and its `terminate` runs.
 */
import { startDemo } from './app.js';

const demo = await startDemo({
  port: Number(process.env.PORT ?? 4000),
  host: process.env.HOST ?? 'localhost',
  observerToken: process.env.OBSERVER_TOKEN || undefined,
});
console.log(`beamsock demo: open ${demo.url}/ in two tabs; Phoenix Channels at ${demo.url}/channels; the observer is at ${demo.url}/observer`);
const stop = (): void => {
  console.log('\nshutting down: closing connections with 1001');
  void demo.close(5_000).then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
