import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { serve, type BeamsockServer } from '../../../src/adapters/ws/server.js';
import { push } from '../../../src/websock/behaviour.js';
import { setConnectionOptions } from '../../../src/websock/commands.js';
import { TestClient } from '../../conformance/client.js';
import { Recorder, runIn, scripted } from '../../conformance/handlers.js';

const SRC = fileURLToPath(new URL('../../../src', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

describe("only ws's public API", () => {
  // A member access (`ws._socket`), a computed one (`ws['_receiver']`) or a type that declares one (`_socket: Socket`).
  it('no source file that uses ws touches a member whose name starts with _', () => {
    const users = sourceFiles(SRC).filter((f) => f.includes(`${path.sep}adapters${path.sep}ws${path.sep}`) || /from 'ws'/.test(readFileSync(f, 'utf8')));
    expect(users.length).toBeGreaterThanOrEqual(3);
    const touches = users.flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .flatMap((line, i) => (/\._[A-Za-z]|\[\s*['"`]_[A-Za-z]|^\s*(readonly\s+)?_[A-Za-z]\w*\??\s*:/.test(line) ? [`${path.relative(SRC, f)}:${i + 1}: ${line.trim()}`] : [])),
    );
    expect(touches).toEqual([]);
  });
});

describe('maxFrameSize at run time on ws', () => {
  let server: BeamsockServer | undefined;
  afterEach(async () => {
    await server?.close(1_000);
    server = undefined;
  });

  it('cannot be raised over the limit ws was started with: the command throws a RangeError naming both', async () => {
    const rec = new Recorder();
    server = await serve(scripted(rec), { port: 0, maxFrameSize: 100 });
    await TestClient.open(server.url);
    const pid = await rec.pid();
    await expect(runIn(pid, () => setConnectionOptions({ maxFrameSize: 1000 }))).rejects.toThrow(/1000.*100.*only lower/);
    await expect(runIn(pid, () => setConnectionOptions({ maxFrameSize: 0 }))).rejects.toThrow(RangeError);
    await runIn(pid, () => setConnectionOptions({ maxFrameSize: 100 }));
  });

  it('lowered, then back up to the limit ws has: the larger message passes again', async () => {
    const rec = new Recorder();
    server = await serve(
      scripted(rec, {
        handleIn: ([data, { opcode }], st) => {
          if (data === 'low') setConnectionOptions({ maxFrameSize: 10 });
          if (data === 'high') setConnectionOptions({ maxFrameSize: 100 });
          return push([opcode, data], st);
        },
      }),
      { port: 0, maxFrameSize: 100 },
    );
    const c = await TestClient.open(server.url);
    c.send('low');
    expect(await c.text()).toBe('low');
    c.send('high');
    expect(await c.text()).toBe('high');
    c.send('x'.repeat(100));
    expect(await c.text()).toBe('x'.repeat(100));
    c.ws.close(1000);
    await c.closeSeen();
  });
});
