/**
 * The demo's observer at /observer: protected by a token when one is given
 * (open /observer?token=...), otherwise open to loopback clients only.
 */
import { mountObserver, type Observer } from 'beamsock/observer';

/** The observer for the demo server's `mounts`. */
export function demoObserver(token: string | undefined): Observer {
  return mountObserver(token === undefined ? {} : { auth: { token } });
}
