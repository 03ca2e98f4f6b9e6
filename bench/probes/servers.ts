/**
 * What the probes share: starting a bench server named on the command line.
 *
 * A server is a program in `bench/servers` (`bare-ws`, `beamsock`, `bun-bare`,
 * `bun-beamsock`, `bun-ablate`...), its arguments after colons (`bare-ws:als`),
 * optionally run from another checkout (`/work/wt/base@beamsock`), so that a
 * change can be measured beside what it replaces. Programs named `bun-*` run
 * under the Bun that `npm install` brought; the others under this Node, from the
 * TypeScript sources.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServerChild } from '../servers/server-child.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BUN = path.join(ROOT, 'node_modules', '.bin', 'bun');

/** A server as the command line names it. */
export interface ServerSpec {
  /** As given, for the output. */
  readonly label: string;
  /** The checkout it runs from. */
  readonly dir: string;
  /** The program in `bench/servers`, without `.ts`. */
  readonly program: string;
  readonly args: readonly string[];
}

/**
 * Parses `[dir@]program[:arg...]`.
 *
 * @example
 * parseServer('/work/wt/base@bare-ws:als'); // { dir: '/work/wt/base', program: 'bare-ws', args: ['als'], ... }
 */
export function parseServer(label: string): ServerSpec {
  const at = label.lastIndexOf('@');
  const dir = at === -1 ? ROOT : label.slice(0, at);
  const [program = '', ...args] = label.slice(at + 1).split(':');
  return { label, dir, program, args };
}

/**
 * Starts `spec`, with `nodeFlags` before the program when it runs under Node.
 *
 * @example
 * const server = await startServer(parseServer('beamsock'), ['--perf-basic-prof']);
 */
export function startServer(spec: ServerSpec, nodeFlags: readonly string[] = []): Promise<ServerChild> {
  const file = path.join('bench', 'servers', `${spec.program}.ts`);
  if (spec.program.startsWith('bun-')) return ServerChild.start(spec.label, BUN, [file, ...spec.args], spec.dir);
  return ServerChild.start(spec.label, process.execPath, [...nodeFlags, '--expose-gc', '--conditions=beamsock-source', '--import', 'tsx', file, ...spec.args], spec.dir);
}
