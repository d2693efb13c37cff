/**
 * The signaling wire protocol: the one definition both the server and the
 * browser import. Every frame is JSON text; every frame is validated with
 * these schemas on receipt (server: from clients, browser: from the server).
 * Job data never travels here — only pairing and WebRTC handshakes.
 */
import * as v from 'valibot';
import { PEER_ID_PATTERN, SIGNATURE_PATTERN } from '../identity';
import { NETWORK_ID_PATTERN, SESSION_ID_PATTERN } from '../trust/constants';
import { JOB_ID_PATTERN, JobIdSchema } from '../ids';
import { ReceiptSchema } from '../trust/receipts';
import { DISPLAY_NAME_MAX_CHARS, DisplayNameSchema } from './displayName';

/** 2: `matched` carries the pairing's session and network, which signed results and receipts bind (SPEC BIND1–BIND3). */
export const PROTOCOL_VERSION = 2;
export const SUPPORTED_VERSIONS: readonly number[] = [PROTOCOL_VERSION];

/** The HTTP path the signaling WebSocket is served on (same origin as the web app). */
export const SIGNALING_PATH = '/ws';

/** Largest signaling frame accepted, in bytes. An SDP offer is ~1–4 KiB. */
export const MAX_FRAME_BYTES = 64 * 1024;

/** WebSocket close codes. 1008/1009 are RFC 6455; 4xxx are ours. */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  policy: 1008,
  /** RFC 6455 "try again later": this server cannot serve a newcomer now (shared state down); try another. */
  tryAgainLater: 1013,
  tooBig: 1009,
  authFailed: 4001,
  versionMismatch: 4002,
  heartbeatTimeout: 4003,
  replaced: 4004,
} as const;

export const PeerIdSchema = v.pipe(
  v.string(),
  v.regex(PEER_ID_PATTERN, 'peer id is the canonical base64url of an Ed25519 public key'),
);
const NonceSchema = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{43}$/));
const SignatureSchema = v.pipe(
  v.string(),
  v.regex(SIGNATURE_PATTERN, 'signature is the canonical base64url of 64 bytes'),
);
const ShortText = v.pipe(v.string(), v.maxLength(256));
const Finite = v.pipe(v.number(), v.finite());
const Count = (max: number) => v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(max));

export const RoleSchema = v.picklist(['provider', 'requester']);
export type Role = v.InferOutput<typeof RoleSchema>;

export const BackendSchema = v.picklist(['webgpu', 'wasm']);
export type Backend = v.InferOutput<typeof BackendSchema>;

export const AdapterInfoSchema = v.strictObject({
  vendor: ShortText,
  architecture: ShortText,
  device: ShortText,
  description: ShortText,
});
export type AdapterInfo = v.InferOutput<typeof AdapterInfoSchema>;

/** What a provider measured about itself. `gflops` is for `backend`, the one it chose. */
export const CapabilitiesSchema = v.strictObject({
  backend: BackendSchema,
  gflops: v.pipe(Finite, v.minValue(0), v.maxValue(1e6)),
  /** GFLOP/s measured per backend, so a requester can see why it chose. */
  measured: v.strictObject({
    webgpu: v.optional(v.pipe(Finite, v.minValue(0), v.maxValue(1e6))),
    wasm: v.optional(v.pipe(Finite, v.minValue(0), v.maxValue(1e6))),
  }),
  adapter: v.optional(AdapterInfoSchema),
  features: v.pipe(v.array(ShortText), v.maxLength(64)),
  maxBufferBytes: Count(2 ** 53),
  wasm: v.strictObject({ simd: v.boolean(), threads: v.boolean(), cores: Count(1024) }),
});
export type Capabilities = v.InferOutput<typeof CapabilitiesSchema>;

/** `train`: one provider trains a model for the requester (issue 18); the matchmaker pairs it like any job. */
export const JobKindSchema = v.picklist(['inference', 'train']);
export const JobNeedsSchema = v.strictObject({
  kind: JobKindSchema,
  /** Most providers this job wants at once. */
  maxProviders: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(64)),
  units: Count(10_000_000),
  modelBytes: Count(2 ** 32),
  minGflops: v.optional(v.pipe(Finite, v.minValue(0))),
  backends: v.optional(v.pipe(v.array(BackendSchema), v.minLength(1), v.maxLength(2))),
});
export type JobNeeds = v.InferOutput<typeof JobNeedsSchema>;

export const IceServerSchema = v.strictObject({
  urls: v.union([ShortText, v.pipe(v.array(ShortText), v.maxLength(8))]),
  username: v.optional(ShortText),
  credential: v.optional(ShortText),
});
export type IceServer = v.InferOutput<typeof IceServerSchema>;

/** The WebRTC handshake blobs simple-peer emits for a data-channel-only peer. */
/** Longest SDP in an offer or answer, in UTF-16 code units (valibot's maxLength). */
const MAX_SDP_CHARS = 32 * 1024;

export const SignalPayloadSchema = v.variant('type', [
  v.strictObject({ type: v.picklist(['offer', 'answer']), sdp: v.pipe(v.string(), v.maxLength(MAX_SDP_CHARS)) }),
  v.strictObject({
    type: v.literal('candidate'),
    candidate: v.strictObject({
      candidate: v.pipe(v.string(), v.maxLength(1024)),
      sdpMLineIndex: v.optional(v.nullable(Count(64))),
      sdpMid: v.optional(v.nullable(ShortText)),
      usernameFragment: v.optional(v.nullable(ShortText)),
    }),
  }),
]);
export type SignalPayload = v.InferOutput<typeof SignalPayloadSchema>;

// ---------------------------------------------------------------- trust (receipts, reports)

/**
 * Most receipts in one `receipts` frame. A receipt is ~480 bytes of JSON, so 64
 * fill about half of MAX_FRAME_BYTES, leaving room for long job ids.
 */
export const MAX_RECEIPTS_PER_BATCH = 64;

/** Why the server refused one receipt of a batch (signaling SPEC CREDIT2, CREDIT3, CREDIT7). */
export const ReceiptRejectReasonSchema = v.picklist([
  /** id does not match the contents, or a field is out of bounds (e.g. issued in the future). */
  'invalid-receipt',
  /** The requester signature does not verify. */
  'bad-signature',
  /** Signed by a requester key other than the connection's own. */
  'wrong-requester',
  /** The provider key is not a canonical 32-byte key, or is the requester itself. */
  'bad-provider',
  /** The receipt id, or another receipt for the same (requester, provider, job, unit), is already logged. */
  'replay',
  /** The server's log is at its configured size limit. */
  'log-full',
  /** The server never paired this provider with this job of this requester, or the pairing's grace has passed. */
  'not-paired',
  /** More FLOPs than the time paired × the backend's ceiling, or more units than the pairing may hold. */
  'over-budget',
  /** A v2 receipt naming another network than this server's (SPEC BIND1). */
  'wrong-network',
]);
export type ReceiptRejectReason = v.InferOutput<typeof ReceiptRejectReasonSchema>;

export const VerdictSchema = v.picklist(['rejected']);
export type Verdict = v.InferOutput<typeof VerdictSchema>;

const HashHex = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, 'hash is 64 lowercase hex digits'));

/** The receipt log's head: `length` entries, the last one hashing to `hash` (GENESIS_HASH when empty). */
export const LogHeadSchema = v.strictObject({ length: Count(2 ** 53), hash: HashHex });
export type LogHeadInfo = v.InferOutput<typeof LogHeadSchema>;

// ---------------------------------------------------------------- client → server

/** The relay's hot frame: checked with its own schema first (decodeClientMessage), the same object the variant holds. */
const SignalMessageSchema = v.strictObject({
  type: v.literal('signal'),
  to: PeerIdSchema,
  jobId: JobIdSchema,
  payload: SignalPayloadSchema,
});

export const ClientMessageSchema = v.variant('type', [
  v.strictObject({
    type: v.literal('hello'),
    v: v.pipe(v.number(), v.integer()),
    role: RoleSchema,
    client: v.optional(ShortText),
  }),
  v.strictObject({ type: v.literal('auth'), publicKey: PeerIdSchema, signature: SignatureSchema }),
  v.strictObject({
    type: v.literal('announce'),
    capabilities: CapabilitiesSchema,
    slots: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(8)),
  }),
  v.strictObject({ type: v.literal('status'), busy: Count(8), paused: v.boolean() }),
  v.strictObject({ type: v.literal('job-open'), jobId: JobIdSchema, needs: JobNeedsSchema }),
  v.strictObject({ type: v.literal('job-close'), jobId: JobIdSchema }),
  v.strictObject({ type: v.literal('release'), jobId: JobIdSchema, peerId: PeerIdSchema }),
  SignalMessageSchema,
  v.strictObject({ type: v.literal('ping'), t: Finite }),
  /**
   * Provider only: the leaderboard name for this key, signed over displayNameMessage (SPEC NAME2); `''` clears it.
   * Only the length is bounded here: the server checks NAME1 itself so its answer can say what to change.
   */
  v.strictObject({
    type: v.literal('display-name'),
    name: v.pipe(v.string(), v.maxLength(4 * DISPLAY_NAME_MAX_CHARS)),
    signature: SignatureSchema,
  }),
  /** Requester only: receipts it signed for accepted units, for the server's public log. */
  v.strictObject({
    type: v.literal('receipts'),
    receipts: v.pipe(v.array(ReceiptSchema), v.minLength(1), v.maxLength(MAX_RECEIPTS_PER_BATCH)),
  }),
  /** Requester only: it caught `peerId` returning wrong results in `jobId`; excludes it from that job. */
  v.strictObject({
    type: v.literal('report'),
    jobId: JobIdSchema,
    peerId: PeerIdSchema,
    verdict: VerdictSchema,
    reason: ShortText,
  }),
]);
export type ClientMessage = v.InferOutput<typeof ClientMessageSchema>;

// ---------------------------------------------------------------- server → client

export const ErrorCodeSchema = v.picklist([
  'bad-json',
  'too-large',
  'invalid',
  'unknown-type',
  'version',
  'auth',
  'not-authenticated',
  'wrong-role',
  'rate-limited',
  'not-paired',
  'unknown-job',
  /** Shared state (Redis) is out of reach: what needs it is refused until it returns; try another server. */
  'unavailable',
  'internal',
]);
export type ErrorCode = v.InferOutput<typeof ErrorCodeSchema>;

export const ServerMessageSchema = v.variant('type', [
  v.strictObject({
    type: v.literal('challenge'),
    v: v.pipe(v.number(), v.integer()),
    nonce: NonceSchema,
    expiresInMs: Count(600_000),
  }),
  v.strictObject({
    type: v.literal('welcome'),
    peerId: PeerIdSchema,
    iceServers: v.pipe(v.array(IceServerSchema), v.maxLength(8)),
    heartbeatMs: Count(600_000),
  }),
  v.strictObject({
    type: v.literal('matched'),
    jobId: JobIdSchema,
    peerId: PeerIdSchema,
    role: RoleSchema,
    /** Present when the peer is a provider. */
    capabilities: v.optional(CapabilitiesSchema),
    /** The pairing's id, the same on both sides: signed results bind it (SPEC BIND2). */
    session: v.pipe(v.string(), v.regex(SESSION_ID_PATTERN)),
    /** The server's network id: receipts and signed results name it (SPEC BIND1). */
    network: v.pipe(v.string(), v.regex(NETWORK_ID_PATTERN)),
  }),
  v.strictObject({ type: v.literal('unmatched'), jobId: JobIdSchema, peerId: PeerIdSchema, reason: ShortText }),
  v.strictObject({ type: v.literal('signal'), from: PeerIdSchema, jobId: JobIdSchema, payload: SignalPayloadSchema }),
  v.strictObject({ type: v.literal('pong'), t: Finite }),
  v.strictObject({
    type: v.literal('error'),
    code: ErrorCodeSchema,
    message: v.pipe(v.string(), v.maxLength(1024)),
    supported: v.optional(v.array(v.number())),
  }),
  /** Answer to `receipts`, in batch order: how many were logged, which were refused and why, and the log head after. */
  v.strictObject({
    type: v.literal('receipts-ack'),
    accepted: Count(MAX_RECEIPTS_PER_BATCH),
    rejected: v.pipe(
      v.array(
        v.strictObject({
          id: v.pipe(v.string(), v.maxLength(64)),
          reason: ReceiptRejectReasonSchema,
          message: ShortText,
        }),
      ),
      v.maxLength(MAX_RECEIPTS_PER_BATCH),
    ),
    head: LogHeadSchema,
  }),
  /** Answer to `display-name` (SPEC NAME2): the name now shown (null: none), or why this one was refused. */
  v.strictObject({
    type: v.literal('display-name-ack'),
    accepted: v.boolean(),
    name: v.nullable(DisplayNameSchema),
    message: ShortText,
  }),
]);
export type ServerMessage = v.InferOutput<typeof ServerMessageSchema>;

export type ClientMessageOf<T extends ClientMessage['type']> = Extract<ClientMessage, { type: T }>;
export type ServerMessageOf<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;

export type DecodeResult<T> = { ok: true; message: T } | { ok: false; code: ErrorCode; error: string };

/** Parses one text frame. Never throws; size is checked before JSON.parse allocates. */
export function decodeFrame<T>(
  schema: v.GenericSchema<unknown, T>,
  text: string,
  /**
   * A member of `schema` to try directly for frames of its type (the hot one), skipping the variant dispatch;
   * `accepts`, when given, is a hand-written check that passes only frames `schema` passes unchanged
   * (anything it does not pass, valid or not, gets the schema's verdict and error).
   */
  fast?: {
    type: string;
    schema: v.GenericSchema<unknown, T>;
    accepts?: (raw: Record<string, unknown>) => boolean;
  },
): DecodeResult<T> {
  if (text.length > MAX_FRAME_BYTES)
    return { ok: false, code: 'too-large', error: `frame of ${text.length} bytes exceeds ${MAX_FRAME_BYTES}` };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, code: 'bad-json', error: 'frame is not valid JSON' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return { ok: false, code: 'invalid', error: 'frame must be a JSON object' };
  const type = (raw as { type?: unknown }).type;
  if (typeof type !== 'string') return { ok: false, code: 'invalid', error: 'frame has no string "type"' };
  if (fast && type === fast.type && fast.accepts?.(raw as Record<string, unknown>))
    return { ok: true, message: raw as T };
  const result = v.safeParse(fast && type === fast.type ? fast.schema : schema, raw);
  if (result.success) return { ok: true, message: result.output };
  const issue = result.issues[0];
  const path = issue.path?.map((p) => String(p.key)).join('.') ?? '';
  const unknownType = issue.kind === 'schema' && issue.type === 'variant' && path === 'type';
  return unknownType
    ? { ok: false, code: 'unknown-type', error: `unknown message type ${JSON.stringify(type).slice(0, 64)}` }
    : { ok: false, code: 'invalid', error: `${type}: ${path ? path + ': ' : ''}${issue.message}` };
}

/** Whether `o`'s enumerable keys are exactly `keys` (strict objects, PROTO5). */
function hasExactKeys(o: object, keys: readonly string[]): boolean {
  let n = 0;
  for (const key in o) {
    if (!keys.includes(key)) return false;
    n++;
  }
  return n === keys.length;
}

const SIGNAL_KEYS = ['type', 'to', 'jobId', 'payload'] as const;
const SDP_KEYS = ['type', 'sdp'] as const;

/**
 * The relay's common frame, an offer or answer, checked by hand: valibot's generic walk was
 * ~1 µs of the server's per-message work (bench:signaling). It passes a subset of what
 * SignalMessageSchema passes, with the same rules; candidates and every frame it does not
 * pass go to the schema, so verdicts and error messages are the schema's (tested against it).
 */
function isOfferOrAnswerSignal(raw: Record<string, unknown>): boolean {
  const { to, jobId, payload } = raw;
  if (typeof to !== 'string' || typeof jobId !== 'string') return false;
  if (typeof payload !== 'object' || payload === null) return false;
  const { type, sdp } = payload as Record<string, unknown>;
  if ((type !== 'offer' && type !== 'answer') || typeof sdp !== 'string' || sdp.length > MAX_SDP_CHARS) return false;
  return (
    hasExactKeys(raw, SIGNAL_KEYS) &&
    hasExactKeys(payload, SDP_KEYS) &&
    PEER_ID_PATTERN.test(to) &&
    JOB_ID_PATTERN.test(jobId)
  );
}

const SIGNAL_FAST_PATH = {
  type: 'signal',
  schema: SignalMessageSchema as v.GenericSchema<unknown, ClientMessage>,
  accepts: isOfferOrAnswerSignal,
};
/** The schema alone, without the fast path: the reference decodeClientMessage is tested against. */
export const decodeClientMessageBySchema = (text: string) => decodeFrame(ClientMessageSchema, text);
export const decodeClientMessage = (text: string) => decodeFrame(ClientMessageSchema, text, SIGNAL_FAST_PATH);
export const decodeServerMessage = (text: string) => decodeFrame(ServerMessageSchema, text);

const TO_KEY = '"to"';

/**
 * The `signal` frame the relay forwards, made from the sender's own text: its
 * `"to":"<id>"` member becomes `"from":"<sender>"` and the rest, the payload
 * above all, is passed on as it came instead of being serialised again. The
 * text must have decoded to a signal (so its keys are exactly type, to, jobId
 * and payload, all valid). Only when `"to"` occurs once in the text, followed
 * at once by `:"<to>"`: an unescaped quote cannot sit inside a JSON string, so
 * that occurrence is the key, and there is no duplicate `to` (JSON.parse keeps
 * a duplicate key's last value; a receiver parsing this text sees the same
 * members the relay checked). Otherwise null: serialise the frame instead.
 */
export function spliceSignalFrame(text: string, to: string, from: string): string | null {
  const at = text.indexOf(TO_KEY);
  if (at < 0 || text.indexOf(TO_KEY, at + TO_KEY.length) >= 0) return null;
  const value = at + TO_KEY.length;
  if (text.charCodeAt(value) !== 58 /* : */ || text.charCodeAt(value + 1) !== 34 /* " */) return null;
  const end = value + 2 + to.length;
  if (text.charCodeAt(end) !== 34 || !text.startsWith(to, value + 2)) return null;
  return `${text.slice(0, at)}"from":"${from}"${text.slice(end + 1)}`;
}

// ---------------------------------------------------------------- HTTP API (trust)

/** Paths of the server's public trust endpoints (signaling SPEC HTTP9–HTTP12). */
export const TRUST_PATHS = {
  leaderboard: '/leaderboard',
  receipts: '/receipts/',
  log: '/log',
  logHead: '/log/head',
} as const;

export const LeaderboardRowSchema = v.strictObject({
  provider: PeerIdSchema,
  /** The name the provider's key signed (SPEC NAME2), when it set one on this server. */
  name: v.optional(DisplayNameSchema),
  /** Credit: sum of FLOPs over the provider's logged receipts. */
  flops: v.pipe(Finite, v.minValue(0)),
  units: Count(2 ** 53),
  /** Distinct requester keys that credited it; 1 may be a requester crediting itself. */
  requesters: Count(2 ** 53),
  /** Latest `issuedAt` (ms since epoch, the requester's clock) among its receipts. */
  lastCreditedAt: Count(2 ** 53),
});
export type LeaderboardRow = v.InferOutput<typeof LeaderboardRowSchema>;

/** `GET /leaderboard?limit=&minRequesters=`: rows by credit, descending. */
export const LeaderboardResponseSchema = v.strictObject({
  head: LogHeadSchema,
  /** Providers with any credit (before `limit` and `minRequesters`). */
  providers: Count(2 ** 53),
  rows: v.pipe(v.array(LeaderboardRowSchema), v.maxLength(1000)),
});
export type LeaderboardResponse = v.InferOutput<typeof LeaderboardResponseSchema>;
