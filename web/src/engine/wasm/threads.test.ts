import { describe, expect, it } from 'vitest';
import { mulberry32 } from '@shared/random';
import {
  ADAMW_DEFAULTS,
  arenaFor,
  type GptConfig,
  newTrainState,
  restoreInto,
  trainStep,
  WasmBackend,
} from '@shared/train';
import { spawnNode } from './threads.node.ts';

/** Big enough that every heavy kernel crosses the parallel threshold; 6 heads split 3 + 3 (or 2+2+2). */
const CONFIG: GptConfig = { kind: 'gpt', layers: 2, width: 96, heads: 6, context: 64, vocab: 130 };

describe('WASM backend on worker threads', () => {
  it('TRAIN-W4: 2 and 3 threads give bit-identical weights and moments to 1 thread', () => {
    const u = mulberry32(8);
    const batches = Array.from({ length: 3 }, () => ({
      inputs: Int32Array.from({ length: 2 * 64 }, () => Math.floor(u() * 130)),
      targets: Int32Array.from({ length: 2 * 64 }, () => Math.floor(u() * 130)),
    }));
    const run = (threads: number) => {
      const b = new WasmBackend(arenaFor(CONFIG, 2, 64), { threads, spawn: spawnNode });
      restoreInto(b, newTrainState(CONFIG, ADAMW_DEFAULTS, 2));
      const losses = batches.map((batch, k) => trainStep(b, batch, ADAMW_DEFAULTS, k + 1));
      const P = b.arena.params.size;
      const state = b.f.slice(0, 3 * P);
      b.dispose();
      return { losses, state };
    };
    const one = run(1);
    for (const threads of [2, 3]) {
      const many = run(threads);
      expect(many.losses).toEqual(one.losses);
      expect(Buffer.from(many.state.buffer).equals(Buffer.from(one.state.buffer)), `${threads} threads`).toBe(true);
    }
  });
});
