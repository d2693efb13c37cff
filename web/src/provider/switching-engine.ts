/**
 * The provider's compute engine under the volunteer's limits: it restarts the
 * worker with another backend or thread count between units (never during
 * one: a unit in flight finishes on the engine it started on, so nothing is
 * requeued), and falls back to WASM when the WebGPU device is lost. Models
 * loaded before a restart are loaded again into the new worker on first use.
 * Framework-free; the real worker comes through `EngineFactory`.
 */
import type { Backend, RawTensor } from '@shared/protocol';
import { messageOf } from '@shared/errors';
import type { ComputeEngine } from '../core/ports';

export interface DisposableEngine extends ComputeEngine {
  dispose(): void;
}

/** `threads` 0 means the worker's default. */
export type EngineFactory = (backend: Backend, threads: number) => Promise<DisposableEngine>;

export interface EngineSetting {
  backend: Backend;
  threads: number;
}

/**
 * An EngineFactory whose first engine is `kept` (a worker already started, e.g. the one the capability
 * benchmark kept) when it runs the backend and threads asked for; otherwise, and for every later engine,
 * `create`. `release` disposes `kept` if nothing took it.
 */
export function adoptFirst(
  kept: { engine: DisposableEngine; threads: number } | undefined,
  create: EngineFactory,
): { create: EngineFactory; release(): void } {
  let spare = kept;
  return {
    create: async (backend, threads) => {
      const offered = spare;
      spare = undefined;
      // WebGPU workers run one CPU thread whatever is asked; 0 asks for the default the kept one started with.
      const fits =
        offered?.engine.backend === backend && (backend === 'webgpu' || threads === 0 || threads === offered.threads);
      if (fits) return offered.engine;
      offered?.engine.dispose();
      return create(backend, threads);
    },
    release: () => {
      spare?.engine.dispose();
      spare = undefined;
    },
  };
}

/** onnxruntime-web and Dawn word a lost device differently across versions; these are the forms seen. */
const DEVICE_LOST = /device (was |is )?lost|devicelost|gpudevice.*(destroyed|lost)|adapter is gone/i;

export function isDeviceLost(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === 'backend-unavailable' || DEVICE_LOST.test(messageOf(error));
}

export class SwitchingEngine implements ComputeEngine {
  /** Bytes of every model loaded, to load them again after a restart (the worker held a copy anyway). */
  private readonly models = new Map<string, Uint8Array>();
  private loaded = new Set<string>();
  private wanted: EngineSetting;
  private busy: Promise<unknown> = Promise.resolve();
  /** Once the device is lost this page stays on WASM: a new device from the same adapter tends to be lost again. */
  deviceLost = false;

  private constructor(
    private engine: DisposableEngine,
    private setting: EngineSetting,
    private readonly create: EngineFactory,
    private readonly log: (line: string) => void,
  ) {
    this.wanted = setting;
  }

  static async start(setting: EngineSetting, create: EngineFactory, log: (line: string) => void) {
    return new SwitchingEngine(await create(setting.backend, setting.threads), setting, create, log);
  }

  get backend(): Backend {
    return this.setting.backend;
  }

  get current(): EngineSetting {
    return this.setting;
  }

  /**
   * Restarts the worker now if it is idle, else right after the unit in
   * flight; resolves once the worker runs with `setting` (or failed to start).
   */
  configure(setting: EngineSetting): Promise<void> {
    const want = this.deviceLost ? { ...setting, backend: 'wasm' as const } : setting;
    this.wanted = want;
    return this.serial(() => this.apply(want));
  }

  load(hash: string, bytes: Uint8Array): Promise<void> {
    const want = this.wanted;
    return this.serial(async () => {
      await this.apply(want);
      this.models.set(hash, bytes);
      await this.engine.load(hash, bytes);
      this.loaded.add(hash);
    });
  }

  /** Runs on the setting wanted when called: a later `configure` applies to the next unit, not this one. */
  run(hash: string, inputs: RawTensor[]): Promise<RawTensor[]> {
    const want = this.wanted;
    return this.serial(async () => {
      await this.apply(want);
      try {
        return await this.runHere(hash, inputs);
      } catch (error) {
        if (this.setting.backend !== 'webgpu' || !isDeviceLost(error)) throw error;
        this.log(`WebGPU device lost (${messageOf(error)}): switched to WebAssembly; this unit runs again there`);
        this.deviceLost = true;
        this.wanted = { ...this.wanted, backend: 'wasm' };
        await this.apply(this.wanted);
        return await this.runHere(hash, inputs);
      }
    });
  }

  dispose(): void {
    this.engine.dispose();
  }

  private async runHere(hash: string, inputs: RawTensor[]): Promise<RawTensor[]> {
    if (!this.loaded.has(hash)) {
      const bytes = this.models.get(hash);
      if (bytes) {
        await this.engine.load(hash, bytes);
        this.loaded.add(hash);
      }
    }
    return this.engine.run(hash, inputs);
  }

  /** One call at a time, so a restart never lands in the middle of a unit. */
  private serial<T>(task: () => Promise<T>): Promise<T> {
    const next = this.busy.then(task, task);
    this.busy = next.catch(() => undefined);
    return next;
  }

  private async apply(want: EngineSetting): Promise<void> {
    const { backend, threads } = want;
    if (backend === this.setting.backend && threads === this.setting.threads) return;
    let fresh: DisposableEngine;
    try {
      fresh = await this.create(backend, threads);
    } catch (error) {
      // Keep working on the engine we have rather than stop: the volunteer sees why in the log.
      this.log(`could not start a ${backend} worker (${messageOf(error)}); still on ${this.setting.backend}`);
      if (this.wanted === want) this.wanted = this.setting;
      return;
    }
    this.engine.dispose();
    this.engine = fresh;
    this.loaded = new Set();
    const from = this.setting;
    this.setting = { backend, threads };
    this.log(
      `compute worker restarted: ${from.backend} → ${backend}, ${describeThreads(from.threads)} → ${describeThreads(threads)}`,
    );
  }
}

function describeThreads(threads: number): string {
  return threads === 0 ? 'default threads' : `${threads} thread${threads === 1 ? '' : 's'}`;
}
