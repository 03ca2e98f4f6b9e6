/**
 * `beamsock/testing`: a test kit for WebSock handlers, in the spirit of Phoenix's
 * ChannelTest.
 *
 * - `startHandler` runs a handler in a real connection process with the test as
 *   its peer and no network: push frames in, `send` it messages, assert on the
 *   frames it pushes, the close code and what `terminate` received.
 * - `startServer` runs a handler on a real server (ws, or the adapter whose
 *   `serve` it is given) on an ephemeral port, and
 *   `connect` opens clients to it with the same assertions.
 *
 * Assertions wait (`assertPush`, `assertReceive`, `assertClosed`,
 * `assertTerminated`, `nextFrame`) or watch (`refutePush`, `refuteReceive`), and
 * reject with an `AssertionError` that shows what did arrive. They work with any
 * test runner.
 *
 * @example
 * import { startHandler } from 'beamsock/testing';
 *
 * const conn = startHandler(EchoServer, {});
 * conn.pushText('hi');
 * await conn.assertPush(['text', 'Echo: hi']);
 * conn.send({ hello: 'world' });
 * await conn.assertPush(['text', 'Info: {"hello":"world"}']);
 * conn.peerClose(1000);
 * await conn.assertTerminated('remote');
 */
export { startHandler, TestConnection, type Termination, type ExpectedClose } from './test-connection.js';
export { startServer, type TestServer, type TestServerOptions, type AdapterTestServerOptions, type AdapterServe } from './server.js';
export { connect, TestClient, UpgradeRefusedError, type ClientOptions, type ClientClose } from './client.js';
export { DEFAULT_ASSERT_TIMEOUT, DEFAULT_REFUTE_TIMEOUT, formatFrame, type WireFrame, type FrameMatch, type WaitOptions } from './frames.js';
export type { ClosedInfo } from './memory-transport.js';
export { socketConnect, subscribeAndJoin, push, leave, assertReply, assertPush, assertBroadcast, TestSocket, TestChannel, ConnectRefusedError, JoinRefusedError } from '../channels/testing.js';
