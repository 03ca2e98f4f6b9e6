/**
 * The client side of every exit fixture: opens a `ws` client, waits for one echo,
 * and leaves the socket open for the server's shutdown to close.
 */
import { WebSocket } from 'ws';

/** Opens `url`, sends 'ping' and resolves once the echo came back; the socket stays open. */
export async function echoOnce(url: string): Promise<WebSocket> {
  const client = new WebSocket(url);
  await new Promise((resolve, reject) => {
    client.once('open', resolve);
    client.once('error', reject);
  });
  const echoed = new Promise((resolve) => client.once('message', resolve));
  client.send('ping');
  await echoed;
  return client;
}

/** Resolves with the close code the server sent. */
export function closeCode(client: WebSocket): Promise<number> {
  return new Promise((resolve) => client.once('close', (code) => resolve(code)));
}
