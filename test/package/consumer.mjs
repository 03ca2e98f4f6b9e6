// An ES module app that imports every entry point of the installed package.
import { createRequire } from 'node:module';
import echoOnce from './echo.cjs';

const { exports } = createRequire(import.meta.url)('beamsock/package.json');
const loaded = {};
for (const entry of Object.keys(exports).filter((key) => key !== './package.json')) {
  const name = `beamsock${entry.slice(1)}`;
  loaded[name] = await import(name);
  if (Object.keys(loaded[name]).length === 0) throw new Error(`import('${name}') gave no exports`);
}

const echoed = await echoOnce(loaded.beamsock, loaded['beamsock/ws'], 'hello from import');
console.log(JSON.stringify({ entries: Object.keys(loaded), echoed }));
