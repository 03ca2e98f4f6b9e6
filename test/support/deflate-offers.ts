/**
 * The permessage-deflate offers Autobahn's 13.x cases send (autobahn's
 * PerMessageDeflateOffer: client_no_context_takeover and client_max_window_bits
 * always, then what each case asks of the server), with what a server under the
 * default deflate options answers. Shared by the negotiation's own tests and
 * every adapter's.
 */
export const AUTOBAHN_OFFERS: readonly (readonly [id: string, offer: string, answer: string])[] = [
  ['13.1', 'permessage-deflate; client_no_context_takeover; client_max_window_bits', 'permessage-deflate; client_no_context_takeover'],
  ['13.2', 'permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover', 'permessage-deflate; server_no_context_takeover; client_no_context_takeover'],
  ['13.3', 'permessage-deflate; client_no_context_takeover; client_max_window_bits; server_max_window_bits=8', 'permessage-deflate; client_no_context_takeover; server_max_window_bits=8'],
  ['13.4', 'permessage-deflate; client_no_context_takeover; client_max_window_bits; server_max_window_bits=15', 'permessage-deflate; client_no_context_takeover; server_max_window_bits=15'],
  ['13.5', 'permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover; server_max_window_bits=8', 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8'],
  ['13.6', 'permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover; server_max_window_bits=15', 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15'],
  [
    '13.7',
    'permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover; server_max_window_bits=8, permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover, permessage-deflate; client_no_context_takeover; client_max_window_bits',
    'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8',
  ],
];
