import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  decodePeerMessage,
  encodePeerMessage,
  packTensors,
  PeerProtocolError,
  unpackTensors,
  type RawTensor,
} from './peer';

const HASH = 'a'.repeat(32);

function tensor(name: string, dims: number[], fill: (i: number) => number): RawTensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const data = Float32Array.from({ length: n }, (_, i) => fill(i));
  return { name, dtype: 'float32', dims, bytes: new Uint8Array(data.buffer) };
}

describe('peer protocol', () => {
  it('PEER1: a unit with tensors round-trips through encode/decode', () => {
    const inputs = [tensor('x', [3, 5], (i) => i * 0.5), tensor('y', [3], (i) => -i)];
    const { refs, body } = packTensors(inputs);
    const wire = encodePeerMessage(
      { type: 'unit', jobId: 'job-12345', unitId: 7, modelHash: 'a'.repeat(32), inputs: refs },
      body,
    );
    const { header, body: got } = decodePeerMessage(wire);
    expect(header.type).toBe('unit');
    if (header.type !== 'unit') return;
    expect(unpackTensors(header.inputs, got)).toEqual(inputs);
  });

  it('PEER2: tensors are 8-byte aligned in the body', () => {
    const { refs } = packTensors([
      { name: 'a', dtype: 'uint8', dims: [3], bytes: new Uint8Array(3) },
      tensor('b', [2], () => 1),
    ]);
    expect(refs[1]!.byteOffset % 8).toBe(0);
  });

  it('PEER3: a tensor that runs past the body, or whose size disagrees with its dims, is rejected', () => {
    const bad = encodePeerMessage(
      {
        type: 'result',
        jobId: 'job-12345',
        unitId: 0,
        modelHash: 'a'.repeat(32),
        computeMs: 1,
        backend: 'wasm',
        outputs: [{ name: 'y', dtype: 'float32', dims: [4], byteOffset: 0, byteLength: 16 }],
      },
      new Uint8Array(8),
    );
    expect(() => decodePeerMessage(bad)).toThrow(/past the end/);
    const mismatched = encodePeerMessage(
      {
        type: 'result',
        jobId: 'job-12345',
        unitId: 0,
        modelHash: 'a'.repeat(32),
        computeMs: 1,
        backend: 'wasm',
        outputs: [{ name: 'y', dtype: 'float32', dims: [3], byteOffset: 0, byteLength: 16 }],
      },
      new Uint8Array(16),
    );
    expect(() => decodePeerMessage(mismatched)).toThrow(/do not match dims/);
  });

  it('PEER4: unknown types, extra keys and bad hashes are rejected with a reason', () => {
    const raw = (obj: unknown) => {
      const json = new TextEncoder().encode(JSON.stringify(obj));
      const out = new Uint8Array(4 + json.length);
      new DataView(out.buffer).setUint32(0, json.length, true);
      out.set(json, 4);
      return out;
    };
    expect(() => decodePeerMessage(raw({ type: 'launch-missiles' }))).toThrow(PeerProtocolError);
    const model = { type: 'model', modelHash: HASH, frameBytes: 0, entries: [{ from: null, to: HASH, byteLength: 0 }] };
    expect(() => decodePeerMessage(raw({ ...model, extra: 1 }))).toThrow(/invalid header/);
    expect(() => decodePeerMessage(raw({ ...model, modelHash: 'xyz' }))).toThrow(/modelHash/);
    expect(decodePeerMessage(raw(model)).header).toEqual(model);
  });

  it('PEER5: arbitrary bytes never crash the decoder — they decode or throw PeerProtocolError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          decodePeerMessage(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(PeerProtocolError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('PEER6: a header length prefix larger than the limit is refused before parsing', () => {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setUint32(0, 0xffffffff, true);
    expect(() => decodePeerMessage(bytes)).toThrow(/exceeds/);
  });
});

describe('model messages', () => {
  const entry = (byteLength: number) => ({ from: null, to: 'c'.repeat(32), byteLength });

  it('PEER-M1: a model message whose body is not its frame plus its entries is refused', () => {
    const header = { type: 'model' as const, modelHash: 'a'.repeat(32), frameBytes: 3, entries: [entry(5)] };
    expect(decodePeerMessage(encodePeerMessage(header, new Uint8Array(8))).header).toEqual(header);
    expect(() => decodePeerMessage(encodePeerMessage(header, new Uint8Array(7)))).toThrow(/announces 8 bytes/);
  });

  it('PEER-M2: a model hash that is not xxh3-128 hex (e.g. an old SHA-256 one) is refused', () => {
    const job = { type: 'job', v: 2, jobId: 'job-12345', frameHash: 'b'.repeat(32), modelBytes: 1 };
    expect(() => decodePeerMessage(encodePeerMessage({ ...job, modelHash: 'a'.repeat(64) } as never))).toThrow(
      /32 lowercase hex/,
    );
  });
});
