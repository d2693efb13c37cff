/** Adapts a `ws` WebSocket to the SignalingSocket interface. */
import type { Duplex } from 'node:stream';
import type { WebSocket, RawData } from 'ws';
import { CLOSE_GRACE_MS } from './constants';
import type { IncomingFrame, SignalingSocket } from './socket';

/**
 * Raw sockets written to while handling one read, corked until it has been
 * handled. Frames that arrived together (a client's queued offers, relayed to
 * its one peer) then leave as one write per socket instead of one per frame:
 * the write syscall was ~40% of the server's busy time in bench:signaling.
 * The flush is a nextTick, which Node runs as soon as the read's callback
 * returns. Not setImmediate: under load libuv's poll phase handles up to
 * 48 × 1,024 events before the check phase, so writes waited for seconds behind
 * reads (steady shape at 6,000 connections: 2–31% delivered in the window).
 */
const corked: Duplex[] = [];

function flushCorked(): void {
  for (const raw of corked) {
    try {
      raw.uncork();
    } catch {
      // A broken socket reports through 'error' and 'close'; the others must still be flushed.
    }
  }
  corked.length = 0;
}

/** Corks `raw` until the current callback (one read, one timer) has returned. */
function corkForCallback(raw: Duplex): void {
  if (raw.writableCorked) return;
  if (corked.length === 0) process.nextTick(flushCorked);
  raw.cork();
  corked.push(raw);
}

/**
 * `raw` is the upgraded TCP socket under `ws` (what `handleUpgrade` was given);
 * sends cork it until the current callback returns. Without it every frame is its own write.
 */
export function wsSocket(ws: WebSocket, remoteAddress: string, raw?: Duplex): SignalingSocket {
  let closeTimer: ReturnType<typeof setTimeout> | undefined;
  const socket: SignalingSocket = {
    remoteAddress,
    get bufferedAmount() {
      // Corked bytes count: they sit in the raw socket's writable buffer (SPEC ABUSE2).
      return ws.bufferedAmount;
    },
    send(text) {
      if (ws.readyState !== ws.OPEN) return;
      if (raw) corkForCallback(raw);
      ws.send(text);
    },
    close(code, reason) {
      if (ws.readyState === ws.CLOSED) return;
      ws.close(code, reason);
      // A dead peer never answers the close frame; do not wait ws's 30 s for it.
      closeTimer ??= setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
      closeTimer.unref?.();
    },
    ping() {
      if (ws.readyState === ws.OPEN) ws.ping();
    },
    onmessage: null,
    onpong: null,
    onclose: null,
  };
  ws.on('message', (data: RawData, isBinary: boolean) => {
    const bytes = rawLength(data);
    const frame: IncomingFrame = isBinary ? { kind: 'binary', bytes } : { kind: 'text', text: rawText(data), bytes };
    socket.onmessage?.(frame);
  });
  ws.on('pong', () => socket.onpong?.());
  ws.on('error', () => {
    // ws emits 'close' after 'error' (e.g. maxPayload exceeded, invalid UTF-8); the hub learns there.
  });
  ws.on('close', (code: number, reason: Buffer) => {
    if (closeTimer) clearTimeout(closeTimer);
    socket.onclose?.(code, reason.toString('utf8'));
  });
  return socket;
}

function rawLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0);
  return data instanceof ArrayBuffer ? data.byteLength : data.length;
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8');
}
