/**
 * The probability models that sit on the range coder: an adaptive Exp-Golomb
 * code for non-negative integers (position gaps, ulp deltas) and a bit-pattern
 * model for raw float values (sign+exponent as a context tree, skewed top
 * mantissa bits adaptive, the rest raw).
 */

import { CONTEXT_MANTISSA_BITS, MAX_CLASS } from './constants';
import { CorruptPatchError } from './errors';
import { newContexts, POW2, type RangeDecoder, type RangeEncoder } from './rangecoder';
import { DTYPES, type DType } from './types';

const MANTISSA_TREE = 1 << CONTEXT_MANTISSA_BITS;
/** Classes 0..MAX_CLASS fit in 5 bits. */
const CLASS_TREE_BITS = 5;

/**
 * Adaptive Exp-Golomb for v in [0, 2^31 − 1]: the class k = ⌊log2(v+1)⌋ in
 * unary with one context per step, then the k bits below the leading one: the
 * top CONTEXT_MANTISSA_BITS through a per-class context tree, the rest raw.
 */
export class UIntModel {
  private readonly classes = newContexts(2 * (MAX_CLASS + 1));
  private readonly mantissa = newContexts((MAX_CLASS + 1) * MANTISSA_TREE);

  /**
   * @param treeClasses code the class as 5 bits through a context tree instead
   *   of unary: fewer coder steps for large classes (position gaps sit around
   *   class 6–7 at 1% changed), same statistics (the tree is a full model of
   *   the 32 classes).
   */
  constructor(private readonly treeClasses = false) {}

  encode(enc: RangeEncoder, v: number): void {
    const x = v + 1;
    const k = 31 - Math.clz32(x);
    if (this.treeClasses) {
      let node = 1;
      for (let j = CLASS_TREE_BITS - 1; j >= 0; j--) {
        const bit = (k >>> j) & 1;
        enc.encodeBit(this.classes, node, bit);
        node = (node << 1) | bit;
      }
    } else {
      for (let i = 0; i < k; i++) enc.encodeBit(this.classes, i, 1);
      if (k < MAX_CLASS) enc.encodeBit(this.classes, k, 0);
    }
    const modeled = k < CONTEXT_MANTISSA_BITS ? k : CONTEXT_MANTISSA_BITS;
    let node = 1;
    const base = k * MANTISSA_TREE;
    for (let j = 1; j <= modeled; j++) {
      const bit = (x >>> (k - j)) & 1;
      enc.encodeBit(this.mantissa, base + node, bit);
      node = (node << 1) | bit;
    }
    const rest = k - modeled;
    if (rest > 0) enc.writeRawBits(x, rest);
  }

  decode(dec: RangeDecoder): number {
    let k = 0;
    if (this.treeClasses) {
      let node = 1;
      for (let j = 0; j < CLASS_TREE_BITS; j++) node = (node << 1) | dec.decodeBit(this.classes, node);
      k = node - (1 << CLASS_TREE_BITS);
    } else {
      while (k < MAX_CLASS && dec.decodeBit(this.classes, k) === 1) k++;
    }
    const modeled = k < CONTEXT_MANTISSA_BITS ? k : CONTEXT_MANTISSA_BITS;
    let node = 1;
    const base = k * MANTISSA_TREE;
    for (let j = 1; j <= modeled; j++) node = (node << 1) | dec.decodeBit(this.mantissa, base + node);
    // node holds the leading one and the modeled bits: x = node · 2^rest + raw.
    const rest = k - modeled;
    const x = rest > 0 ? node * POW2[rest]! + dec.readRawBits(rest) : node;
    if (x > 0x80000000) throw new CorruptPatchError('integer out of range');
    return x - 1;
  }
}

/**
 * Raw float bit patterns: sign and exponent together through a full context
 * tree (their joint distribution is sharply peaked for weights), the top
 * mantissa bits through a small tree (Benford skew), the rest raw.
 */
export class RawValueModel {
  private readonly head: Uint16Array;
  private readonly mantissa = newContexts(MANTISSA_TREE);
  private readonly headBits: number;
  private readonly modeledMantissa: number;
  private readonly rawMantissa: number;

  constructor(dtype: DType) {
    const info = DTYPES[dtype];
    this.headBits = 1 + info.exponentBits;
    const mantissaBits = info.width - this.headBits;
    this.modeledMantissa = Math.min(CONTEXT_MANTISSA_BITS, mantissaBits);
    this.rawMantissa = mantissaBits - this.modeledMantissa;
    this.head = newContexts(1 << this.headBits);
  }

  encode(enc: RangeEncoder, bits: number): void {
    const mantissaBits = this.modeledMantissa + this.rawMantissa;
    let node = 1;
    for (let j = this.headBits - 1; j >= 0; j--) {
      const bit = (bits >>> (mantissaBits + j)) & 1;
      enc.encodeBit(this.head, node, bit);
      node = (node << 1) | bit;
    }
    node = 1;
    for (let j = mantissaBits - 1; j >= this.rawMantissa; j--) {
      const bit = (bits >>> j) & 1;
      enc.encodeBit(this.mantissa, node, bit);
      node = (node << 1) | bit;
    }
    if (this.rawMantissa > 0) enc.writeRawBits(bits & ((1 << this.rawMantissa) - 1), this.rawMantissa);
  }

  decode(dec: RangeDecoder): number {
    let head = 1;
    for (let j = 0; j < this.headBits; j++) head = (head << 1) | dec.decodeBit(this.head, head);
    head -= 1 << this.headBits;
    let top = 1;
    for (let j = 0; j < this.modeledMantissa; j++) top = (top << 1) | dec.decodeBit(this.mantissa, top);
    top -= 1 << this.modeledMantissa;
    const low = this.rawMantissa > 0 ? dec.readRawBits(this.rawMantissa) : 0;
    return (head * POW2[this.modeledMantissa]! + top) * POW2[this.rawMantissa]! + low;
  }
}
