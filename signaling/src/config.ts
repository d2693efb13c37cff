/** Command-line flags and environment variables → SignalingServerOptions. Flags win over env. */
import { isIP } from 'node:net';
import * as v from 'valibot';
import { IceServerSchema, type IceServer } from '@shared/protocol';
import { NETWORK_ID_PATTERN } from '@shared/trust';
import * as C from './constants';
import { ConfigError } from './errors';
import { prefixProblem } from './redis-keys';
import type { HubLimits } from './hub';
import type { SignalingServerOptions } from './server';

export const HELP = `Usage: npm run serve -- [options]     (npm start builds the web app first)

Runs the signaling server: serves the web app, pairs providers with requesters,
relays WebRTC handshakes only. In-memory state; no database. With --data the
public receipt log is also kept on disk and re-verified at every start.

Options (flag / environment variable, default):
  --port N          PORT          ${C.DEFAULT_PORT}; 0 picks a free port
  --host H          HOST          ${C.DEFAULT_HOST} (this machine only); use 0.0.0.0 to expose on your network
  --static DIR      STATIC_DIR    $WEB_OUT_DIR or ${C.DEFAULT_STATIC_DIR} (output of npm run build)
  --ice LIST        ICE_SERVERS   none; JSON list of RTCIceServer, or comma-separated URLs
                                  e.g. stun:stun.l.google.com:19302 (not needed on one machine or a LAN)
  --heartbeat-ms N  HEARTBEAT_MS  ${C.DEFAULT_HEARTBEAT_MS}; a peer missing ${C.HEARTBEAT_MISSES_ALLOWED} pings in a row is dropped
  --msg-rate N      MSG_RATE      ${C.MESSAGES_PER_SECOND} messages/s per connection (burst ${C.MESSAGE_BURST})
  --conn-rate N     CONN_RATE     ${C.CONNECTIONS_PER_SECOND} new connections/s per IP (burst ${C.CONNECTION_BURST})
  --max-conns-per-ip N  MAX_CONNS_PER_IP  ${C.MAX_CONNECTIONS_PER_IP}
  --max-jobs-per-ip N   MAX_JOBS_PER_IP   ${C.MAX_JOBS_PER_IP} open jobs per IP, all keys together
  --data DIR        DATA_DIR      none (receipt log in memory); else DIR/${C.RECEIPT_LOG_FILE}, append-only
  --redis URL       REDIS_URL     none (one process, state in memory); redis://host:port[/db] shared by any number of
                                  instances: presence, matching, relay, pairings and the receipt log live there.
                                  The password comes from REDIS_PASSWORD (never argv: ps shows it to everyone);
                                  REDIS_PREFIX (default ${C.DEFAULT_REDIS_PREFIX}) namespaces the keys
  --redis-cluster   REDIS_CLUSTER=1  off; the --redis URL is one node of a Redis Cluster (db 0), whose other nodes are
                                  found from it
  --fsync           FSYNC=1       off; flush each receipt to disk before acknowledging it (slower, survives power loss)
  --network ID      NETWORK       kept in DIR/${C.NETWORK_FILE} with --data, else random; names receipts and results
  --trust-proxy LIST  TRUST_PROXY  none; comma-separated proxy IPs whose X-Forwarded-For gives the client address
  --origins LIST    ORIGINS       the server's own origin only; other page origins allowed to connect ('*' for any)
  --max-http-conns N  MAX_HTTP_CONNS  ${C.MAX_HTTP_CONNECTIONS} raw TCP connections in all
  --max-http-conns-per-ip N  MAX_HTTP_CONNS_PER_IP  ${C.MAX_HTTP_CONNECTIONS_PER_IP} raw TCP connections per client address
                    LOG_LEVEL     info (debug | info | warn | error | silent); logs are JSON lines on stdout
  -h, --help        show this help
`;

/** Flags that take no value. */
const BOOLEAN_FLAGS = ['fsync', 'redis-cluster'];

export type CliResult = { help: true } | { help: false; options: SignalingServerOptions };

type Env = Record<string, string | undefined>;

export function parseConfig(argv: readonly string[], env: Env): CliResult {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') return { help: true };
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument ${arg} (see --help)`);
    if (BOOLEAN_FLAGS.includes(arg.slice(2))) {
      flags.set(arg.slice(2), '1');
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new ConfigError(`--${name} needs a value`);
    flags.set(name, value);
  }
  const pick = (flag: string, envName: string) => flags.get(flag) ?? env[envName];
  const known = [
    'port',
    'host',
    'static',
    'ice',
    'heartbeat-ms',
    'msg-rate',
    'conn-rate',
    'max-conns-per-ip',
    'max-jobs-per-ip',
    'data',
    'network',
    'trust-proxy',
    'origins',
    'max-http-conns',
    'max-http-conns-per-ip',
    'redis',
    ...BOOLEAN_FLAGS,
  ];
  for (const name of flags.keys())
    if (!known.includes(name)) throw new ConfigError(`unknown option --${name} (see --help)`);

  const limits: Partial<HubLimits> = {};
  const msgRate = optionalNumber('msg-rate', pick('msg-rate', 'MSG_RATE'), 1);
  if (msgRate !== undefined) limits.messagesPerSecond = msgRate;
  const connRate = optionalNumber('conn-rate', pick('conn-rate', 'CONN_RATE'), 0.01);
  if (connRate !== undefined) limits.connectionsPerSecond = connRate;
  const maxConns = optionalNumber('max-conns-per-ip', pick('max-conns-per-ip', 'MAX_CONNS_PER_IP'), 1);
  if (maxConns !== undefined) limits.maxConnectionsPerIp = maxConns;
  const maxJobsPerIp = optionalNumber('max-jobs-per-ip', pick('max-jobs-per-ip', 'MAX_JOBS_PER_IP'), 1);
  if (maxJobsPerIp !== undefined) limits.maxJobsPerIp = maxJobsPerIp;

  const options: SignalingServerOptions = {
    port: optionalNumber('port', pick('port', 'PORT'), 0, 65535) ?? C.DEFAULT_PORT,
    host: pick('host', 'HOST') || C.DEFAULT_HOST,
    // WEB_OUT_DIR is where vite.config.ts builds when set, so `npm start` serves what it just built.
    staticDir: pick('static', 'STATIC_DIR') || env.WEB_OUT_DIR || C.DEFAULT_STATIC_DIR,
    iceServers: parseIceServers(pick('ice', 'ICE_SERVERS')),
    heartbeatMs:
      optionalNumber('heartbeat-ms', pick('heartbeat-ms', 'HEARTBEAT_MS'), 10, 600_000) ?? C.DEFAULT_HEARTBEAT_MS,
    limits,
  };
  const dataDir = pick('data', 'DATA_DIR');
  if (dataDir) options.dataDir = dataDir;
  const network = pick('network', 'NETWORK');
  if (network !== undefined && network !== '') {
    if (!NETWORK_ID_PATTERN.test(network))
      throw new ConfigError(`--network is 1–64 of A–Z a–z 0–9 _ . -, got ${JSON.stringify(network)}`);
    options.network = network;
  }
  const proxies = list(pick('trust-proxy', 'TRUST_PROXY'));
  for (const ip of proxies)
    if (!isIP(ip)) throw new ConfigError(`--trust-proxy takes IP addresses, got ${JSON.stringify(ip)}`);
  if (proxies.length) options.trustedProxies = proxies;
  const origins = list(pick('origins', 'ORIGINS'));
  for (const origin of origins)
    if (origin !== '*' && !/^https?:\/\/[^/]+$/.test(origin))
      throw new ConfigError(`--origins takes origins like https://example.org, got ${JSON.stringify(origin)}`);
  if (origins.length) options.allowedOrigins = origins;
  const maxHttp = optionalNumber('max-http-conns', pick('max-http-conns', 'MAX_HTTP_CONNS'), 1);
  if (maxHttp !== undefined) options.maxHttpConnections = maxHttp;
  const maxHttpPerIp = optionalNumber(
    'max-http-conns-per-ip',
    pick('max-http-conns-per-ip', 'MAX_HTTP_CONNS_PER_IP'),
    1,
  );
  if (maxHttpPerIp !== undefined) options.maxHttpConnectionsPerIp = maxHttpPerIp;
  const redisUrl = pick('redis', 'REDIS_URL');
  if (redisUrl) {
    let url: URL;
    try {
      url = new URL(redisUrl);
    } catch {
      throw new ConfigError(`--redis takes a URL like redis://127.0.0.1:6379, got ${JSON.stringify(redisUrl)}`);
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
      throw new ConfigError(`--redis takes a redis:// or rediss:// URL, got ${url.protocol}`);
    if (flags.has('redis') && url.password)
      throw new ConfigError('put the Redis password in REDIS_PASSWORD, not in --redis: every user can read argv');
    if (dataDir)
      throw new ConfigError('--data and --redis exclude each other: with Redis the log and pairings live there');
    const prefixRefused = env.REDIS_PREFIX ? prefixProblem(env.REDIS_PREFIX) : null;
    if (prefixRefused) throw new ConfigError(`REDIS_PREFIX: ${prefixRefused}`);
    const cluster = on(pick('redis-cluster', 'REDIS_CLUSTER'));
    if (cluster && !/^\/?0?$/.test(url.pathname))
      throw new ConfigError(`a Redis Cluster has only db 0: drop ${url.pathname} from --redis`);
    options.redis = {
      url: redisUrl,
      ...(env.REDIS_PASSWORD ? { password: env.REDIS_PASSWORD } : {}),
      ...(env.REDIS_PREFIX ? { prefix: env.REDIS_PREFIX } : {}),
      ...(cluster ? { cluster: true } : {}),
    };
  } else if (on(pick('redis-cluster', 'REDIS_CLUSTER'))) throw new ConfigError('--redis-cluster needs --redis URL');
  if (on(pick('fsync', 'FSYNC'))) options.fsync = true;
  return { help: false, options };
}

/** A boolean flag or variable: set, and neither empty nor 0. */
function on(value: string | undefined): boolean {
  return value !== undefined && value !== '' && value !== '0';
}

function list(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
}

function optionalNumber(
  name: string,
  text: string | undefined,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n < min || n > max)
    throw new ConfigError(`--${name} must be a number between ${min} and ${max}, got ${JSON.stringify(text)}`);
  return n;
}

export function parseIceServers(text: string | undefined): IceServer[] {
  if (!text || !text.trim()) return [];
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    let raw: unknown;
    try {
      raw = JSON.parse(trimmed);
    } catch {
      throw new ConfigError('ICE servers: not valid JSON');
    }
    const parsed = v.safeParse(v.pipe(v.array(IceServerSchema), v.maxLength(8)), raw);
    if (!parsed.success) throw new ConfigError(`ICE servers: ${parsed.issues[0].message}`);
    return parsed.output;
  }
  const urls = trimmed
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);
  for (const url of urls)
    if (!/^(stun|stuns|turn|turns):/.test(url))
      throw new ConfigError(`ICE server URL must start with stun:, stuns:, turn: or turns: — got ${url}`);
  return urls.map((urls) => ({ urls }));
}
