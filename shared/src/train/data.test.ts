import { describe, expect, it } from 'vitest';
import type { GptConfig } from './config';
import { detagBrown, TokenLoader, textFromBytes, textFromJsonl } from './data';
import { TrainDataError } from './errors';

const enc = (s: string) => new TextEncoder().encode(s);
const CONFIG: GptConfig = { kind: 'gpt', layers: 1, width: 8, heads: 2, context: 8, vocab: 1000 };
const STREAM = Int32Array.from({ length: 1001 }, (_, i) => i % 1000);

describe('training data', () => {
  it('TRAIN-D1: text and JSONL input: empty or binary refused with a clear error', () => {
    expect(textFromBytes(enc('hello\n'))).toBe('hello\n');
    expect(() => textFromBytes(new Uint8Array(0), 'a.txt')).toThrow(/a.txt is empty/);
    expect(() => textFromBytes(Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0, 1), 'p.txt')).toThrow(/binary/);
    expect(() => textFromBytes(Uint8Array.of(0xff, 0xfe, 0x41))).toThrow(/not UTF-8/);
    expect(() => textFromBytes(enc('\u0001\u0002\u0003abc'))).toThrow(/binary/);
    expect(() => textFromBytes(enc(' \n\t '))).toThrow(TrainDataError);
    expect(textFromJsonl(enc('{"text":"a"}\n\n"b"\n'))).toBe('a\n\nb');
    expect(() => textFromJsonl(enc('{"text":"a"}\n{"body":1}'), 'd.jsonl')).toThrow(
      /d.jsonl line 2 has no string "text"/,
    );
    expect(() => textFromJsonl(enc('{"text":'))).toThrow(/line 1 is not JSON/);
  });

  it('TRAIN-D2: Brown detagging gives plain prose', () => {
    expect(detagBrown("\n\n\tThe/at jury/nn said/vbd ``/`` no/at ''/'' ,/, it/pps did/dod ./.\n")).toBe(
      'The jury said " no ", it did.',
    );
  });

  it('TRAIN-D3: batches are next-token pairs; a seeded loader replays and resumes from its position', () => {
    const opts = { seed: 5, validationShare: 0.1, shard: 0, shards: 1 };
    const a = new TokenLoader(STREAM, CONFIG, 8, opts);
    const first = a.next(4);
    for (let i = 0; i < 4 * 8; i++) expect(first.targets[i]).toBe((first.inputs[i]! + 1) % 1000);
    for (let k = 0; k < 40; k++) a.next(4); // crosses an epoch (112 windows / 4 per batch = 28 batches)
    const pos = a.position;
    expect(pos.epoch).toBe(1);
    const b = new TokenLoader(STREAM, CONFIG, 8, opts, pos);
    expect(b.next(4)).toEqual(a.next(4));
    expect(new TokenLoader(STREAM, CONFIG, 8, opts).next(4)).toEqual(first);
    expect(new TokenLoader(STREAM, CONFIG, 8, { ...opts, seed: 6 }).next(4)).not.toEqual(first);
  });

  it('TRAIN-D4: shards are disjoint, cover the training split, and never touch validation', () => {
    const opts = { seed: 1, validationShare: 0.2, shard: 0, shards: 3 };
    const shards = [0, 1, 2].map((shard) => new TokenLoader(STREAM, CONFIG, 8, { ...opts, shard }).windows());
    const all = shards.flat();
    expect(new Set(all).size).toBe(all.length);
    const total = Math.floor(1000 / 8);
    const val = Math.floor(total * 0.2);
    expect(all.length).toBe(total - val);
    expect(Math.max(...all)).toBeLessThan(total - val);
    const loader = new TokenLoader(STREAM, CONFIG, 8, opts);
    expect(loader.validation(5, 0)!.inputs[0]).toBe((total - val) * 8);
    expect(() => new TokenLoader(STREAM, CONFIG, 8, { ...opts, shard: 3 })).toThrow(/shard/);
  });
});
