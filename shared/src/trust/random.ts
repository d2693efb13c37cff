/**
 * Randomness the verifier draws from. Production uses WebCrypto, so a provider
 * cannot predict which units are checked or which Freivalds vectors are used;
 * tests and the bench use a seeded generator so every figure can be reproduced.
 */

export interface RandomSource {
  /** Uniform in [0, 2^32). */
  nextUint32(): number;
}

/** Uniform in [0, 1). */
export function nextFloat(rng: RandomSource): number {
  return rng.nextUint32() / 2 ** 32;
}

/** Uniform integer in [0, n). Rejection sampling, so no modulo bias. */
export function nextInt(rng: RandomSource, n: number): number {
  if (!Number.isInteger(n) || n <= 0 || n > 2 ** 32) throw new RangeError(`nextInt: bad bound ${n}`);
  const limit = 2 ** 32 - (2 ** 32 % n);
  for (;;) {
    const x = rng.nextUint32();
    if (x < limit) return x % n;
  }
}

/** Standard normal via Box–Muller (bench and tests only need plausible values). */
export function nextGaussian(rng: RandomSource): number {
  const u = 1 - nextFloat(rng);
  const w = nextFloat(rng);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * w);
}

/** A `() => [0, 1)` function (Math.random, a test's seeded draw) as a RandomSource. */
export function unitRandomSource(random: () => number): RandomSource {
  return { nextUint32: () => Math.floor(random() * 2 ** 32) >>> 0 };
}

/** WebCrypto-backed source, buffered to amortise the call. */
export function cryptoRandom(): RandomSource {
  const buffer = new Uint32Array(256);
  let index = buffer.length;
  return {
    nextUint32() {
      if (index >= buffer.length) {
        crypto.getRandomValues(buffer);
        index = 0;
      }
      return buffer[index++]!;
    },
  };
}

/** sfc32 seeded through splitmix32: fast, 128-bit state, good enough for simulation. Not for production checks. */
export function seededRandom(seed: number): RandomSource {
  let s = seed >>> 0;
  const splitmix = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  const rng: RandomSource = {
    nextUint32() {
      const t = (((a + b) >>> 0) + d) >>> 0;
      d = (d + 1) >>> 0;
      a = b ^ (b >>> 9);
      b = (c + (c << 3)) >>> 0;
      c = ((c << 21) | (c >>> 11)) >>> 0;
      c = (c + t) >>> 0;
      return t;
    },
  };
  for (let i = 0; i < 12; i++) rng.nextUint32();
  return rng;
}
