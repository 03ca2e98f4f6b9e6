// What both consumers do with the installed package once every entry point has
// loaded: serve an echo handler on a free port, send one text through `ws`,
// and close, leaving nothing that keeps Node alive.
const { WebSocket } = require('ws');

/** Resolves with the text echoed back by a server built from `beamsock` and `beamsock/ws`. */
module.exports = async function echoOnce(beamsock, beamsockWs, text) {
  const { ok, push } = beamsock;
  const Echo = {
    init: () => ok(null),
    handleIn: ([data, { opcode }], state) => push([opcode, data], state),
  };
  const server = await beamsockWs.serve(Echo, { port: 0, host: '127.0.0.1' });
  try {
    const client = new WebSocket(server.url);
    await new Promise((resolve, reject) => {
      client.once('open', resolve);
      client.once('error', reject);
    });
    const reply = new Promise((resolve) => client.once('message', (data) => resolve(String(data))));
    client.send(text);
    const echoed = await reply;
    const closed = new Promise((resolve) => client.once('close', resolve));
    client.close();
    await closed;
    return echoed;
  } finally {
    await server.close();
  }
};
