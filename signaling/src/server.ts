/**
 * createSignalingServer: one HTTP server on one port serving the web app,
 * /healthz, /metrics, and the signaling WebSocket on SIGNALING_PATH.
 * Usable in-process (tests, e2e) and from the CLI (main.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import { SIGNALING_PATH, type IceServer } from '@shared/protocol';
import * as C from './constants';
import { DEFAULT_LIMITS, Hub, type HubLimits } from './hub';
import { TrustLedger } from './ledger';
import { createLogger, parseLogLevel, type Logger } from './log';
import { Metrics } from './metrics';
import { randomId } from '@shared/bytes';
import { clientIp, normalizeIp, originAllowed } from './edge';
import { createStaticHandler, send } from './static-files';
import { handleTrustHttp } from './trust-http';
import { wsSocket } from './ws-socket';
import { RedisSharedState } from './redis-state';
import type { SharedState } from './shared-state';
import type { ReplicaSnapshot } from './replica-snapshot';

export interface SignalingServerOptions {
  port?: number;
  host?: string;
  staticDir?: string;
  iceServers?: IceServer[];
  heartbeatMs?: number;
  nonceTtlMs?: number;
  limits?: Partial<HubLimits>;
  logger?: Logger;
  /** Injectable clock (ms) for tests of expiry; defaults to Date.now. */
  now?: () => number;
  /** Keep the receipt log in DIR/receipts.jsonl (verified on listen); in memory when absent. */
  dataDir?: string;
  /** Most entries the receipt log may hold (default MAX_LOG_ENTRIES). */
  maxLogEntries?: number;
  /** Flush each receipt-log append to disk before acknowledging it (SPEC CREDIT16). */
  fsync?: boolean;
  /** This deployment's network id, named by receipts and signed results (SPEC BIND1). */
  network?: string;
  /** Reverse proxies whose X-Forwarded-For is believed (SPEC EDGE1); none by default. */
  trustedProxies?: readonly string[];
  /** Page origins besides the server's own that may open the signaling socket; '*' for any (SPEC EDGE2). */
  allowedOrigins?: readonly string[];
  /** Raw TCP connections in all and per client address (SPEC EDGE3). */
  maxHttpConnections?: number;
  maxHttpConnectionsPerIp?: number;
  /**
   * Share presence, matching, relay, pairings and the receipt log with every
   * other instance on this Redis (SPEC SCALE1); one process in memory when absent.
   */
  redis?: { url: string; password?: string; cluster?: boolean; prefix?: string; snapshotEveryOps?: number };
}

export interface SignalingServer {
  /** Loads and verifies the receipt log (throws ReceiptLogFileError if it was tampered with), then listens; port 0 picks a free port. */
  listen(): Promise<{ url: string; wsUrl: string; port: number; host: string }>;
  /** Stops accepting, closes every socket with 1001, resolves when the port is free. */
  close(): Promise<void>;
  readonly metrics: Metrics;
  /** Open WebSocket connections right now. */
  connectionCount(): number;
  /** The receipt log, leaderboard and pairings (for tests and operators' scripts). */
  readonly ledger: TrustLedger;
  /** This instance's replica of the shared state, as a snapshot would keep it (SPEC SCALE7; tests, operators). */
  replica(): ReplicaSnapshot;
}

export function createSignalingServer(options: SignalingServerOptions = {}): SignalingServer {
  const log = options.logger ?? createLogger(parseLogLevel(process.env.LOG_LEVEL));
  const metrics = new Metrics();
  const startedAt = Date.now();
  const now = options.now ?? Date.now;
  const shared: SharedState | undefined = options.redis
    ? new RedisSharedState({ ...options.redis, log, now })
    : undefined;
  const sharedStorage = shared?.receiptStorage();
  const ledger = new TrustLedger({
    ...(sharedStorage ? { sharedStorage } : {}),
    dataDir: options.dataDir,
    maxEntries: options.maxLogEntries,
    now: options.now,
    fsync: options.fsync,
    network: options.network,
    // Unless told one, a server never shares a network id with another (SPEC BIND1): random, kept with --data.
    newNetwork: () => `net-${randomId(12)}`,
    log,
  });
  const hub = new Hub({
    ledger,
    ...(shared ? { shared } : {}),
    iceServers: options.iceServers ?? [],
    heartbeatMs: options.heartbeatMs ?? C.DEFAULT_HEARTBEAT_MS,
    nonceTtlMs: options.nonceTtlMs ?? C.NONCE_TTL_MS,
    limits: { ...DEFAULT_LIMITS, ...options.limits },
    now: options.now ?? Date.now,
    log,
    metrics,
  });
  const serveStatic = createStaticHandler(options.staticDir ?? C.DEFAULT_STATIC_DIR);

  const http: Server = createServer((req, res) => {
    handleHttp(req, res).catch((error: unknown) => {
      log.error('http-error', { url: req.url, error });
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    });
  });

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      const health = hub.shared.health();
      // Down shared state answers 503, so a proxy sends new clients to an instance that can serve them (SPEC SCALE3).
      const body = JSON.stringify({
        ok: health.up,
        uptime: (Date.now() - startedAt) / 1000,
        connections: hub.connectionCounts(),
        shared: { kind: health.kind, up: health.up, instance: hub.shared.instance },
      });
      return send(res, health.up ? 200 : 503, 'application/json; charset=utf-8', body);
    }
    if (path === '/metrics') {
      const uptime = `# HELP process_uptime_seconds Seconds since the server started.\n# TYPE process_uptime_seconds gauge\nprocess_uptime_seconds ${(Date.now() - startedAt) / 1000}\n`;
      return send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', metrics.render() + uptime);
    }
    if (await handleTrustHttp(ledger, req, res)) return;
    return serveStatic(req, res);
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: C.HARD_MAX_PAYLOAD_BYTES, perMessageDeflate: false });
  let closing = false;
  const rawSockets = new Set<Socket>();
  const trusted = new Set((options.trustedProxies ?? []).map(normalizeIp));
  const allowedOrigins = options.allowedOrigins ?? [];
  const maxHttp = options.maxHttpConnections ?? C.MAX_HTTP_CONNECTIONS;
  const maxHttpPerIp = options.maxHttpConnectionsPerIp ?? C.MAX_HTTP_CONNECTIONS_PER_IP;
  const rawPerIp = new Map<string, number>();
  http.headersTimeout = C.HTTP_HEADERS_TIMEOUT_MS;
  http.requestTimeout = C.HTTP_HEADERS_TIMEOUT_MS;
  const refuse = (reason: string) => metrics.inc('signaling_http_refused_total', { reason });
  http.on('connection', (socket: Socket) => {
    // Caps before any byte is read (SPEC EDGE3): descriptors are the scarce thing.
    const ip = normalizeIp(socket.remoteAddress ?? 'unknown');
    const fromProxy = trusted.has(ip);
    if (rawSockets.size >= maxHttp || (!fromProxy && (rawPerIp.get(ip) ?? 0) >= maxHttpPerIp)) {
      refuse(rawSockets.size >= maxHttp ? 'http-capacity' : 'http-per-ip');
      socket.destroy();
      return;
    }
    rawSockets.add(socket);
    if (!fromProxy) rawPerIp.set(ip, (rawPerIp.get(ip) ?? 0) + 1);
    socket.on('close', () => {
      rawSockets.delete(socket);
      if (fromProxy) return;
      const n = (rawPerIp.get(ip) ?? 1) - 1;
      if (n <= 0) rawPerIp.delete(ip);
      else rawPerIp.set(ip, n);
    });
  });
  const reject = (socket: Socket, status: string) =>
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const path = (req.url ?? '').split('?')[0];
    if (closing || path !== SIGNALING_PATH) {
      refuse(closing ? 'closing' : 'path');
      return reject(socket, closing ? '503 Service Unavailable' : '404 Not Found');
    }
    // A hostile page on another origin must not spend its visitor's IP quota (SPEC EDGE2).
    if (!originAllowed(req.headers.origin, req.headers.host, allowedOrigins)) {
      refuse('origin');
      return reject(socket, '403 Forbidden');
    }
    const ip = clientIp(req.socket.remoteAddress ?? 'unknown', req.headers['x-forwarded-for'], trusted);
    wss.handleUpgrade(req, socket, head, (ws) => {
      hub.accept(wsSocket(ws, ip, socket));
    });
  });
  http.on('clientError', (_error, socket) => socket.destroy());

  return {
    metrics,
    ledger,
    connectionCount: () => hub.connectionCount,
    replica: () => hub.replicaSnapshot(),
    async listen() {
      const host = options.host ?? C.DEFAULT_HOST;
      await ledger.open();
      if (shared) {
        // Every instance names the network the first one settled (SPEC BIND1).
        const network = await shared.settleNetwork(ledger.network);
        if (options.network && network !== options.network)
          throw new Error(
            `--network ${options.network} differs from ${network}, the network this Redis already serves`,
          );
        ledger.network = network;
        await hub.startShared();
        log.info('shared-state-ready', { instance: shared.instance, applied: shared.health().applied });
      }
      if (ledger.path)
        log.info('receipt-log-verified', {
          path: ledger.path,
          entries: ledger.head.length,
          head: ledger.head.hash,
          signaturesChecked: ledger.signaturesCheckedAtOpen,
        });
      return new Promise((resolvePromise, reject) => {
        http.once('error', reject);
        http.listen(options.port ?? C.DEFAULT_PORT, host, () => {
          http.off('error', reject);
          const { port } = http.address() as AddressInfo;
          const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
          const url = `http://${shown}:${port}/`;
          log.info('listening', { url, host, port, staticDir: options.staticDir ?? C.DEFAULT_STATIC_DIR });
          resolvePromise({ url, wsUrl: `ws://${shown}:${port}${SIGNALING_PATH}`, port, host });
        });
      });
    },
    async close() {
      if (closing) return;
      closing = true;
      const stopped = new Promise<void>((r) => http.close(() => r()));
      hub.shutdown();
      http.closeIdleConnections();
      // Give clients a moment to acknowledge 1001, then destroy whatever is left.
      const deadline = setTimeout(() => {
        for (const ws of wss.clients) ws.terminate();
        for (const s of rawSockets) s.destroy();
      }, C.SHUTDOWN_GRACE_MS);
      deadline.unref();
      await new Promise<void>((r) => wss.close(() => r()));
      await stopped;
      clearTimeout(deadline);
      await ledger.close();
      await shared?.close();
      log.info('stopped', {});
    },
  };
}
