/**
 * Browser-side signaling client, shared by the provider page and the requester
 * dashboard. Framework-free: the WebSocket constructor is injected, so Node tests
 * pass `ws`'s. It authenticates with the page's Ed25519 identity, validates every
 * server frame with the shared schemas, and after a drop reconnects with
 * exponential backoff + jitter, then re-sends its announce/status/open jobs.
 * Given several server URLs (instances sharing Redis), it fails over to the
 * next one when its server goes away or refuses it (SPEC CLIENT8).
 */
import {
  CloseCode,
  PROTOCOL_VERSION,
  SIGNALING_PATH,
  decodeServerMessage,
  type Capabilities,
  type ClientMessage,
  type ClientMessageOf,
  type ErrorCode,
  type IceServer,
  type JobNeeds,
  type Role,
  type ServerMessage,
  type ServerMessageOf,
  type SignalPayload,
} from '@shared/protocol';
import { authMessage, sign, type Identity } from '@shared/identity';
import { messageOf } from '@shared/errors';

/** Method-style (bivariant) handler type, so the DOM's and `ws`'s richer event types fit. */
type EventHandler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

/** The part of the WHATWG WebSocket this client uses (browser WebSocket and `ws` both fit). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onmessage: EventHandler<{ data: unknown }> | null;
  onclose: EventHandler<{ code: number; reason: string }> | null;
  onerror: EventHandler<never> | null;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export type SignalingState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface SignalingEvents {
  state: SignalingState;
  welcome: ServerMessageOf<'welcome'>;
  matched: ServerMessageOf<'matched'>;
  unmatched: ServerMessageOf<'unmatched'>;
  signal: ServerMessageOf<'signal'>;
  pong: ServerMessageOf<'pong'>;
  'receipts-ack': ServerMessageOf<'receipts-ack'>;
  'display-name-ack': ServerMessageOf<'display-name-ack'>;
  /** Error frames from the server, and server frames that failed validation (code 'invalid'). */
  error: { code: ErrorCode; message: string; supported?: number[] };
  /** The connection dropped; `willReconnect` is false for final closes (version, replaced, close()). */
  disconnected: { code: number; reason: string; willReconnect: boolean };
}

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor: number;
}

export interface SignalingClientOptions {
  /** One server, or several instances of one network: tried in order, the next after each drop. */
  url: string | readonly string[];
  role: Role;
  identity: Identity;
  WebSocket: WebSocketConstructor;
  backoff?: Partial<BackoffOptions>;
  /** Free text sent in hello, e.g. app version; shows up in server logs. */
  client?: string;
  /** For tests: a deterministic source of jitter in [0, 1). */
  random?: () => number;
}

/** Backoff defaults: first retry ~0.25–0.5 s, then doubling up to 10 s so a restarted server is not stampeded. */
export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 10_000, factor: 2 };

/**
 * Delay before trying the next server in the list: short, because the other
 * instances are most likely up; jittered like the backoff, so the clients of a
 * dead instance do not all land on the next one in the same millisecond.
 */
export const FAILOVER_DELAY_MS = 250;

/** Close codes after which retrying cannot help. */
const FINAL_CLOSES = new Set<number>([CloseCode.versionMismatch, CloseCode.replaced]);

const OPEN = 1;

/** ws(s)://host/ws for the page's own origin (the server serves app and signaling on one port). */
export function defaultSignalingUrl(location: { protocol: string; host: string }): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${SIGNALING_PATH}`;
}

/**
 * The servers a page signals through: the `signal` query parameter's
 * comma-separated ws(s):// URLs (instances of one network, tried in order,
 * SPEC CLIENT8), else the page origin's own (CLIENT5).
 */
export function signalingUrls(location: { protocol: string; host: string; search: string }): string[] {
  const listed = (new URLSearchParams(location.search).get('signal') ?? '')
    .split(',')
    .map((url) => url.trim())
    .filter((url) => /^wss?:\/\/[^\s/]+\/\S*$/.test(url));
  return listed.length ? listed : [defaultSignalingUrl(location)];
}

/** Full-jitter backoff: uniform in [delay/2, delay) where delay doubles per attempt up to maxMs. */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number): number {
  const delay = Math.min(options.maxMs, options.initialMs * options.factor ** attempt);
  return Math.round(delay / 2 + (random() * delay) / 2);
}

type Handler<T> = (value: T) => void;

export class SignalingClient {
  private ws: WebSocketLike | null = null;
  private _state: SignalingState = 'idle';
  private _peerId: string | null = null;
  private _iceServers: IceServer[] = [];
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private livenessTimer: ReturnType<typeof setInterval> | null = null;
  private lastHeard = 0;
  private readonly handlers = new Map<keyof SignalingEvents, Set<Handler<never>>>();
  private readonly backoff: BackoffOptions;
  private readonly random: () => number;
  // Resume state: re-sent after every welcome.
  private announced: ClientMessageOf<'announce'> | null = null;
  private status: ClientMessageOf<'status'> | null = null;
  private readonly openJobs = new Map<string, ClientMessageOf<'job-open'>>();
  /** The signed leaderboard name: the server keeps names in memory only (SPEC NAME3). */
  private displayName: ClientMessageOf<'display-name'> | null = null;
  private readonly urls: readonly string[];
  /** Index in `urls` of the server in use (or tried next). */
  private current = 0;
  /** Whether the socket in use was welcomed: a server that worked gets one immediate retry elsewhere. */
  private welcomed = false;

  constructor(private readonly options: SignalingClientOptions) {
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.random = options.random ?? Math.random;
    this.urls = typeof options.url === 'string' ? [options.url] : [...options.url];
    if (!this.urls.length) throw new Error('SignalingClient needs at least one server URL');
  }

  /** The server URL in use, or tried next. */
  get url(): string {
    return this.urls[this.current]!;
  }

  get state(): SignalingState {
    return this._state;
  }
  /** Our peer id once welcomed (equals identity.peerId). */
  get peerId(): string | null {
    return this._peerId;
  }
  /** ICE servers from the latest welcome, for RTCPeerConnection. */
  get iceServers(): IceServer[] {
    return this._iceServers;
  }

  on<K extends keyof SignalingEvents>(event: K, handler: Handler<SignalingEvents[K]>): () => void {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    set.add(handler as Handler<never>);
    return () => set.delete(handler as Handler<never>);
  }

  /** Resolves on the next `event` (convenience for tests and one-shot waits). */
  once<K extends keyof SignalingEvents>(
    event: K,
    filter: (value: SignalingEvents[K]) => boolean = () => true,
  ): Promise<SignalingEvents[K]> {
    return new Promise((resolve) => {
      const off = this.on(event, (value) => {
        if (!filter(value)) return;
        off();
        resolve(value);
      });
    });
  }

  /** Starts connecting; a no-op unless idle or closed. */
  connect(): void {
    if (this._state !== 'idle' && this._state !== 'closed') return;
    this.attempt = 0;
    this.open();
  }

  /** Closes for good; no reconnect. */
  close(): void {
    this.clearRetry();
    this.stopLiveness();
    this.setState('closed');
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = null;
      ws.onmessage = null;
      ws.close(CloseCode.normal, 'client closed');
    }
  }

  /**
   * Sends when welcomed; returns false if not currently open. announce, status,
   * job-open, job-close and display-name also update the state re-sent after a reconnect, so
   * they take effect on the next connection even when sent while offline.
   */
  send(message: ClientMessage): boolean {
    this.remember(message);
    if (this._state !== 'open' || !this.ws || this.ws.readyState !== OPEN) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  announce(capabilities: Capabilities, slots: number): boolean {
    return this.send({ type: 'announce', capabilities, slots });
  }
  setStatus(busy: number, paused: boolean): boolean {
    return this.send({ type: 'status', busy, paused });
  }
  openJob(jobId: string, needs: JobNeeds): boolean {
    return this.send({ type: 'job-open', jobId, needs });
  }
  closeJob(jobId: string): boolean {
    return this.send({ type: 'job-close', jobId });
  }
  release(jobId: string, peerId: string): boolean {
    return this.send({ type: 'release', jobId, peerId });
  }
  signal(to: string, jobId: string, payload: SignalPayload): boolean {
    return this.send({ type: 'signal', to, jobId, payload });
  }

  // ------------------------------------------------------------------ internals

  private remember(message: ClientMessage): void {
    if (message.type === 'announce') this.announced = message;
    else if (message.type === 'status') this.status = message;
    else if (message.type === 'job-open') this.openJobs.set(message.jobId, message);
    else if (message.type === 'job-close') this.openJobs.delete(message.jobId);
    else if (message.type === 'display-name') this.displayName = message;
  }

  private open(): void {
    this.setState(this.attempt === 0 ? 'connecting' : 'reconnecting');
    let ws: WebSocketLike;
    this.welcomed = false;
    try {
      ws = new this.options.WebSocket(this.url);
    } catch (error) {
      this.emit('error', { code: 'invalid', message: `cannot open ${this.url}: ${messageOf(error)}` });
      return this.scheduleRetry();
    }
    this.ws = ws;
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this.onFrame(ws, ev.data).catch((error: unknown) =>
        this.emit('error', { code: 'internal', message: messageOf(error) }),
      );
    };
    ws.onerror = () => {
      // The close event follows and carries what we act on.
    };
    ws.onclose = (ev) => this.onSocketGone(ws, ev.code, ev.reason);
  }

  private onSocketGone(ws: WebSocketLike, code: number, reason: string): void {
    if (this.ws !== ws) return;
    this.ws = null;
    this.stopLiveness();
    const willReconnect = this._state !== 'closed' && !FINAL_CLOSES.has(code);
    this.emit('disconnected', { code, reason, willReconnect });
    if (willReconnect) this.scheduleRetry();
    else this.setState('closed');
  }

  private async onFrame(ws: WebSocketLike, data: unknown): Promise<void> {
    if (typeof data !== 'string') {
      this.emit('error', { code: 'invalid', message: 'server sent a non-text frame' });
      return;
    }
    const decoded = decodeServerMessage(data);
    if (!decoded.ok) {
      this.emit('error', { code: decoded.code, message: `server frame rejected: ${decoded.error}` });
      return;
    }
    const message: ServerMessage = decoded.message;
    this.lastHeard = Date.now();
    switch (message.type) {
      case 'challenge': {
        const { role, identity, client } = this.options;
        ws.send(
          JSON.stringify({
            type: 'hello',
            v: PROTOCOL_VERSION,
            role,
            ...(client ? { client } : {}),
          } satisfies ClientMessage),
        );
        const signature = await sign(identity, authMessage(message.nonce, role));
        if (this.ws === ws && ws.readyState === OPEN)
          ws.send(JSON.stringify({ type: 'auth', publicKey: identity.peerId, signature } satisfies ClientMessage));
        return;
      }
      case 'welcome':
        this.attempt = 0;
        this.welcomed = true;
        this._peerId = message.peerId;
        this._iceServers = message.iceServers;
        this.setState('open');
        this.resume(ws);
        this.startLiveness(ws, message.heartbeatMs);
        this.emit('welcome', message);
        return;
      case 'error': {
        const { type: _type, ...error } = message;
        this.emit('error', error);
        return;
      }
      default:
        this.emit(message.type, message as never);
    }
  }

  /** After (re)connecting, restore what the server forgot when we dropped (SPEC CLIENT2). */
  private resume(ws: WebSocketLike): void {
    const frames: ClientMessage[] = [];
    if (this.status) frames.push(this.status);
    if (this.announced) frames.push(this.announced);
    frames.push(...this.openJobs.values());
    if (this.displayName) frames.push(this.displayName);
    for (const frame of frames) ws.send(JSON.stringify(frame));
  }

  private scheduleRetry(): void {
    this.clearRetry();
    // The next server in the list; the backoff grows once per full round, so a
    // dead instance costs one quick hop while all being down still backs off.
    const hop = this.urls.length > 1;
    if (hop) this.current = (this.current + 1) % this.urls.length;
    const delay =
      hop && (this.welcomed || this.current !== 0)
        ? backoffDelay(0, { initialMs: FAILOVER_DELAY_MS, maxMs: FAILOVER_DELAY_MS, factor: 1 }, this.random)
        : backoffDelay(this.attempt++, this.backoff, this.random);
    this.welcomed = false;
    this.setState('reconnecting');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this._state !== 'closed') this.open();
    }, delay);
  }

  /**
   * Browsers answer WebSocket pings but cannot see them, so a half-open socket
   * (laptop sleep, dead NAT) would look open forever. We send an app-level ping
   * every heartbeatMs and drop the socket after 2.5 intervals of silence (SPEC CLIENT7).
   */
  private startLiveness(ws: WebSocketLike, heartbeatMs: number): void {
    this.stopLiveness();
    if (heartbeatMs <= 0) return;
    this.livenessTimer = setInterval(() => {
      if (this.ws !== ws) return this.stopLiveness();
      if (Date.now() - this.lastHeard > heartbeatMs * 2.5) {
        ws.onclose = null;
        ws.close(CloseCode.normal, 'server silent');
        return this.onSocketGone(ws, CloseCode.heartbeatTimeout, 'no reply from server');
      }
      if (ws.readyState === OPEN) ws.send(JSON.stringify({ type: 'ping', t: Date.now() } satisfies ClientMessage));
    }, heartbeatMs);
  }

  private stopLiveness(): void {
    if (this.livenessTimer) clearInterval(this.livenessTimer);
    this.livenessTimer = null;
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private setState(state: SignalingState): void {
    if (this._state === state) return;
    this._state = state;
    this.emit('state', state);
  }

  private emit<K extends keyof SignalingEvents>(event: K, value: SignalingEvents[K]): void {
    for (const handler of [...(this.handlers.get(event) ?? [])]) {
      try {
        (handler as Handler<SignalingEvents[K]>)(value);
      } catch (error) {
        console.error(`signaling ${event} handler threw`, error);
      }
    }
  }
}
