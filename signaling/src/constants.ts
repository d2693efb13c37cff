/**
 * Every tunable of the signaling server, with why it has this value.
 * Options passed to createSignalingServer override these; the CLI exposes the
 * ones a self-hoster plausibly needs.
 */

/** Default listen port; 8080 is the conventional unprivileged HTTP alt port. */
export const DEFAULT_PORT = 8080;

/** Loopback by default so a first run never exposes the server; 0.0.0.0 to share on a LAN. */
export const DEFAULT_HOST = '127.0.0.1';

/** Where `vite build` puts the web app (vite.config.ts outDir). */
export const DEFAULT_STATIC_DIR = 'dist/web';

/** A challenge must be answered within this window (SPEC AUTH3); a browser signs in < 10 ms. */
export const NONCE_TTL_MS = 30_000;

/** 32 random bytes: 256 bits, so guessing or colliding a nonce is out of reach. */
export const NONCE_BYTES = 32;

/**
 * WebSocket ping interval. 15 s keeps NAT/proxy idle timers (typically 30–60 s)
 * open and reaps a dead tab within ~45 s.
 */
export const DEFAULT_HEARTBEAT_MS = 15_000;

/** Pings a connection may miss before it is reaped (SPEC HB2): one lost ping is not death. */
export const HEARTBEAT_MISSES_ALLOWED = 2;

/**
 * Hard cap handed to `ws` (maxPayload): above it ws itself closes with 1009 without
 * buffering the frame. Between MAX_FRAME_BYTES and this we answer with an error frame.
 */
export const HARD_MAX_PAYLOAD_BYTES = 256 * 1024;

/**
 * Per-connection message bucket. A requester pairing with 8 providers sends an
 * offer plus ~10–20 ICE candidates per provider within a second (~170 frames),
 * so the burst is 256 and the sustained rate 64/s.
 */
export const MESSAGE_BURST = 256;
export const MESSAGES_PER_SECOND = 64;

/**
 * New connections per IP: a bucket of 60 refilled at 2/s. An e2e run opens ~5 tabs
 * and reloads a few, all from 127.0.0.1 (loopback is not exempt, SPEC RATE4).
 */
export const CONNECTION_BURST = 60;
export const CONNECTIONS_PER_SECOND = 2;

/** Concurrent connections per IP: a household or office NAT with a few dozen tabs. */
export const MAX_CONNECTIONS_PER_IP = 64;

/** Rejected (over-rate) messages tolerated before closing with 1008. */
export const RATE_LIMIT_STRIKES = 20;

/** Malformed/forbidden frames tolerated before closing with 1008 (a buggy client gets a few errors first). */
export const PROTOCOL_STRIKES = 10;

/** Oversized frames tolerated before closing with 1009. */
export const OVERSIZE_STRIKES = 3;

/**
 * Bytes queued to one socket before we call it a slow consumer and close it (1008).
 * Signaling frames are small; 1 MiB is hundreds of SDP offers the peer has not read.
 */
export const MAX_BUFFERED_BYTES = 1024 * 1024;

/**
 * Frames that may wait behind an in-flight async handler (auth verify, a receipt
 * batch) before each further frame is refused with `rate-limited` (SPEC RATE6).
 * The message bucket already bounds a burst to MESSAGE_BURST, so this equals it:
 * a client within its budget is never refused, and the backlog's memory is bounded
 * by the bucket (256 × 64 KiB at worst). It was 64 and closed the connection, which
 * cut off an offer plus 80 ICE candidates arriving in one socket read.
 */
export const MAX_PENDING_FRAMES = MESSAGE_BURST;

/** After a close frame, how long a socket gets to finish the handshake before it is destroyed. */
export const CLOSE_GRACE_MS = 1_000;

/** Shutdown waits this long for clients to acknowledge 1001 before destroying sockets. */
export const SHUTDOWN_GRACE_MS = 2_000;

/** Open jobs per requester: a dashboard runs a handful; this bounds server memory per key. */
export const MAX_JOBS_PER_REQUESTER = 32;

/**
 * Open jobs per IP, all keys together: two full dashboards behind one NAT. Without
 * it one address minting keys opened 2,048 unmatchable jobs (SPEC RATE7), and every
 * hungry job is visited when a provider frees up (MATCH9).
 */
export const MAX_JOBS_PER_IP = 64;

// ---------------------------------------------------------------- trust (SPEC CREDIT*, REP*)

/**
 * Receipts per requester key: a bucket of 2,048 refilled at 256/s, on top of the
 * message bucket (RATE3). It follows the key, not the connection, so reconnecting
 * does not refill it. A 10,000-unit job credited at its end is ~160 batches of 64
 * and drains in ~40 s; each receipt costs one Ed25519 verify and two SHA-256
 * (~0.1 ms in Node 20 here), so one requester can use at most ~3% of a core.
 */
export const RECEIPT_BURST = 2_048;
export const RECEIPTS_PER_SECOND = 256;

/**
 * Receipts per IP, all keys together: twice one key's budget, so a household or
 * office NAT with a couple of requesters is never limited by it, while one
 * address minting keys gets no more than two honest requesters would.
 */
export const RECEIPT_IP_BURST = 4_096;
export const RECEIPTS_PER_IP_PER_SECOND = 512;

/**
 * Receipts the whole server verifies per second. 2,048/s at ~0.1 ms each is ~20%
 * of one core: the relay keeps the rest whatever many IPs send. A refused batch
 * stays in the requester's outbox and is re-sent, so the cost of hitting it is delay.
 */
export const RECEIPT_SERVER_BURST = 8_192;
export const RECEIPTS_PER_SERVER_PER_SECOND = 2_048;

/**
 * Entries the receipt log may hold. The log and its indexes live in memory
 * (~1 KiB per entry with the per-provider index), so 1,000,000 is ~1 GiB: the
 * most a small self-hosted box should give it. Past it receipts get `log-full`.
 */
export const MAX_LOG_ENTRIES = 1_000_000;

/** A receipt issued further in the future than this (requester clock ahead of ours) is refused: `lastCreditedAt` must not be forgeable forward. */
export const MAX_RECEIPT_CLOCK_SKEW_MS = 10 * 60_000;

/**
 * Display names kept (SPEC NAME3): ~100 bytes each, so 100,000 is ~10 MiB, more keys than a leaderboard's
 * 1,000 rows ever show. Past it the oldest-set name goes; its provider's page sets it again on reconnect.
 */
export const MAX_DISPLAY_NAMES = 100_000;

/** Leaderboard rows: 100 by default fills a landing-page table; 1,000 caps the cost of one request. */
export const LEADERBOARD_DEFAULT_LIMIT = 100;
export const LEADERBOARD_MAX_LIMIT = 1_000;

/** `minRequesters` above this is pointless for a volunteer network and would only multiply cached views. */
export const LEADERBOARD_MAX_MIN_REQUESTERS = 16;

/** Log entries per page of /receipts/:id and /log: 100 by default; 500 (~300 KiB of JSON) at most. */
export const LOG_PAGE_DEFAULT = 100;
export const LOG_PAGE_MAX = 500;

/**
 * The network id of a ledger not told one (library use, tests). The server always
 * sets one: `--network`, else the id kept in DIR/network.json, else a random one
 * per process, so two deployments never share an id by default (SPEC BIND1).
 */
export const DEFAULT_NETWORK = 'local';

/** Where a server with --data keeps its network id, so it survives restarts with the log. */
export const NETWORK_FILE = 'network.json';

/** A pairing session id: 16 random bytes (128 bits), unguessable and collision-free. */
export const SESSION_ID_BYTES = 16;

/** File name of the receipt log inside --data DIR: one JSON log entry per line, append-only. */
export const RECEIPT_LOG_FILE = 'receipts.jsonl';

/** The head last published and verified, beside the log (SPEC CREDIT15). */
export const RECEIPT_CHECKPOINT_FILE = 'receipts.head.json';

/**
 * How often the checkpoint follows the log: at most one small atomic write per
 * second. A tail deleted within the last second before a crash is the only one
 * start-up cannot notice; every entry older than that is pinned by the checkpoint.
 */
export const CHECKPOINT_INTERVAL_MS = 1_000;

// ---------------------------------------------------------------- pairings bound credit (SPEC CREDIT10–CREDIT12)

/**
 * A requester may log receipts for a pairing this long after it ended. Its receipt
 * outbox (IndexedDB) re-sends after reconnects and restarts, e.g. a laptop closed
 * at the end of a job and opened the next day. Longer buys an attacker nothing
 * more: the pairing's FLOP budget and unit cap are fixed when it ends.
 */
export const PAIRING_GRACE_MS = 24 * 3_600_000;

/**
 * FLOP/s a pairing can have earned per second paired, by announced backend: the
 * most the server can check without trusting the requester. WebGPU: f32 peaks of
 * the fastest cards are ~67 TFLOP/s (H200, DESIGN.md) to ~105 (RTX 5090); 200e12
 * leaves room for f16 and the next generation. WASM: 64 cores × 32 flop/cycle
 * (2×AVX-512 FMA, f32) × 4 GHz ≈ 8e12; 10e12 is above any browser's reach.
 */
export const FLOPS_CEILING_PER_SECOND = { webgpu: 200e12, wasm: 10e12 } as const;

/**
 * Units one pairing may be credited for, and never more than the job announced
 * (`needs.units`). 65,536 is a provider doing a whole large batch job alone; it
 * bounds the log's growth per real pairing (SPEC CREDIT11).
 */
export const MAX_UNITS_PER_PAIRING = 65_536;

/** File of pairing starts and ends inside --data DIR, kept beside the receipt log. */
export const PAIRINGS_FILE = 'pairings.jsonl';

/**
 * A report counts in full once its reporter has credited this many units to
 * providers other than the one it reports (SPEC REP4), and proportionally below.
 * Credit is bound to real pairings and time (CREDIT10–11), so standing costs real
 * paired work; a throwaway key has none and its report weighs 0. 20 units is a
 * small first job: an honest new requester is believed after one.
 */
export const REPORT_FULL_WEIGHT_UNITS = 20;

/** File of reports inside --data DIR, kept beside the receipt log (SPEC REP5). */
export const REPORTS_FILE = 'reports.jsonl';

// ---------------------------------------------------------------- the HTTP edge (SPEC EDGE*)

/**
 * Raw TCP connections the server keeps open in all, before any HTTP is read.
 * Each costs a file descriptor; ~20k idle ones exhausted them before any other
 * cap applied. 16,384 leaves room for the log files and the bench's 6,000
 * connections; raise `ulimit -n` above it (Debian's soft default is 1,024).
 */
export const MAX_HTTP_CONNECTIONS = 16_384;

/**
 * Raw TCP connections per client address: 4× the WebSocket cap (RATE2), so page
 * loads, asset fetches and sockets of a busy NAT fit, while one address cannot hold
 * the server's descriptors. Trusted proxies are exempt (they carry everyone).
 */
export const MAX_HTTP_CONNECTIONS_PER_IP = 4 * MAX_CONNECTIONS_PER_IP;

/** A connection must finish its request headers within this: idle sockets do not hold descriptors for Node's 60 s default. */
export const HTTP_HEADERS_TIMEOUT_MS = 10_000;

// ---------------------------------------------------------------- shared state (--redis, SPEC SCALE*)

/** Appends retried when another instance appended to the shared receipt log first; contention is per receipt, so a few suffice. */
export const SHARED_LOG_APPEND_ATTEMPTS = 8;
/**
 * How long a published op may take to come back through the shared log before
 * the request is refused as unavailable. A Redis round trip is ~1 ms on a LAN;
 * 5 s covers a busy server without leaving a client waiting forever.
 */
export const SHARED_APPLY_TIMEOUT_MS = 5_000;
/**
 * An instance renews its liveness (its entry in the `instances` sorted set)
 * this often, for LIVENESS_TTL_MS: three missed renewals and the others drop its peers. Short,
 * because its requesters wait that long to be re-paired; not shorter, because
 * a GC pause or a Redis failover must not drop a healthy instance.
 */
export const LIVENESS_RENEW_MS = 1_000;
export const LIVENESS_TTL_MS = 3_000;
/** How long one blocking read of the shared log waits; bounds how late a close is noticed, not latency. */
export const SHARED_LOG_BLOCK_MS = 1_000;
/** Ops read per round trip while replaying or catching up. */
export const SHARED_LOG_BATCH = 512;
/** Key prefix of everything the server keeps in Redis, so one Redis can hold other data (or a test's) beside it. */
export const DEFAULT_REDIS_PREFIX = 'bcn:';
/**
 * Ops an instance applies between snapshots of its replica (SPEC SCALE7). After
 * one, the op stream is trimmed to what the last snapshot and every live
 * instance still need, so it holds about this many ops instead of every change
 * since the first start. A snapshot is a few hundred bytes per peer and job, so
 * at the default caps (thousands of peers) it is a few MB written every
 * 10,000 changes: cheap next to replaying an unbounded stream on every start.
 */
export const SNAPSHOT_EVERY_OPS = 10_000;
/** Receipt log entries read per round trip while a snapshot's credit index is rebuilt. */
export const SNAPSHOT_READ_BATCH = 2_048;
/** How long the instance that writes a snapshot holds the right to; the others skip that round. */
export const SNAPSHOT_LOCK_MS = 30_000;
