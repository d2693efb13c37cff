/**
 * The minimal socket the connection logic needs. The `ws` adapter (ws-socket.ts)
 * and the in-memory pair used by unit tests (memory-socket.ts) both implement it,
 * so the hub never touches a network API.
 */

/** One incoming frame. Binary frames are reported only by size: the protocol is text. */
export type IncomingFrame = { kind: 'text'; text: string; bytes: number } | { kind: 'binary'; bytes: number };

export interface SignalingSocket {
  /** The peer's IP address as the transport sees it (no proxy headers are trusted). */
  readonly remoteAddress: string;
  /** Bytes queued for sending but not yet written to the network. */
  readonly bufferedAmount: number;
  send(text: string): void;
  /** Starts a close handshake; the transport destroys the socket if it does not complete. */
  close(code: number, reason: string): void;
  /** Transport-level ping (RFC 6455); the peer answers with a pong automatically. */
  ping(): void;
  onmessage: ((frame: IncomingFrame) => void) | null;
  onpong: (() => void) | null;
  /** Called exactly once when the socket is gone, whoever closed it. */
  onclose: ((code: number, reason: string) => void) | null;
}
