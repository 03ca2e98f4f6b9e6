// A CommonJS app (a NestJS one, say) that requires every entry point of the installed package.
const echoOnce = require('./echo.cjs');

const entries = Object.keys(require('beamsock/package.json').exports).filter((key) => key !== './package.json');
const loaded = {};
for (const entry of entries) {
  const name = `beamsock${entry.slice(1)}`;
  loaded[name] = require(name);
  if (Object.keys(loaded[name]).length === 0) throw new Error(`require('${name}') gave no exports`);
}

echoOnce(loaded.beamsock, loaded['beamsock/ws'], 'hello from require').then((echoed) => {
  console.log(JSON.stringify({ entries: Object.keys(loaded), echoed }));
});
