import { describe, expect, it } from 'vitest';
import { ADAMW_DEFAULTS, newTrainState, PRESETS, Tokenizer, TrainStateError } from '../../train';
import { checkpointRecord, emptyHistory } from './checkpoint';
import { checkpointBody, checkpointFromBody, judgeCheckpoint, VAL_LOSS_TOLERANCE } from './remote';
import { defaultTrainSpec } from './spec';

const spec = defaultTrainSpec('train-judge001', 0);
const tokenizer = Tokenizer.train('the cat sat on the mat. '.repeat(30), 300);

function record(step: number, poison?: number) {
  const s = newTrainState(PRESETS.tiny, ADAMW_DEFAULTS, 1);
  s.step = step;
  if (poison !== undefined) s.params[poison] = Number.NaN;
  return checkpointRecord(s, tokenizer.toJSON(), emptyHistory(), 0);
}

describe("accepting a provider's checkpoint (issue 18)", () => {
  it('TRAIN-R4: a checkpoint round-trips through its wire body and is checked like a stored one', () => {
    const r = record(10);
    const { stateBytes, body } = checkpointBody(r);
    const back = checkpointFromBody(spec, 10, stateBytes, body, 5);
    expect(back.record.state.length).toBe(r.state.length);
    expect(back.record.state.every((b, i) => b === r.state[i])).toBe(true);
    expect(back.checkpoint.state.step).toBe(10);
    // The step it is sent under must be the state's own.
    expect(() => checkpointFromBody(spec, 11, stateBytes, body, 5)).toThrow(TrainStateError);
    // Another config is refused.
    expect(() => checkpointFromBody({ ...spec, model: PRESETS.small }, 10, stateBytes, body, 5)).toThrow(
      /another model/,
    );
    // NaN weights are refused before any evaluation.
    const bad = checkpointBody(record(10, 3));
    expect(() => checkpointFromBody(spec, 10, bad.stateBytes, bad.body, 5)).toThrow(/NaN or Infinity/);
    // Garbage after the state is refused.
    const junk = body.slice();
    junk[stateBytes] = 0xff;
    expect(() => checkpointFromBody(spec, 10, stateBytes, junk, 5)).toThrow(/not valid UTF-8 JSON/);
  });

  it('TRAIN-R5: the verdict: accepted within the tolerance; a wrong or missing loss, a step back, relabelled weights or a non-finite loss are refused', () => {
    const base = { baseStep: 10, step: 20, claimed: 4.5, recomputed: 4.5, sameWeightsAsBase: false };
    expect(judgeCheckpoint(base)).toEqual({ accept: true });
    expect(judgeCheckpoint({ ...base, recomputed: 4.5 + VAL_LOSS_TOLERANCE * 5 })).toEqual({ accept: true });
    expect(judgeCheckpoint({ ...base, recomputed: 4.6 })).toMatchObject({
      accept: false,
      reason: /validation loss of 4.5/,
    });
    expect(judgeCheckpoint({ ...base, claimed: null })).toMatchObject({ accept: false });
    expect(judgeCheckpoint({ ...base, step: 5 })).toMatchObject({ accept: false, reason: /behind/ });
    expect(judgeCheckpoint({ ...base, sameWeightsAsBase: true })).toMatchObject({
      accept: false,
      reason: /relabelled/,
    });
    expect(judgeCheckpoint({ ...base, recomputed: Number.NaN, claimed: Number.NaN })).toMatchObject({ accept: false });
    // A paused checkpoint at the base's own step, with its weights, is fine.
    expect(judgeCheckpoint({ ...base, step: 10, sameWeightsAsBase: true })).toEqual({ accept: true });
  });
});
