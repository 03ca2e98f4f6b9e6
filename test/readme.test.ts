import { execFile, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';

const root = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(`${root}README.md`, 'utf8');

/** The README's TypeScript blocks that name their file on their first line. */
const blocks = [...readme.matchAll(/```ts\n(\/\/ (examples\/\S+\.ts)[^\n]*\n[\s\S]*?)```/g)].map((m) => ({ file: m[2] as string, code: m[1] as string }));
const NODE_ARGS = ['--conditions=beamsock-source', '--import', 'tsx'];
// Each script is a fresh Node + tsx process: seconds apiece on a loaded 2-core machine, and
// vitest runs five at once. Generous bounds: a script that hangs still fails, never a slow one.
const SCRIPT_TIMEOUT_MS = 90_000;

function run(file: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...NODE_ARGS, file], { cwd: root, timeout: SCRIPT_TIMEOUT_MS }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? 1), stdout, stderr });
    });
  });
}

describe('the README', () => {
  it('shows every example of examples/readme, each exactly as its file', () => {
    const files = readdirSync(`${root}examples/readme`).map((f) => `examples/readme/${f}`);
    expect(blocks.map((b) => b.file)).toEqual(expect.arrayContaining(files));
    for (const { file, code } of blocks) expect(code, file).toBe(readFileSync(`${root}${file}`, 'utf8'));
  });

  const scripts = blocks.filter((b) => b.file.startsWith('examples/readme/'));
  it.concurrent.each(scripts.map((b) => b.file))('%s runs as written and exits cleanly', async (file) => {
    const { code, stdout, stderr } = await run(file);
    expect(code, `${file} failed:\n${stdout}\n${stderr}`).toBe(0);
    expect(stdout.length, `${file} printed nothing`).toBeGreaterThan(0);
  }, SCRIPT_TIMEOUT_MS + 10_000);

  it('the quickstart serves a handler whose connections count messages and hear from the server', async () => {
    const child = spawn(process.execPath, [...NODE_ARGS, 'examples/quickstart.ts'], { cwd: root, env: { ...process.env, PORT: '0' } });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /connect a WebSocket to (\S+)/.exec(out);
          if (m) resolve(m[1] as string);
        });
        child.once('exit', (code) => reject(new Error(`quickstart exited with ${String(code)}: ${out}`)));
      });
      const client = new WebSocket(url);
      await new Promise((r) => client.once('open', r));
      const reply = new Promise<string>((r) => client.once('message', (d) => r(String(d))));
      client.send('hi');
      expect(await reply).toBe('#1: hi');
      client.close();
    } finally {
      child.kill();
    }
  });
});
