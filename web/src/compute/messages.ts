/**
 * The page ↔ compute-worker protocol. Both directions are validated: the
 * worker trusts nothing the page sends (it may carry a peer's model and
 * inputs), and the page checks what comes back before handing it on.
 */
import * as v from 'valibot';
import { BackendSchema } from '@shared/protocol';
import { TYPED_ARRAY_CTOR, isDType, type Tensor } from '@shared/tensor';
import { MAX_RANK } from '@shared/tensor';
import type { ComputeErrorCode } from './errors';

/** A well-formed tensor: known dtype, dims of safe non-negative ints, data of the matching typed array and length. */
export function isTensor(value: unknown): value is Tensor {
  if (typeof value !== 'object' || value === null) return false;
  const { dtype, dims, data } = value as { dtype?: unknown; dims?: unknown; data?: unknown };
  if (!isDType(dtype) || !Array.isArray(dims) || dims.length > MAX_RANK) return false;
  let count = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || (d as number) < 0) return false;
    count *= d as number;
  }
  return data instanceof TYPED_ARRAY_CTOR[dtype] && (data as { length: number }).length === count;
}

const TensorSchema = v.custom<Tensor>(isTensor, 'not a valid tensor (dtype, dims, typed array of matching length)');
/** valibot's record drops `__proto__`, `constructor` and `prototype` keys, so a map cannot poison prototypes. */
const TensorMapSchema = v.pipe(
  v.record(v.pipe(v.string(), v.maxLength(256)), TensorSchema),
  v.check((m) => Object.keys(m).length <= 256, 'too many tensors'),
);
const Id = v.pipe(v.number(), v.integer(), v.minValue(0));
const Hash = v.pipe(v.string(), v.minLength(1), v.maxLength(128));

export const WorkerRequestSchema = v.variant('type', [
  v.strictObject({
    type: v.literal('init'),
    id: Id,
    backend: BackendSchema,
    numThreads: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(64)),
  }),
  v.strictObject({ type: v.literal('load'), id: Id, hash: Hash, bytes: v.instance(Uint8Array) }),
  v.strictObject({ type: v.literal('run'), id: Id, hash: Hash, inputs: TensorMapSchema }),
  /** Runs once untimed (warm-up, shader compile), then up to `runs` times within `budgetMs`. */
  v.strictObject({
    type: v.literal('bench'),
    id: Id,
    hash: Hash,
    inputs: TensorMapSchema,
    runs: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(100)),
    budgetMs: v.pipe(v.number(), v.minValue(0), v.maxValue(60_000)),
  }),
  v.strictObject({ type: v.literal('unload'), id: Id, hash: Hash }),
]);
export type WorkerRequest = v.InferOutput<typeof WorkerRequestSchema>;

export const WorkerErrorCodeSchema = v.picklist<ComputeErrorCode[]>([
  'backend-unavailable',
  'runtime-load-failed',
  'model-load-failed',
  'model-not-loaded',
  'inference-failed',
  'bad-message',
  'worker-crashed',
  'disposed',
  'timeout',
]);

export const WorkerResponseSchema = v.variant('type', [
  v.strictObject({
    type: v.literal('ready'),
    id: Id,
    backend: BackendSchema,
    numThreads: v.number(),
    ortVersion: v.string(),
  }),
  /** `numThreads` as the runtime settled it when it started (it drops to 1 without cross-origin isolation). */
  v.strictObject({
    type: v.literal('loaded'),
    id: Id,
    hash: Hash,
    inputNames: v.array(v.string()),
    outputNames: v.array(v.string()),
    numThreads: v.number(),
  }),
  v.strictObject({ type: v.literal('result'), id: Id, outputs: TensorMapSchema, ms: v.number() }),
  v.strictObject({ type: v.literal('bench-result'), id: Id, timesMs: v.array(v.number()) }),
  v.strictObject({ type: v.literal('unloaded'), id: Id }),
  /** `id` is null when the request was too malformed to have one. */
  v.strictObject({ type: v.literal('error'), id: v.nullable(Id), code: WorkerErrorCodeSchema, message: v.string() }),
]);
export type WorkerResponse = v.InferOutput<typeof WorkerResponseSchema>;
export type WorkerResponseOf<T extends WorkerResponse['type']> = Extract<WorkerResponse, { type: T }>;

/** The transferable buffers of a tensor map, so posting it moves instead of copying. */
export function transferablesOf(tensors: Record<string, Tensor>): ArrayBuffer[] {
  const seen = new Set<ArrayBuffer>();
  for (const t of Object.values(tensors)) {
    const buffer = t.data.buffer;
    if (buffer instanceof ArrayBuffer && buffer.byteLength === t.data.byteLength) seen.add(buffer);
  }
  return [...seen];
}
