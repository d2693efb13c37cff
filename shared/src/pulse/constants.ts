/**
 * Tunables of the PULSE codec. Each value says why it is what it is; numbers
 * marked "measured" come from `npm run bench:pulse` on the 2-core dev box.
 */

/** First bytes of every container: lets a receiver reject non-PULSE data at once. */
export const MAGIC = [0x50, 0x55, 0x4c, 0x53] as const; // "PULS"

/**
 * Container format version. Bump on any change of the byte layout or of the coder's models.
 * 1: adaptive binary range coder. 2: static-table rANS streams (fast; see rans.ts).
 * 3: version 2 plus the `scaled` tensor kind (ulp deltas coded relative to the
 * old value's exponent). The encoder writes 3 only for a patch that holds a
 * scaled tensor, so peers that read version 2 still read every other patch.
 * 4: version 3 plus the `conditioned` kind (positions and values coded given
 * the base's exponents); written only for a patch that holds one.
 */
export const FORMAT_VERSION = 4;
/** The oldest container version decode() still reads. */
export const MIN_FORMAT_VERSION = 2;

/** Content hashes are xxh3-128: measured ~3.8 GB/s (hash-wasm) vs ~0.75 GB/s for WebCrypto SHA-256. */
export const HASH_BYTES = 16;

/**
 * rANS frequency tables sum to 2^scaleBits, chosen per table by the encoder
 * as about log2(symbols coded), so small patches pay for small tables (each
 * frequency is a varint in the header), up to ENCODE_MAX_SCALE_BITS. A
 * decoder accepts up to 14, so a decode table (2^14 slots) builds in
 * microseconds and state · freq stays below 2^31.
 */
export const MIN_SCALE_BITS = 8;
export const MAX_SCALE_BITS = 14;

/**
 * The encoder's own cap, below what a decoder accepts: a 2^12-slot decode
 * table (24 KB of symbols and steps) stays in L1 cache, where 2^14 slots
 * measured 8-15% slower to decode on the bench corpus for a size change
 * within ±0.12%. Patches written with larger tables still decode.
 */
export const ENCODE_MAX_SCALE_BITS = 12;

/**
 * No symbol may take more than 1 − 2^−FREQ_CAP_SHIFT of its table, so every
 * coded symbol costs at least −log2(1 − 2^−8) ≈ 0.0056 bits. That makes a
 * body's size bound the number of values it can carry (PULSE14), and costs
 * only ~0.002 bits per symbol where one symbol really is 99.9% likely (the
 * zero gaps of a tensor whose every value changed).
 */
export const FREQ_CAP_SHIFT = 8;

/**
 * Minimum cost per coded element used by the PULSE14 check. Each element (a
 * change in a sparse tensor, a value in a full one) codes at least one
 * symbol of ≥ 0.0056 bits; rANS state rounding can make one step cost up to
 * 2^MAX_SCALE_BITS / 2^23 · log2(e) ≈ 0.0028 bits less, so 0.0025 is a
 * bound every honest encoder output satisfies.
 */
export const MIN_BITS_PER_ELEMENT = 0.0025;

/**
 * Integers (gaps, ulp deltas) are coded as a bucket symbol plus raw bits:
 * values below 2^(BUCKET_MANTISSA_BITS+1) − 1 are their own symbol, larger
 * ones keep their top BUCKET_MANTISSA_BITS bits below the leading one in the
 * symbol and send the rest raw. 2 bits keep geometric gaps (whose top bits
 * are skewed) within ~2% of the bound at 1% changed (bench, full size) with a
 * 120-symbol alphabet; 1 and 3 are not yet measured.
 */
export const BUCKET_MANTISSA_BITS = 2;

/** Largest elements per tensor the format can express (positions are coded below 2^31). */
export const MAX_ELEMENTS_FORMAT = 0x7fffffff;

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
