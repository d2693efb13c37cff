/** Adapts a `ws` WebSocket to the SignalingSocket interface. */
import type { WebSocket, RawData } from 'ws';
import { CLOSE_GRACE_MS } from './constants';
import type { IncomingFrame, SignalingSocket } from './socket';

export function wsSocket(ws: WebSocket, remoteAddress: string): SignalingSocket {
  let closeTimer: ReturnType<typeof setTimeout> | undefined;
  const socket: SignalingSocket = {
    remoteAddress,
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    send(text) {
      if (ws.readyState === ws.OPEN) ws.send(text);
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
