/**
 * The PULSE container (format version 4; 3 is the same without the conditioned kind, 2 also without scaled), all integers LEB128 unless noted:
 *
 *   "PULS" · version u8 · flags u8 (bit 0: has base) · reserved u8 = 0
 *   [base hash 16 B] · result hash 16 B · tensor count
 *   per tensor: shared prefix with the previous name · suffix length · UTF-8 suffix · dtype u8 · rank u8 · dims ·
 *               kind u8 (0 full, 1 ulp, 2 raw, 3 scaled, 4 conditioned; | 0x80: run-coded positions) · [changes, sparse kinds only]
 *   body: rANS tables and streams, raw-bit stream (exactly to the end; layout in payload.ts)
 *
 * decode() checks every size against DecodeLimits while reading the header,
 * before allocating anything for the body.
 */

import {
  DEFAULT_LIMITS,
  FORMAT_VERSION,
  HASH_BYTES,
  MIN_FORMAT_VERSION,
  MAGIC,
  MAX_ELEMENTS_FORMAT,
  MIN_BITS_PER_ELEMENT,
  type DecodeLimits,
} from './constants';
import { ByteReader, ByteWriter, utf8MaxBytes } from './bytes';
import { CorruptPatchError, InvalidModelError, LimitExceededError, UnsupportedVersionError } from './errors';
import { decodePayload, encodePayload, runsIfValid, type TensorLayout } from './payload';
import { checkScaledSymbols } from './scaled';
import { changeColumnsAligned, DTYPES, dtypeFromCode, elementCount, type Patch, type TensorPatch } from './types';

const KIND_CODES: Record<TensorPatch['kind'], number> = { full: 0, ulp: 1, raw: 2, scaled: 3, conditioned: 4 };
const KINDS: readonly TensorPatch['kind'][] = ['full', 'ulp', 'raw', 'scaled', 'conditioned'];
/** The first container version that has each kind. */
const KIND_SINCE: Record<TensorPatch['kind'], number> = { full: 2, ulp: 2, raw: 2, scaled: 3, conditioned: 4 };
const FLAG_HAS_BASE = 1;
/** High bit of a sparse tensor's kind byte: its positions are run-coded (payload.ts, usesRuns). */
const KIND_FLAG_RUNS = 0x80;

const textEncoder = new TextEncoder();

/** The writer encode() used last, kept for the next call, as decode keeps its reader (see idleReader). */
let idleWriter: ByteWriter | null = null;

export function encode(patch: Patch): Uint8Array {
  const runs = validatePatch(patch);
  const w = idleWriter ?? new ByteWriter();
  idleWriter = null;
  try {
    return encodeTo(w, patch, runs);
  } finally {
    w.clear();
    idleWriter = w;
  }
}

function encodeTo(w: ByteWriter, patch: Patch, runs: readonly boolean[]): Uint8Array {
  for (const b of MAGIC) w.u8(b);
  // The oldest version that holds every kind used, so older readers take all they can.
  w.u8(patch.tensors.reduce((v, t) => Math.max(v, KIND_SINCE[t.kind]), MIN_FORMAT_VERSION));
  w.u8(patch.baseHash ? FLAG_HAS_BASE : 0);
  w.u8(0);
  if (patch.baseHash) w.raw(patch.baseHash);
  w.raw(patch.resultHash);
  w.varint(patch.tensors.length);
  // Names share long prefixes ("layers.11.mlp.up"): front coding removes what deflate would otherwise find.
  // Each name goes into one of two buffers that take turns (encodeInto, not encode(): see writeTensorHeader in hash.ts).
  let name = new Uint8Array(256);
  let previous = new Uint8Array(256);
  let previousLength = 0;
  for (const [i, t] of patch.tensors.entries()) {
    if (utf8MaxBytes(t.name) > name.length) name = new Uint8Array(utf8MaxBytes(t.name));
    const nameLength = textEncoder.encodeInto(t.name, name).written;
    let shared = 0;
    while (shared < nameLength && shared < previousLength && name[shared] === previous[shared]) shared++;
    w.varint(shared);
    w.varint(nameLength - shared);
    w.raw(name.subarray(shared, nameLength));
    [previous, name] = [name, previous];
    previousLength = nameLength;
    w.u8(DTYPES[t.dtype].code);
    w.u8(t.shape.length);
    for (const d of t.shape) w.varint(d);
    w.u8(KIND_CODES[t.kind] | (runs[i] ? KIND_FLAG_RUNS : 0));
    if (t.kind !== 'full') w.varint(t.kind === 'conditioned' ? t.changes : t.positions.length);
  }
  encodePayload(w, patch.tensors, runs);
  return w.result();
}

/**
 * The reader decode() used last, kept for the next call. With a new one per
 * call, a full GC that found none alive took ByteReader's map with it, and V8
 * threw away the optimized code of every function that had seen it (the
 * header readers, decode itself): see idle in hash.ts.
 */
let idleReader: ByteReader | null = null;
const NO_BYTES = new Uint8Array(0);

export function decode(bytes: Uint8Array, limits: DecodeLimits = DEFAULT_LIMITS): Patch {
  if (!(bytes instanceof Uint8Array)) throw new CorruptPatchError('a patch is a Uint8Array');
  if (bytes.length > limits.maxPatchBytes)
    throw new LimitExceededError('patch bytes', bytes.length, limits.maxPatchBytes);
  const r = idleReader ?? new ByteReader(NO_BYTES);
  idleReader = null;
  r.reset(bytes);
  try {
    return decodeFrom(r, bytes, limits);
  } finally {
    r.reset(NO_BYTES); // keeps no patch alive
    idleReader = r;
  }
}

function decodeFrom(r: ByteReader, bytes: Uint8Array, limits: DecodeLimits): Patch {
  for (const b of MAGIC) if (r.u8() !== b) throw new CorruptPatchError('not a PULSE container');
  const version = r.u8();
  if (version < MIN_FORMAT_VERSION || version > FORMAT_VERSION) throw new UnsupportedVersionError(version);
  const flags = r.u8();
  if ((flags & ~FLAG_HAS_BASE) !== 0 || r.u8() !== 0) throw new CorruptPatchError('unknown flags');
  const baseHash = flags & FLAG_HAS_BASE ? r.take(HASH_BYTES).slice() : null;
  const resultHash = r.take(HASH_BYTES).slice();
  const count = r.varint();
  if (count > limits.maxTensors) throw new LimitExceededError('tensors', count, limits.maxTensors);
  const layouts = readLayouts(r, count, limits, version);
  checkBodyCanHold(layouts, r.remaining);
  return { baseHash, resultHash, tensors: decodePayload(layouts, r, bytes) };
}

/**
 * The names of the last patch read, by tensor index, as UTF-8 and as the
 * string made from it. A chain's patches name the same tensors in the same
 * order, so most names are found here by comparing bytes: no TextDecoder
 * call (~250 ns each in Node 20), no new string, and the strings keep their
 * hashes for the duplicate check below and apply's lookup by name. At most
 * RECENT_NAMES names of up to RECENT_NAME_BYTES bytes (512 KiB of bytes, and
 * about as much again for the strings and the entries around them).
 */
const recentNames: { bytes: Uint8Array; name: string }[] = [];
const RECENT_NAMES = 4096;
const RECENT_NAME_BYTES = 128;

/** Whether `a` is the first `length` bytes of `b`. */
function sameBytes(a: Uint8Array, b: Uint8Array, length: number): boolean {
  if (a.length !== length) return false;
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function readLayouts(r: ByteReader, count: number, limits: DecodeLimits, version: number): TensorLayout[] {
  let decoder: TextDecoder | undefined;
  const names = new Set<string>();
  const layouts: TensorLayout[] = [];
  let totalElements = 0;
  let totalChanges = 0;
  // Names are rebuilt in one buffer whose first `shared` bytes still hold the previous name. A new array per
  // name plus subarray views and set() took ~1 µs a tensor (the quick bench model's 18 names: 18 µs, this
  // way 3), so the decode of a patch with one change per tensor took 42–57 µs where it now takes 31–41.
  let scratch = new Uint8Array(256);
  let previousLength = 0;
  for (let i = 0; i < count; i++) {
    const shared = r.varint();
    if (shared > previousLength) throw new CorruptPatchError('name prefix longer than the previous name');
    const suffixLength = r.varint();
    const nameLength = shared + suffixLength;
    if (nameLength > limits.maxNameBytes) throw new LimitExceededError('name bytes', nameLength, limits.maxNameBytes);
    if (nameLength > scratch.length) {
      const grown = new Uint8Array(Math.max(nameLength, 2 * scratch.length));
      grown.set(scratch.subarray(0, shared));
      scratch = grown;
    }
    r.copyTo(scratch, shared, suffixLength);
    previousLength = nameLength;
    const known = i < RECENT_NAMES ? recentNames[i] : undefined;
    let name: string;
    if (known !== undefined && sameBytes(known.bytes, scratch, nameLength)) name = known.name;
    else {
      try {
        name = (decoder ??= new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })).decode(
          scratch.subarray(0, nameLength),
        );
      } catch (e) {
        if (e instanceof CorruptPatchError) throw e;
        throw new CorruptPatchError('tensor name is not UTF-8');
      }
      if (i < RECENT_NAMES && nameLength <= RECENT_NAME_BYTES)
        recentNames[i] = { bytes: scratch.slice(0, nameLength), name };
    }
    if (names.has(name)) throw new CorruptPatchError(`duplicate tensor ${JSON.stringify(name)}`);
    names.add(name);
    const dtype = dtypeFromCode(r.u8());
    if (dtype === null) throw new CorruptPatchError(`tensor ${name}: unknown dtype`);
    const rank = r.u8();
    if (rank > limits.maxRank) throw new LimitExceededError('rank', rank, limits.maxRank);
    const shape: number[] = [];
    for (let d = 0; d < rank; d++) shape.push(r.varint());
    const maxElements = Math.min(limits.maxTensorElements, MAX_ELEMENTS_FORMAT);
    const elements = elementCount(shape, maxElements);
    if (elements < 0)
      throw new LimitExceededError(
        `elements of ${name}`,
        shape.reduce((a, b) => a * b, 1),
        maxElements,
      );
    totalElements += elements;
    if (totalElements > limits.maxTotalElements)
      throw new LimitExceededError('total elements', totalElements, limits.maxTotalElements);
    const kindByte = r.u8();
    const kind = KINDS[kindByte & ~KIND_FLAG_RUNS];
    const runs = (kindByte & KIND_FLAG_RUNS) !== 0;
    if (kind === undefined || (runs && (kind === 'full' || kind === 'conditioned')) || KIND_SINCE[kind] > version)
      throw new CorruptPatchError(`tensor ${name}: unknown kind`);
    let changes = 0;
    if (kind !== 'full') {
      changes = r.varint();
      if (changes > elements) throw new CorruptPatchError(`tensor ${name}: ${changes} changes in ${elements} elements`);
      totalChanges += changes;
      if (totalChanges > limits.maxChanges) throw new LimitExceededError('changes', totalChanges, limits.maxChanges);
    }
    layouts.push({ name, dtype, shape, kind, elements, changes, runs, count: kind === 'full' ? elements : changes });
  }
  return layouts;
}

/**
 * Every coded element costs a minimum number of bits (see constants.ts); reject headers the body cannot possibly hold.
 * A conditioned tensor's bytes are only copied here (its work is at apply, a pass over the base the receiver holds).
 */
function checkBodyCanHold(layouts: readonly TensorLayout[], bodyLength: number): void {
  let coded = 0;
  for (const l of layouts) coded += l.kind === 'full' ? l.elements : l.kind === 'conditioned' ? 0 : l.changes;
  // 64 bits of slack: a stream's final state carries up to 31 bits the count above does not see.
  if (coded * MIN_BITS_PER_ELEMENT > bodyLength * 8 + 64)
    throw new CorruptPatchError(`body of ${bodyLength} bytes cannot hold ${coded} coded values`);
}

/**
 * Patches built by hand (not by diff) must still be well-formed before they
 * are encoded. Returns per tensor whether its positions are run-coded
 * (payload.ts, usesRuns), from the same pass that checks them; ulp changes
 * are checked while they are coded (payload.ts, encodeDeltas).
 */
function validatePatch(patch: Patch): boolean[] {
  const hashOk = (h: Uint8Array | null): boolean => h === null || (h instanceof Uint8Array && h.length === HASH_BYTES);
  if (!hashOk(patch.baseHash) || !(patch.resultHash instanceof Uint8Array) || !hashOk(patch.resultHash)) {
    throw new InvalidModelError('patch hashes must be 16-byte Uint8Arrays');
  }
  const names = new Set<string>();
  const runs: boolean[] = [];
  for (const t of patch.tensors) {
    if (names.has(t.name)) throw new InvalidModelError(`duplicate tensor ${JSON.stringify(t.name)}`);
    names.add(t.name);
    const elements = elementCount(t.shape, MAX_ELEMENTS_FORMAT);
    if (elements < 0 || t.shape.length > 255) throw new InvalidModelError(`tensor ${t.name}: invalid shape`);
    if (t.kind === 'full') {
      if (t.data.length !== elements) throw new InvalidModelError(`tensor ${t.name}: data length does not match shape`);
      runs.push(false);
      continue;
    }
    if (t.kind === 'conditioned') {
      if (!(t.coded instanceof Uint8Array) || !Number.isSafeInteger(t.changes) || t.changes < 0 || t.changes > elements)
        throw new InvalidModelError(`tensor ${t.name}: malformed conditioned changes`);
      runs.push(false);
      continue;
    }
    const n = t.positions.length;
    if (!changeColumnsAligned(t) || (t.kind === 'scaled' && !(t.low instanceof Uint8Array)))
      throw new InvalidModelError(`tensor ${t.name}: ragged change arrays`);
    if (t.kind === 'raw') {
      const bad = badRawChange(t.bits, DTYPES[t.dtype].width);
      if (bad >= 0) throw new InvalidModelError(`tensor ${t.name}: change ${bad} is out of range`);
    }
    if (t.kind === 'scaled') checkScaledSymbols(t.name, t.dtype, t.symbols);
    const runCount = runsIfValid(t.positions, elements);
    if (runCount < 0) throw new InvalidModelError(`tensor ${t.name}: positions must increase within the tensor`);
    runs.push(runCount * 2 < n);
  }
  return runs;
}

/** Index of the first raw value that is not a `width`-bit pattern, or −1. */
function badRawChange(bits: Uint32Array, width: number): number {
  const limit = width === 16 ? 0x10000 : 0x100000000;
  for (let i = 0; i < bits.length; i++) if (bits[i]! >= limit) return i;
  return -1;
}
