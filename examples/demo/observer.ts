/**
 * The demo's observer at /observer: protected by a token when one is given
 * (open /observer?token=...), otherwise open to loopback clients only. With
 * `NODE_ENV=production` it is read-only (the mount's default): the page shows
 * everything but sends no exit signals.
 */
import { mountObserver, type Observer } from 'beamsock/observer';

/** The observer for the demo server's `mounts`. */
export function demoObserver(token: string | undefined): Observer {
  return mountObserver(token === undefined ? {} : { auth: { token } });
}
