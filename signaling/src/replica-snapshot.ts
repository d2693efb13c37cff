/**
 * A snapshot of one instance's replica of the shared state (SPEC SCALE7): who
 * holds every peer, the matchmaker, and what the ledger keeps beside the receipt
 * log. A new instance loads it and reads only the ops after it, so the op stream
 * can be trimmed. Read back from Redis, so it is parsed like wire input.
 */
import * as v from 'valibot';
import { BackendSchema, CapabilitiesSchema, DisplayNameSchema, JobNeedsSchema, PeerIdSchema } from '@shared/protocol';
import { JobIdSchema } from '@shared/ids';

const Count = v.pipe(v.number(), v.integer(), v.minValue(0));
const Time = v.pipe(v.number(), v.minValue(0));
const PeerKey = v.pipe(v.string(), v.regex(/^(provider|requester) [A-Za-z0-9_-]{43}$/));
const InstanceId = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,64}$/));

const MatchmakerSnapshotSchema = v.object({
  seq: Count,
  providers: v.array(
    v.object({
      id: PeerIdSchema,
      capabilities: CapabilitiesSchema,
      slots: Count,
      busy: Count,
      paused: v.boolean(),
      jobs: v.array(v.string()),
    }),
  ),
  jobs: v.array(
    v.object({
      requester: PeerIdSchema,
      jobId: JobIdSchema,
      needs: JobNeedsSchema,
      seq: Count,
      assigned: v.array(PeerIdSchema),
      released: v.array(PeerIdSchema),
      served: v.array(PeerIdSchema),
    }),
  ),
});

const LedgerSnapshotSchema = v.object({
  head: v.object({ length: Count, hash: v.pipe(v.string(), v.maxLength(128)) }),
  reporters: v.array(v.tuple([PeerIdSchema, v.array(PeerIdSchema)])),
  pairings: v.array(
    v.object({
      requester: PeerIdSchema,
      jobId: JobIdSchema,
      provider: PeerIdSchema,
      backend: BackendSchema,
      jobUnits: Count,
      pairedMs: Time,
      openSince: v.nullable(Time),
      endedAt: v.nullable(Time),
      units: Count,
      flops: Time,
    }),
  ),
  names: v.optional(v.array(v.tuple([PeerIdSchema, DisplayNameSchema]))),
});

export const ReplicaSnapshotSchema = v.object({
  v: v.literal(1),
  owners: v.array(v.tuple([PeerKey, InstanceId, Count])),
  matchmaker: MatchmakerSnapshotSchema,
  ledger: LedgerSnapshotSchema,
});
export type ReplicaSnapshot = v.InferOutput<typeof ReplicaSnapshotSchema>;
