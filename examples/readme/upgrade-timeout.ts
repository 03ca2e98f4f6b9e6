// examples/readme/upgrade-timeout.ts
import { connect } from 'node:net';
import { serve } from 'beamsock/ws';
import { Echo } from '../echo/echo-server.js';

// A client has 2 s from connecting to send its whole upgrade request (10 s by default).
const server = await serve(Echo, { port: 0, upgradeTimeout: 2_000 });

// A slowloris client: connects and sends nothing.
const silent = connect(server.port, '127.0.0.1');
let answer = '';
silent.on('data', (chunk) => (answer += String(chunk)));
silent.on('close', () => {
  console.log(answer.split('\r\n')[0]); // HTTP/1.1 408 Request Timeout
  void server.close();
});
