import { describe, expect, it } from 'vitest';
import { defaultTrainSpec } from '../jobs/train/spec';
import { PeerProtocolError } from './peer';
import { decodeTrainFromProvider, decodeTrainToProvider, encodeTrainMessage, TRAIN_WIRE_VERSION } from './train';

const spec = defaultTrainSpec('train-wire0001', 0);
const start = (corpusBytes: number, stateBytes = 0, extraBytes = 0) => ({
  type: 'train-start' as const,
  v: TRAIN_WIRE_VERSION,
  jobId: spec.id,
  spec,
  fromStep: 0,
  corpusBytes,
  stateBytes,
  extraBytes,
});

describe('the Train wire (PeerStream.train)', () => {
  it('TRAINWIRE1: a start round-trips; its body must be exactly the corpus and checkpoint it announces', () => {
    const ok = decodeTrainToProvider(encodeTrainMessage(start(3), Uint8Array.of(1, 2, 3)));
    expect(ok.header).toEqual(start(3));
    expect(() => decodeTrainToProvider(encodeTrainMessage(start(4), Uint8Array.of(1, 2, 3)))).toThrow(
      /announces 4 bytes but carries 3/,
    );
    expect(() => decodeTrainToProvider(encodeTrainMessage(start(1, 2, 0), Uint8Array.of(1, 2, 3)))).toThrow(
      /half a checkpoint/,
    );
  });

  it('TRAINWIRE2: specs and events are validated: a bad spec, an unknown action or event, a NaN loss as a number are refused', () => {
    const bad = { ...start(0), spec: { ...spec, steps: -1 } };
    expect(() => decodeTrainToProvider(encodeTrainMessage(bad as never))).toThrow(PeerProtocolError);
    const control = { type: 'train-control', jobId: spec.id, action: 'explode' };
    expect(() => decodeTrainToProvider(encodeTrainMessage(control as never))).toThrow(/action/);
    const event = (e: object) => encodeTrainMessage({ type: 'train-event', jobId: spec.id, event: e } as never);
    expect(decodeTrainFromProvider(event({ type: 'eval', step: 3, valLoss: null })).header).toMatchObject({
      event: { valLoss: null },
    });
    expect(() => decodeTrainFromProvider(event({ type: 'teleport', step: 3 }))).toThrow(PeerProtocolError);
    expect(() =>
      decodeTrainFromProvider(event({ type: 'step', step: 1, loss: 'x', lr: 0, tokensPerS: 0, etaS: 0 })),
    ).toThrow(PeerProtocolError);
  });

  it('TRAINWIRE3: a checkpoint must carry its state and its tokenizer and history', () => {
    const header = {
      type: 'train-checkpoint' as const,
      jobId: spec.id,
      kind: 'checkpoint' as const,
      step: 10,
      valLoss: 5,
    };
    expect(() =>
      decodeTrainFromProvider(encodeTrainMessage({ ...header, stateBytes: 4 }, Uint8Array.of(1, 2, 3, 4))),
    ).toThrow(/needs the state and its tokenizer/);
    expect(() => decodeTrainFromProvider(encodeTrainMessage({ ...header, stateBytes: 0 }, Uint8Array.of(1)))).toThrow(
      /needs the state/,
    );
    expect(
      decodeTrainFromProvider(encodeTrainMessage({ ...header, stateBytes: 1 }, Uint8Array.of(1, 2))).body,
    ).toHaveLength(2);
    // Messages without a body may not carry one.
    const started = { type: 'train-started' as const, jobId: spec.id, backend: 'wasm', note: '', step: 0 };
    expect(() => decodeTrainFromProvider(encodeTrainMessage(started, Uint8Array.of(1)))).toThrow(/carries no body/);
  });
});
