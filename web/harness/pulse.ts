/**
 * PULSE diff harness: builds small seeded model pairs (all dtypes, odd
 * lengths, edge bit patterns, nothing/everything changed), diffs them on the
 * CPU, in the Web Worker and on WebGPU, and encodes each patch. e2e compares
 * the three byte for byte. Sizes are tiny: SwiftShader runs WebGPU ~100×
 * slower than WASM.
 */

import { apply, decode, diff, encode, hashModel, type ChangeFinder, type DType, type Model } from '@shared/pulse';
import { bytesToHex } from '@shared/bytes';
import { createGpuDiffer, createWorkerDiffer } from '../src/pulse/index';
import { encodeValue, gaussian, perturb, seededRandom, tensor } from '@shared/pulse/testing';

export interface PulseCaseReport {
  name: string;
  elements: number;
  changes: number;
  cpu: string;
  worker: string;
  gpu: string;
  /** The CPU patch applied to the base reproduces next (hash-checked inside apply). */
  applied: boolean;
}

export interface PulseHarnessReport {
  adapter: { vendor: string; architecture: string } | null;
  workgroupSize: number;
  chunkElements: number;
  cases: PulseCaseReport[];
  error: string | null;
}

declare global {
  interface Window {
    pulseHarness?: {
      run(options?: { maxChunkElements?: number; maxGroupsPerDimension?: number }): Promise<PulseHarnessReport>;
    };
  }
}

const EDGES16 = [0x0000, 0x8000, 0x7f80, 0xff80, 0x7fc1, 0xffff, 0x0001, 0x8001, 0x3f80];
const EDGES32 = [0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00001, 0xffffffff, 1, 0x80000001, 0x3f800000];

function smallModel(seed: number, dtype: DType, shape: number[]): Model {
  const rand = seededRandom(seed);
  return {
    tensors: [
      tensor('w', dtype, shape, () => encodeValue(dtype, gaussian(rand) * 0.02)),
      tensor('bias', dtype, [7], (i) => encodeValue(dtype, i * 0.5)),
    ],
  };
}

function cases(): { name: string; base: Model; next: Model }[] {
  const out: { name: string; base: Model; next: Model }[] = [];
  for (const dtype of ['bf16', 'f16', 'f32'] as const) {
    const base = smallModel(1, dtype, [37, 29]); // 1073 elements: odd, several workgroups
    out.push({ name: `${dtype}-1%`, base, next: perturb(base, 2, 0.01) });
    out.push({ name: `${dtype}-30%`, base, next: perturb(base, 3, 0.3) });
    out.push({ name: `${dtype}-none`, base, next: base });
    const edges = dtype === 'f32' ? EDGES32 : EDGES16;
    const k = edges.length;
    out.push({
      name: `${dtype}-edges`,
      base: { tensors: [tensor('e', dtype, [k, k], (i) => edges[Math.floor(i / k)]!)] },
      next: { tensors: [tensor('e', dtype, [k, k], (i) => edges[i % k]!)] },
    });
  }
  const all = smallModel(4, 'bf16', [16, 33]);
  out.push({
    name: 'bf16-all',
    base: all,
    next: { tensors: all.tensors.map((t) => ({ ...t, data: t.data.map((v) => v ^ 1) })) },
  });
  return out;
}

async function patchHex(base: Model, next: Model, findChanges: ChangeFinder, baseHash: Uint8Array): Promise<string> {
  return bytesToHex(encode(await diff(base, next, { findChanges, baseHash })));
}

async function run(
  options: { maxChunkElements?: number; maxGroupsPerDimension?: number } = {},
): Promise<PulseHarnessReport> {
  const report: PulseHarnessReport = { adapter: null, workgroupSize: 0, chunkElements: 0, cases: [], error: null };
  const worker = createWorkerDiffer();
  try {
    const gpu = await createGpuDiffer(options);
    report.adapter = gpu.adapterInfo;
    report.workgroupSize = gpu.workgroupSize;
    report.chunkElements = gpu.chunkElements;
    try {
      for (const c of cases()) {
        const baseHash = await hashModel(c.base);
        const cpuBytes = encode(await diff(c.base, c.next, { baseHash }));
        const patch = decode(cpuBytes);
        const result = await apply(c.base, patch, { baseHash });
        report.cases.push({
          name: c.name,
          elements: c.next.tensors.reduce((s, t) => s + t.data.length, 0),
          changes: patch.tensors.reduce(
            (s, t) =>
              s + (t.kind === 'full' ? t.data.length : t.kind === 'conditioned' ? t.changes : t.positions.length),
            0,
          ),
          cpu: bytesToHex(cpuBytes),
          worker: await patchHex(c.base, c.next, worker.findChanges, baseHash),
          gpu: await patchHex(c.base, c.next, gpu.findChanges, baseHash),
          applied: result.tensors.length === c.next.tensors.length,
        });
      }
    } finally {
      gpu.destroy();
    }
  } catch (e) {
    report.error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  } finally {
    worker.destroy();
  }
  document.getElementById('log')!.textContent = JSON.stringify(report, null, 1).slice(0, 4000);
  return report;
}

window.pulseHarness = { run };
