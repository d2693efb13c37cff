/**
 * What instances of the server share: one ordered log of state changes
 * (presence, jobs, pairings, reports, logged receipts) that every instance
 * applies to its own replica of the matchmaker and ledger, and a relay for
 * frames addressed to a peer held by another instance (SPEC SCALE*).
 *
 * The matchmaker is deterministic, so instances that apply the same ops in the
 * same order hold the same pairings without asking each other. In memory (one
 * process) an op is applied the moment it is published; on Redis
 * (redis-state.ts) it goes through a Redis Stream and comes back to every
 * instance, this one included.
 */
import * as v from 'valibot';
import {
  CapabilitiesSchema,
  DisplayNameSchema,
  JobNeedsSchema,
  PeerIdSchema,
  RoleSchema,
  ServerMessageSchema,
  type ServerMessage,
} from '@shared/protocol';
import type { ReceiptLogStorage } from '@shared/trust';
import { JobIdSchema as JobId } from '@shared/ids';
import { LogEntrySchema } from './receipt-file';
import type { ReplicaSnapshot } from './replica-snapshot';

const InstanceId = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,64}$/));
const Time = v.pipe(v.number(), v.integer(), v.minValue(0));
const ConnId = v.pipe(v.number(), v.integer(), v.minValue(0));

/**
 * One change every instance applies. `instance` is who published it, `at` its
 * clock then (pairing times use it, so every replica computes the same budgets),
 * and `nonce` seeds the session ids of the pairings it makes.
 */
export const SharedOpSchema = v.intersect([
  v.object({ instance: InstanceId, at: Time, nonce: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{22}$/)) }),
  v.variant('op', [
    v.object({ op: v.literal('join'), role: RoleSchema, peer: PeerIdSchema, conn: ConnId }),
    v.object({ op: v.literal('leave'), role: RoleSchema, peer: PeerIdSchema, conn: ConnId }),
    v.object({
      op: v.literal('announce'),
      peer: PeerIdSchema,
      capabilities: CapabilitiesSchema,
      slots: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(64)),
      status: v.optional(v.object({ busy: v.pipe(v.number(), v.integer(), v.minValue(0)), paused: v.boolean() })),
    }),
    v.object({
      op: v.literal('status'),
      peer: PeerIdSchema,
      busy: v.pipe(v.number(), v.integer(), v.minValue(0)),
      paused: v.boolean(),
    }),
    v.object({ op: v.literal('job-open'), requester: PeerIdSchema, jobId: JobId, needs: JobNeedsSchema }),
    v.object({ op: v.literal('job-close'), requester: PeerIdSchema, jobId: JobId }),
    v.object({ op: v.literal('release'), requester: PeerIdSchema, jobId: JobId, provider: PeerIdSchema }),
    v.object({ op: v.literal('report'), requester: PeerIdSchema, jobId: JobId, provider: PeerIdSchema }),
    /** Every peer `gone` held has left: it stopped renewing its liveness (or lost Redis for too long). */
    v.object({ op: v.literal('instance-gone'), gone: InstanceId }),
    /** A provider's signed display name, checked by the instance holding it (NAME2); null clears it (NAME3). */
    v.object({ op: v.literal('name'), peer: PeerIdSchema, name: v.nullable(DisplayNameSchema) }),
    /** A receipt was appended to the shared log: every replica indexes it (leaderboard, pairing budgets, standing). */
    v.object({ op: v.literal('credit'), entry: LogEntrySchema }),
  ]),
]);
export type SharedOp = v.InferOutput<typeof SharedOpSchema>;

/** Distributes Omit over the union, so each op keeps its own fields. */
type OmitEach<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;
/** What a caller publishes; the state stamps `instance`, `at` and `nonce`. */
export type SharedOpInput = OmitEach<SharedOp, 'instance' | 'at' | 'nonce'>;

/** A frame for a peer held by another instance. */
export const RelayedFrameSchema = v.object({
  role: RoleSchema,
  peer: PeerIdSchema,
  frame: ServerMessageSchema,
});
export type RelayedFrame = { role: v.InferOutput<typeof RoleSchema>; peer: string; frame: ServerMessage };

/** Thrown by publish() and relay() while shared state cannot be reached. */
export class SharedStateUnavailable extends Error {
  override readonly name = 'SharedStateUnavailable';
}

export interface SharedStateHealth {
  kind: 'memory' | 'redis';
  /** Whether what needs shared state can be served now. */
  up: boolean;
  /** Ops applied from the shared log since start. */
  applied: number;
}

/** The per-IP budgets that hold across instances (SPEC RATE8): the hub's limits of the same names. */
export interface IpQuotaLimits {
  connectionBurst: number;
  connectionsPerSecond: number;
  maxConnectionsPerIp: number;
  receiptIpBurst: number;
  receiptsPerIpPerSecond: number;
  maxJobsPerIp: number;
}

/**
 * Per-IP quotas counted over every instance (SPEC RATE8), on top of the ones
 * each instance keeps for itself. Every method throws (or rejects with)
 * SharedStateUnavailable while shared state cannot be reached.
 */
export interface SharedQuotas {
  /**
   * Whether a new connection from `ip` fits the network's RATE1 and RATE2
   * budgets, given that this instance would then hold `heldHere` connections
   * from it (this one included); when it fits, that count is recorded.
   */
  admitConnection(ip: string, heldHere: number): Promise<'ok' | 'rate' | 'concurrent'>;
  /** This instance now holds `heldHere` connections from `ip`. Never throws: a failed write is retried by flush(). */
  holding(ip: string, heldHere: number): void;
  /** Takes `n` receipts from the IP's shared budget (CREDIT13), all or none. */
  takeReceipts(ip: string, n: number): Promise<boolean>;
  /**
   * Whether one more open job of requesters from `ip` fits RATE7 over every instance, given that this
   * instance's requesters from it would then hold `heldHere` (this one included); when it fits, that count
   * is recorded.
   */
  admitJob(ip: string, heldHere: number): Promise<boolean>;
  /** This instance's requesters from `ip` now hold `heldHere` open jobs. Never throws: a failed write is retried by flush(). */
  jobsHolding(ip: string, heldHere: number): void;
  /** Writes, as the counts are now, the connection and job counts that could not be written before. */
  flush(heldHere: (ip: string) => number, jobsHere: (ip: string) => number): void;
}

export interface SharedState {
  /** This instance's id, unique among live instances. */
  readonly instance: string;
  health(): SharedStateHealth;
  /** Quotas every instance counts together; null in one process, where the hub's own are the network's. */
  quotas(limits: IpQuotaLimits): SharedQuotas | null;
  /**
   * Appends an op to the shared log. Every instance, this one included, applies
   * it through the handler given to start(), in log order. In memory it is
   * applied before publish returns. Throws SharedStateUnavailable when down.
   */
  publish(op: SharedOpInput): Promise<void> | void;
  /** Sends a frame to a peer held by `instance`. Throws SharedStateUnavailable when down. */
  relay(instance: string, frame: RelayedFrame): void;
  /** The receipt log every instance appends to; null in one process, where the ledger keeps its own. */
  receiptStorage(): ReceiptLogStorage | null;
  /** The network id every instance names in pairings; the first instance settles it. */
  settleNetwork(proposed: string): Promise<string>;
  /**
   * Replays the shared log into `apply`, then keeps applying new ops and handing
   * relayed frames to `deliver`.
   */
  start(handlers: SharedStateHandlers): Promise<void>;
  close(): Promise<void>;
}

export interface SharedStateHandlers {
  apply(op: SharedOp): void;
  deliver(frame: RelayedFrame): void;
  /** Other instances that hold peers in this replica: the ones whose liveness is watched. */
  instancesHolding(): Iterable<string>;
  /**
   * The replica as it stands after the last op applied (SPEC SCALE7). Without it
   * the shared log is never compacted.
   */
  snapshot?(): ReplicaSnapshot;
  /** Loads a snapshot before any op is applied; rejects when it cannot be loaded. */
  restore?(snapshot: ReplicaSnapshot): Promise<void>;
}

/** One process: ops are applied as they are published; nothing is relayed. */
export class MemorySharedState implements SharedState {
  readonly instance = 'local';
  private handlers: SharedStateHandlers | null = null;
  private applied = 0;

  constructor(
    private readonly now: () => number,
    private readonly nonce: () => string,
  ) {}

  health(): SharedStateHealth {
    return { kind: 'memory', up: true, applied: this.applied };
  }

  publish(op: SharedOpInput): void {
    if (!this.handlers) throw new Error('shared state not started');
    this.applied++;
    this.handlers.apply({ ...op, instance: this.instance, at: this.now(), nonce: this.nonce() } as SharedOp);
  }

  relay(instance: string): void {
    throw new Error(`one process holds every peer; nothing to relay to ${instance}`);
  }

  receiptStorage(): null {
    return null;
  }

  quotas(): null {
    return null;
  }

  async settleNetwork(proposed: string): Promise<string> {
    return proposed;
  }

  async start(handlers: SharedStateHandlers): Promise<void> {
    this.handlers = handlers;
  }

  /** Synchronous start, for the hub's constructor in one process. */
  startNow(handlers: SharedStateHandlers): void {
    this.handlers = handlers;
  }

  async close(): Promise<void> {
    this.handlers = null;
  }
}
