/**
 * Test harness for the compute layer: exposes `window.computeHarness` for
 * Playwright to drive, and logs what it does on the page.
 */
import { getBuiltinModel } from '@shared/models';
import { compareTensors } from '@shared/tensor';
import { inspectOnnxModel } from '@shared/tensor';
import { parseNpy } from '@shared/tensor';
import type { Backend } from '@shared/protocol';
import { ComputeWorker, detectCapabilities, type DetectOptions } from '../src/compute';

const log = (line: string) => {
  document.getElementById('log')!.textContent += `${line}\n`;
};

export interface ModelCheck {
  ok: boolean;
  message: string;
  backend: Backend;
  numThreads: number;
  ms: number;
}

/** Tolerances for float32 backends vs the float64-accumulating reference. */
const ATOL = 1e-5;
const RTOL = 1e-4;

const harness = {
  async probe(options: DetectOptions = {}) {
    const report = await detectCapabilities(options);
    log(`capabilities: ${JSON.stringify(report.capabilities)}`);
    log(`chose ${report.capabilities.backend}: ${report.reason}`);
    return report;
  },

  /** Runs built-in model `id` on `backend` over `rows` seeded rows and compares with the TS reference. */
  async checkModel(id: string, backend: Backend, rows: number, numThreads?: number): Promise<ModelCheck> {
    const model = getBuiltinModel(id);
    if (!model) throw new Error(`no built-in model ${id}`);
    const worker = await ComputeWorker.create(backend, numThreads === undefined ? {} : { numThreads });
    try {
      const hash = `builtin:${id}`;
      await worker.loadModel(hash, model.build());
      const inputs = model.generateInputs(rows, 7);
      const expected = model.reference(inputs);
      const { outputs, ms } = await worker.run(hash, inputs, { transfer: true });
      const messages: string[] = [];
      let ok = true;
      for (const spec of model.outputs) {
        const got = outputs[spec.name];
        const cmp = got
          ? compareTensors(got, expected[spec.name]!, ATOL, RTOL)
          : { ok: false, message: 'missing output' };
        ok &&= cmp.ok;
        messages.push(`${spec.name}: ${cmp.message}`);
      }
      const message = messages.join('; ');
      log(`${id} on ${backend} (${rows} rows, ${worker.numThreads} threads): ${ok ? 'OK' : 'MISMATCH'} ${message}`);
      return { ok, message, backend, numThreads: worker.numThreads, ms };
    } finally {
      worker.dispose();
    }
  },

  /** Loads `bytes` in a worker as a model; returns the error's code and message (or 'none'). */
  async loadInWorker(bytes: number[], backend: Backend): Promise<{ code: string; message: string }> {
    const worker = await ComputeWorker.create(backend);
    try {
      await worker.loadModel('upload', new Uint8Array(bytes));
      return { code: 'none', message: '' };
    } catch (e) {
      return { code: (e as { code?: string }).code ?? 'unknown', message: e instanceof Error ? e.message : String(e) };
    } finally {
      worker.dispose();
    }
  },

  /** Validates an "uploaded" file the way the requester dashboard does. */
  validateUpload(bytes: number[], kind: 'onnx' | 'npy'): { ok: boolean; code: string; message: string } {
    try {
      if (kind === 'onnx') inspectOnnxModel(new Uint8Array(bytes));
      else parseNpy(new Uint8Array(bytes));
      return { ok: true, code: 'none', message: '' };
    } catch (e) {
      return {
        ok: false,
        code: (e as { code?: string }).code ?? 'unknown',
        message: e instanceof Error ? e.message : String(e),
      };
    }
  },
};

declare global {
  interface Window {
    computeHarness?: typeof harness;
  }
}
window.computeHarness = harness;
log('ready');
