// examples/readme/testing.ts
import { startHandler } from 'beamsock/testing';
import { EchoServer } from '../echo/echo-server.js';

const conn = startHandler(EchoServer, {});
conn.pushText('ping');
await conn.assertPush(['text', 'pong']);
conn.send({ hello: 'world' });
await conn.assertPush(['text', 'Info: {"hello":"world"}']);
conn.peerClose(1000);
await conn.assertTerminated('remote');
console.log('all assertions passed');
