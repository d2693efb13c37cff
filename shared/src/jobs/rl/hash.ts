/**
 * A small synchronous 64-bit hash for seeds, position choices and replay
 * detection: two 32-bit multiply–xorshift lanes (cyrb53's construction) over
 * a canonical string of the parts. PULSE's xxh3 runs as a WASM kernel over
 * ≥ 240-byte inputs; these inputs are a few dozen characters and must hash
 * identically in every realm without awaiting anything. Not collision-
 * resistant against a determined adversary: a provider that crafts a
 * collision only gets its own rollout refused as a replay, and what a
 * provider must not predict (sketch positions) also hashes a trainer nonce it
 * learns only after submitting.
 */

export type HashPart = string | number | ArrayLike<number>;

function canonical(parts: readonly HashPart[]): string {
  return parts
    .map((p) => (typeof p === 'string' ? `s${p}` : typeof p === 'number' ? `n${p}` : `a${Array.from(p).join(',')}`))
    .join('\u0000');
}

/** [hi, lo] 32-bit halves. */
export function hash64(parts: readonly HashPart[], seed = 0): [number, number] {
  const s = canonical(parts);
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return [h1 >>> 0, h2 >>> 0];
}

/** A 32-bit seed (mulberry32's state) from the parts. */
export function hash32(parts: readonly HashPart[]): number {
  return hash64(parts)[1];
}

/** 128 bits as 32 hex digits (two differently seeded 64-bit hashes), for dedupe keys. */
export function hashHex(parts: readonly HashPart[]): string {
  const [a, b] = hash64(parts, 0);
  const [c, d] = hash64(parts, 0x9e3779b9);
  return [a, b, c, d].map((x) => x.toString(16).padStart(8, '0')).join('');
}
