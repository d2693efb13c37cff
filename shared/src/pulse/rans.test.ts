import { describe, expect, it } from 'vitest';
import { BitReader, BitWriter } from './bits';
import { BUCKET_SYMBOLS, BUCKETS, bucketExtraBits, bucketOf } from './buckets';
import { ByteReader, ByteWriter } from './bytes';
import { FREQ_CAP_SHIFT, MAX_SCALE_BITS } from './constants';
import { CorruptPatchError } from './errors';
import { decodeTable, normalize, ransEncode, RansDecoder, readTable, writeTable } from './rans';
import { seededRandom } from './testing';

/** Codes `symbols` with a table normalised from their own counts, through the header table format, and decodes them back. */
function roundTrip(symbols: number[], alphabet: number): { decoded: number[]; bytes: number } {
  const counts = new Uint32Array(alphabet);
  for (const s of symbols) counts[s]!++;
  const table = normalize(counts);
  const w = new ByteWriter();
  writeTable(w, table);
  const stream = ransEncode(table, Uint16Array.from(symbols), symbols.length);
  const header = w.result();
  const read = readTable(new ByteReader(header), alphabet);
  expect(Array.from(read.freq)).toEqual(Array.from(table.freq));
  const dt = decodeTable(read);
  const dec = new RansDecoder(stream, 0, stream.length);
  const decoded = symbols.map(() => dec.decode(dt));
  expect(dec.finished()).toBe(true);
  return { decoded, bytes: header.length + stream.length };
}

function tableBytes(scaleBits: number, entries: [number, number][]): Uint8Array {
  const w = new ByteWriter();
  w.u8(scaleBits);
  w.varint(entries.length);
  let prev = -1;
  for (const [s, f] of entries) {
    w.varint(s - prev - 1);
    w.varint(f - 1);
    prev = s;
  }
  return w.result();
}

describe('PULSE rANS coder', () => {
  it('PULSE11: round-trips adversarial frequency tables exactly', () => {
    const rand = seededRandom(7);
    const cases: [string, number[], number][] = [
      ['one symbol only', new Array(5000).fill(3), 8],
      ['two symbols, 99.99% skew', Array.from({ length: 20_000 }, (_, i) => (i === 777 ? 1 : 0)), 2],
      ['uniform over 512', Array.from({ length: 10_000 }, () => Math.floor(rand() * 512)), 512],
      ['every symbol once', Array.from({ length: 512 }, (_, i) => i), 512],
      [
        'geometric with a long tail',
        Array.from({ length: 30_000 }, () => Math.min(BUCKET_SYMBOLS - 1, Math.floor(-Math.log(rand()) * 4))),
        BUCKET_SYMBOLS,
      ],
      ['single value', [5], 16],
      ['last symbol of the alphabet', [239, 239, 0], 240],
      [
        'many rare symbols and one dominant',
        Array.from({ length: 50_000 }, (_, i) => (i % 100 === 0 ? 1 + (i % 511) : 0)),
        512,
      ],
    ];
    for (const [name, symbols, alphabet] of cases) {
      const { decoded } = roundTrip(symbols, alphabet);
      expect(decoded, name).toEqual(symbols);
    }
  });

  it('PULSE11: normalised tables sum to their scale, keep every seen symbol and respect the cap', () => {
    const rand = seededRandom(8);
    for (let trial = 0; trial < 200; trial++) {
      const alphabet = 2 + Math.floor(rand() * 511);
      const counts = new Uint32Array(alphabet);
      const used = 1 + Math.floor(rand() * alphabet);
      for (let i = 0; i < used; i++) counts[Math.floor(rand() * alphabet)] = Math.floor(2 ** (rand() * 24));
      if (counts.every((c) => c === 0)) counts[0] = 1;
      const t = normalize(counts);
      const scale = 1 << t.scaleBits;
      expect(t.scaleBits).toBeLessThanOrEqual(MAX_SCALE_BITS);
      expect(t.freq.reduce((a, b) => a + b, 0)).toBe(scale);
      counts.forEach((c, s) => c > 0 && expect(t.freq[s]).toBeGreaterThan(0));
      expect(Math.max(...t.freq)).toBeLessThanOrEqual(scale - (scale >> FREQ_CAP_SHIFT));
    }
  });

  it('PULSE11: skewed symbols cost far less than a bit each', () => {
    const symbols = Array.from({ length: 100_000 }, (_, i) => (i % 1000 === 0 ? 1 : 0));
    const { bytes } = roundTrip(symbols, 2);
    expect(bytes * 8).toBeLessThan(symbols.length * 0.03);
  });

  it('PULSE15: corrupt tables are rejected with CorruptPatchError', () => {
    const bad: [string, Uint8Array][] = [
      [
        'scale too small',
        tableBytes(7, [
          [0, 64],
          [1, 64],
        ]),
      ],
      [
        'scale too large',
        tableBytes(MAX_SCALE_BITS + 1, [
          [0, 1 << MAX_SCALE_BITS],
          [1, 1 << MAX_SCALE_BITS],
        ]),
      ],
      [
        'sum below the scale',
        tableBytes(8, [
          [0, 100],
          [1, 100],
        ]),
      ],
      [
        'sum above the scale',
        tableBytes(8, [
          [0, 200],
          [1, 100],
        ]),
      ],
      [
        'a symbol above the cap (sum is right)',
        tableBytes(9, [
          [0, 511],
          [1, 1],
        ]),
      ],
      [
        'symbol beyond the alphabet',
        tableBytes(8, [
          [0, 128],
          [16, 128],
        ]),
      ],
      ['a single symbol', tableBytes(8, [[0, 256]])],
      [
        'truncated',
        tableBytes(8, [
          [0, 128],
          [1, 128],
        ]).subarray(0, 4),
      ],
    ];
    for (const [name, bytes] of bad)
      expect(() => readTable(new ByteReader(bytes), 16), name).toThrow(CorruptPatchError);
  });

  it('PULSE15: truncated, overlong or garbage streams are CorruptPatchError, never a hang', () => {
    const symbols = Array.from({ length: 3000 }, (_, i) => i % 5);
    const counts = new Uint32Array(8);
    for (const s of symbols) counts[s]!++;
    const table = normalize(counts);
    const dt = decodeTable(table);
    const stream = ransEncode(table, Uint16Array.from(symbols), symbols.length);
    expect(() => new RansDecoder(stream, 0, 3)).toThrow(CorruptPatchError);
    expect(() => new RansDecoder(new Uint8Array([0xff, 0, 0, 0]), 0, 4)).toThrow(CorruptPatchError);
    const truncated = new RansDecoder(stream, 0, stream.length - 1);
    expect(() => symbols.forEach(() => truncated.decode(dt))).toThrow(CorruptPatchError);
    const extra = new Uint8Array(stream.length + 1);
    extra.set(stream);
    const long = new RansDecoder(extra, 0, extra.length);
    symbols.forEach(() => long.decode(dt));
    expect(long.finished()).toBe(false);
    const garbage = new RansDecoder(
      Uint8Array.from({ length: 64 }, (_, i) => ((i * 37 + 11) & 0xff) | 0x40),
      0,
      64,
    );
    expect(() => {
      for (let i = 0; i < 1_000_000; i++) garbage.decode(dt);
    }).toThrow(CorruptPatchError);
  });

  it('PULSE10: buckets cover [0, 2^31 − 1] exactly and contiguously', () => {
    const rand = seededRandom(9);
    const values = [
      0,
      1,
      2,
      6,
      7,
      8,
      15,
      16,
      255,
      65535,
      2 ** 30,
      2 ** 31 - 2,
      2 ** 31 - 1,
      ...Array.from({ length: 5000 }, () => Math.floor(2 ** (rand() * 31)) - 1),
    ];
    for (const v of values) {
      const s = bucketOf(v);
      expect(s).toBeLessThan(BUCKET_SYMBOLS);
      const e = bucketExtraBits(s);
      expect(BUCKETS.extra[s]).toBe(e);
      const low = v - BUCKETS.base[s]!;
      expect(low >= 0 && low < 2 ** e).toBe(true);
    }
    for (let s = 1; s < BUCKET_SYMBOLS; s++)
      expect(BUCKETS.base[s]).toBe(BUCKETS.base[s - 1]! + 2 ** BUCKETS.extra[s - 1]!);
    // The largest value opens the last bucket (its wider raw range is refused by the decoder's range checks).
    expect(BUCKETS.base[BUCKET_SYMBOLS - 1]).toBe(2 ** 31 - 1);
  });

  it('PULSE11: the raw-bit stream round-trips fields of 0..32 bits and rejects overruns and non-zero padding', () => {
    const rand = seededRandom(10);
    const fields = Array.from({ length: 5000 }, () => {
      const n = Math.floor(rand() * 33);
      return [n, n === 0 ? 0 : Math.floor(rand() * 2 ** n)] as const;
    });
    const w = new BitWriter(1);
    for (const [n, v] of fields) w.write(v, n);
    const bytes = w.finish().slice();
    const r = new BitReader(bytes);
    expect(fields.map(([n]) => r.read(n))).toEqual(fields.map(([, v]) => v));
    expect(r.consumedAll()).toBe(true);
    expect(() => r.read(9)).toThrow(CorruptPatchError);
    const padded = new BitWriter();
    padded.write(1, 3);
    const p = padded.finish().slice();
    p[0]! |= 1;
    const pr = new BitReader(p);
    pr.read(3);
    expect(pr.consumedAll()).toBe(false);
  });
});
