/** Test fixtures shared by the signaling tests: valid capabilities and needs, quiet server options. */
import type { Capabilities, JobNeeds } from '@shared/protocol';
import { DEFAULT_NETWORK } from '../constants';
import { createLogger, type Logger } from '../log';

export function caps(overrides: Partial<Capabilities> = {}): Capabilities {
  return {
    backend: 'wasm',
    gflops: 30,
    measured: { wasm: 30 },
    features: [],
    maxBufferBytes: 1 << 28,
    wasm: { simd: true, threads: true, cores: 4 },
    ...overrides,
  };
}

export function needs(overrides: Partial<JobNeeds> = {}): JobNeeds {
  return { kind: 'inference', maxProviders: 4, units: 64, modelBytes: 1024, ...overrides };
}

/** The network id the test hubs and servers run as, and test receipts name (SPEC BIND1). */
export const TEST_NETWORK = DEFAULT_NETWORK;

/** Logs only errors, so a failing test shows why the server complained. */
export const testLogger: Logger = createLogger(process.env.TEST_LOG_LEVEL === 'debug' ? 'debug' : 'error', (line) =>
  process.stderr.write(line + '\n'),
);

/** Resolves when `predicate` holds, polling on a timer; rejects after `timeoutMs` with `what`. */
export async function until(predicate: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
