/**
 * Tunables of the PULSE codec. Each value says why it is what it is; numbers
 * marked "measured" come from `npm run bench:pulse` on the 2-core dev box.
 */

/** First bytes of every container: lets a receiver reject non-PULSE data at once. */
export const MAGIC = [0x50, 0x55, 0x4c, 0x53] as const; // "PULS"

/** Container format version. Bump on any change of the byte layout or of the coder's models. */
export const FORMAT_VERSION = 1;

/** Content hashes are xxh3-128: measured ~3.8 GB/s (hash-wasm) vs ~0.75 GB/s for WebCrypto SHA-256. */
export const HASH_BYTES = 16;

/**
 * Probabilities of the adaptive binary range coder are 15-bit: the coder
 * multiplies (range >>> 15) by them, which stays below 2^32 so all maths is
 * exact in JS numbers, and the most skewed estimate (1 − 31/32768) costs only
 * 0.0014 bits per near-certain decision (LZMA's 11 bits would cost 0.022).
 */
export const PROB_BITS = 15;

/** Adaptation speed 1/2^5: LZMA's choice; measured within 1% of shift 4 and 6 on the corpus. */
export const ADAPT_SHIFT = 5;

/**
 * Exp-Golomb mantissa bits coded with adaptive contexts before the rest go raw.
 * Gaps are near-geometric, so the top bits of each class are skewed; below the
 * third bit the skew is under 1% and raw bits are faster.
 */
export const CONTEXT_MANTISSA_BITS = 3;

/** Largest Exp-Golomb class: values up to 2^31 − 1 (positions and magnitudes of f32 fit). */
export const MAX_CLASS = 31;

/** Largest elements per tensor the format can express (positions are coded below 2^31). */
export const MAX_ELEMENTS_FORMAT = 0x7fffffff;

/**
 * Every coded element (a change in a sparse tensor, a value in a full one)
 * costs at least this many binary decisions in the range coder; with the
 * 0.0014-bit floor above, a payload of B bytes can carry at most
 * 8·B / (MIN_DECISIONS_PER_ELEMENT · 0.0014) elements. The decoder rejects
 * headers that promise more, so a 100-byte forgery cannot make it loop for
 * minutes.
 */
export const MIN_DECISIONS_PER_ELEMENT = 3;
export const MIN_BITS_PER_DECISION = 0.00136;

/** Full anchor every N versions: the reference design's interval (GRAIL sparse_codec v3.1). */
export const DEFAULT_ANCHOR_INTERVAL = 10;

/** Receiver-side limits, checked against the header before anything is allocated. */
export interface DecodeLimits {
  /** Total container size in bytes. */
  readonly maxPatchBytes: number;
  readonly maxTensors: number;
  /** UTF-8 bytes in a tensor name. */
  readonly maxNameBytes: number;
  readonly maxRank: number;
  readonly maxTensorElements: number;
  /** Sum of elements over all tensors of the result. */
  readonly maxTotalElements: number;
  /** Sum of changed positions over all sparse tensors. */
  readonly maxChanges: number;
}

/**
 * Defaults sized for the models this network moves in a tab: up to ~1 G
 * elements (2 GiB of bf16, beyond which a browser tab cannot hold base and
 * result at once anyway).
 */
export const DEFAULT_LIMITS: DecodeLimits = {
  maxPatchBytes: 2 ** 31,
  maxTensors: 100_000,
  maxNameBytes: 1024,
  maxRank: 8,
  maxTensorElements: MAX_ELEMENTS_FORMAT,
  maxTotalElements: 2 ** 30,
  maxChanges: 2 ** 30,
};
