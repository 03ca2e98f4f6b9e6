/**
 * Probe, not part of `npm run bench`: echo round trips and server CPU per round
 * trip for any bench servers and any shape, the servers taking turns, so that a
 * figure of `npm run bench` can be put beside its floor (`bun-bare:hop`,
 * `bare-ws:hop:als`) or beside another checkout's server.
 *
 *   node --conditions=beamsock-source --import tsx bench/probes/echo.ts \
 *     [--connections 64] [--in-flight 16] [--rounds 2] [--ms 4000] bun-bare bun-bare:hop bun-beamsock
 *
 * See `servers.ts` for how servers are named.
 */
import { parseArgs } from 'node:util';
import { echoLoad, withClients } from '../load-client.js';
import { ECHO_PAYLOAD, ECHO_WARMUP_MS, withServer, withServerCpu } from '../measure.js';
import { parseServer, startServer } from './servers.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    connections: { type: 'string', default: '64' },
    'in-flight': { type: 'string', default: '16' },
    rounds: { type: 'string', default: '2' },
    ms: { type: 'string', default: '4000' },
  },
});

const connections = Number(values.connections);
const inFlight = Number(values['in-flight']);
for (let round = 0; round < Number(values.rounds); round++) {
  for (const label of positionals) {
    const f = await withServer(
      () => startServer(parseServer(label)),
      (server) =>
        withClients(server.port, connections, (clients) =>
          withServerCpu(server, (onWindow) => echoLoad(clients, { inFlight, payloadBytes: ECHO_PAYLOAD, warmupMs: ECHO_WARMUP_MS, measureMs: Number(values.ms), onWindow })),
        ),
    );
    console.log(`${label.padEnd(28)} ${f.perSecond.toFixed(0).padStart(9)} rt/s  server ${f.serverUsPerOp.toFixed(3)} µs CPU each (${f.serverCpu.toFixed(0)}% of a core)  client ${f.clientCpu.toFixed(0)}%`);
  }
}
