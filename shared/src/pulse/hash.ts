/**
 * Content hash of a model: xxh3-128 over a canonical serialisation (for each
 * tensor in order: name length and UTF-8 name, dtype code, rank and dims as
 * u32 little-endian, then the value bits little-endian). xxh3 detects
 * corruption and wrong bases; it is not a signature: who may publish a model is
 * decided by the identity layer, not here.
 */

import { createXXHash128, type IHasher } from 'hash-wasm';
import { bytesToHex } from '../bytes';
import { utf8MaxBytes } from './bytes';
import { HASH_BYTES } from './constants';
import { arenaBytes, type Arena } from './kernels';
import { DTYPES, type Model, type ModelHash, type Tensor, type TensorData } from './types';
import { XXH3_MIDSIZE_MAX, Xxh3Stream } from './xxh3';

let hasherPromise: Promise<IHasher> | null = null;

/** hash-wasm instantiates its WASM module asynchronously, once per realm (page, worker, Node process). */
function hasher(): Promise<IHasher> {
  hasherPromise ??= createXXHash128();
  return hasherPromise;
}

const textEncoder = new TextEncoder();

/**
 * A hasher that finished its digest, handed to the next user. With a new one
 * per call, a full GC that found none alive took the class's map with it, and
 * V8 threw away the optimized code of every function that had seen that map
 * (hashModel, apply's and diff's inner loops): the next ~200 quick decodes
 * ran slower while it was compiled again (--trace-deopt: "weak objects").
 */
let idle: ModelHasher | null = null;

/**
 * The canonical serialisation fed a piece at a time, so apply and diff can
 * hash each block of values while it is still in cache instead of reading the
 * whole model again afterwards. xxh3-128 runs on the WebAssembly kernel
 * (xxh3.ts, ~2x hash-wasm); hash-wasm takes models of 240 bytes or fewer
 * (xxh3's short-input paths) and realms without the kernels. hash-wasm's
 * instance is shared by the realm: in that mode a ModelHasher must go from
 * begin() to digest() without awaiting in between (apply and diff do).
 */
export class ModelHasher {
  private readonly stream = new Xxh3Stream();
  private kernel = true;
  /** A tensor header not hashed yet (a view of headerBytes): it goes in with the next values, one kernel trip for both. */
  private header: Uint8Array | null = null;
  /** Where tensor headers are written, reused for every tensor this hasher sees. */
  private headerBytes = new Uint8Array(256);

  constructor(private readonly fallback: IHasher) {}

  begin(): void {
    this.stream.reset();
    this.header = null;
    this.kernel = Xxh3Stream.available();
    if (!this.kernel) this.fallback.init();
  }

  /** A tensor's name, dtype and shape; its values follow through update(). */
  tensor(t: Pick<Tensor, 'name' | 'dtype' | 'shape'>): void {
    this.flush();
    const most = tensorHeaderMaxBytes(t);
    if (most > this.headerBytes.length) this.headerBytes = new Uint8Array(Math.max(most, 2 * this.headerBytes.length));
    this.header = this.headerBytes.subarray(0, writeTensorHeader(t, this.headerBytes));
  }

  update(values: TensorData): void {
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    const header = this.header;
    this.header = null;
    if (!this.kernel) {
      if (header !== null) this.fallback.update(header);
      this.fallback.update(bytes);
    } else if (!(header === null ? this.stream.update(bytes) : this.stream.update(header, bytes)))
      throw new Error('WebAssembly arena lost during a hash');
  }

  /**
   * Arena bytes a caller of updateInPlace sets aside right before the
   * tensor's first values: room for the pending tensor header (0 if none).
   */
  get headerRoom(): number {
    return this.header === null ? 0 : arenaBytes(this.header.length);
  }

  /**
   * Hashes `len` bytes already in `arena` at `at` (diff's scan chunk, apply's
   * patched chunk); `scratch` is XXH3_STATE_BYTES of it. A pending tensor
   * header is laid out in the headerRoom bytes before `at` and hashed with the
   * values in one kernel trip (one of its own cost ~2 µs a tensor).
   */
  updateInPlace(arena: Arena, scratch: number, at: number, len: number): void {
    const header = this.header;
    if (header !== null) {
      this.header = null;
      arena.u8.set(header, at - header.length);
      at -= header.length;
      len += header.length;
    }
    if (this.kernel) this.stream.updateInPlace(arena, scratch, at, len);
    else this.fallback.update(arena.u8.subarray(at, at + len));
  }

  /** Hashes a pending tensor header now. */
  flush(): void {
    if (this.header !== null) this.update(new Uint16Array(0));
  }

  /** The model's hash. The hasher goes back to the realm for the next readyModelHasher(): do not use it after this. */
  digest(): ModelHash {
    this.flush();
    let digest: Uint8Array;
    if (!this.kernel) digest = this.fallback.digest('binary');
    else if (this.stream.length > XXH3_MIDSIZE_MAX) digest = this.stream.digest();
    else {
      this.fallback.init();
      this.fallback.update(this.stream.buffered);
      digest = this.fallback.digest('binary');
    }
    if (digest.length !== HASH_BYTES) throw new Error('unexpected digest size');
    idle = this;
    return digest;
  }
}

/** hash-wasm's instance once it has loaded. */
let loaded: IHasher | null = null;

export async function modelHasher(): Promise<ModelHasher> {
  return readyModelHasher() ?? new ModelHasher((loaded = await hasher()));
}

/**
 * A hasher without awaiting, once modelHasher() has been awaited in this realm
 * (null before). apply, diff and hashModel take it, so after their first call
 * they run to the end without yielding. In bench:pulse's interleaved loop,
 * whichever codec allocated after an await was charged for the young-generation
 * collections that both codecs' result buffers set off: at f32 1% quick, PULSE
 * decode + apply drew 50 of 57 scavenges against the reference (301 repeats
 * each); without the await, 29 of 58. The total is unchanged.
 */
export function readyModelHasher(): ModelHasher | null {
  if (loaded === null) return null;
  const h = idle ?? new ModelHasher(loaded);
  idle = null;
  return h;
}

function tensorHeaderMaxBytes(t: Pick<Tensor, 'name' | 'shape'>): number {
  return 4 + utf8MaxBytes(t.name) + 2 + 4 * t.shape.length;
}

/**
 * Writes a tensor's header into `out` (at least tensorHeaderMaxBytes long) and
 * returns its length. encodeInto a reused buffer, not encode() and a new array
 * per tensor: the quick bench model's 18 headers took 21 µs that way, 2 µs
 * this way (Node 20), paid by every hash, diff and apply.
 */
function writeTensorHeader(t: Pick<Tensor, 'name' | 'dtype' | 'shape'>, out: Uint8Array): number {
  const name = t.name;
  // ASCII names (nearly all) are written here; encodeInto is a call into the engine and a subarray each.
  let nameLength = name.length;
  for (let i = 0; i < nameLength; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0x80) {
      nameLength = textEncoder.encodeInto(name, out.subarray(4)).written;
      break;
    }
    out[4 + i] = c;
  }
  putU32(out, 0, nameLength);
  let o = 4 + nameLength;
  out[o++] = DTYPES[t.dtype].code;
  out[o++] = t.shape.length;
  for (const d of t.shape) {
    putU32(out, o, d);
    o += 4;
  }
  return o;
}

function putU32(out: Uint8Array, at: number, v: number): void {
  out[at] = v;
  out[at + 1] = v >>> 8;
  out[at + 2] = v >>> 16;
  out[at + 3] = v >>> 24;
}

export async function hashModel(model: Model): Promise<ModelHash> {
  const h = readyModelHasher() ?? (await modelHasher());
  h.begin();
  for (const t of model.tensors) {
    h.tensor(t);
    h.update(t.data);
  }
  return h.digest();
}

export function hashToHex(hash: ModelHash): string {
  return bytesToHex(hash);
}

export function hashesEqual(a: ModelHash, b: ModelHash): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
