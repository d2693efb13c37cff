/**
 * The volunteer's work limits: how much of this machine the provider may use.
 * Limits are per browser, not per tab (as in BOINC): they are kept in
 * IndexedDB and every change is broadcast to the other provider tabs of the
 * same origin. Both IndexedDB and the broadcast channel are untrusted input
 * (another version of the app, devtools), so every value read is validated.
 * Framework-free: the page renders `limits` and calls `update`.
 */
import * as v from 'valibot';
import type { Capabilities } from '@shared/protocol';
import { Observable } from '../core/emitter';
import type { KeyValueStore } from '../storage/kv';

/** Threads above this gain nothing in onnxruntime-web's WASM backend and starve the page. */
export const MAX_LIMIT_THREADS = 16;
/** Below 10% a unit waits ~10× its own compute time: requesters would see the provider as stalled. */
export const MIN_DUTY_PERCENT = 10;
const STORE_KEY = 'work-limits';
export const LIMITS_CHANNEL = 'basilica-work-limits';

export const WorkLimitsSchema = v.strictObject({
  /** WASM threads; 0 = the default (all cores but one). */
  threads: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(MAX_LIMIT_THREADS)),
  webgpu: v.boolean(),
  /** Compute at most this share of the time, in percent. */
  dutyPercent: v.pipe(v.number(), v.integer(), v.minValue(MIN_DUTY_PERCENT), v.maxValue(100)),
  /** Run only while charging (where the Battery Status API says so). */
  mainsOnly: v.boolean(),
  /** Run only while the battery is at or above this percent; 0 = any level. */
  minBatteryPercent: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(100)),
  pauseWhenHidden: v.boolean(),
  /** The volunteer's Pause button: kept across reloads and shared by every tab. */
  paused: v.boolean(),
});
export type WorkLimits = v.InferOutput<typeof WorkLimitsSchema>;

export const DEFAULT_LIMITS: WorkLimits = {
  threads: 0,
  webgpu: true,
  dutyPercent: 100,
  mainsOnly: false,
  minBatteryPercent: 0,
  pauseWhenHidden: false,
  paused: false,
};

const BroadcastSchema = v.strictObject({ type: v.literal('limits'), limits: WorkLimitsSchema });

/** The part of BroadcastChannel the store uses; tests pass an in-memory pair. */
export interface LimitsChannel {
  postMessage(message: unknown): void;
  onmessage: ((event: { data: unknown }) => void) | null;
  close(): void;
}

/** What the Battery Status API reports; `undefined` where the browser has no such API. */
export interface PowerState {
  charging: boolean;
  /** 0..1 as the API reports it. */
  level: number;
}

/**
 * Why work must stop now, or undefined when it may run. The Pause button wins;
 * power rules apply only where the browser reports the battery (no API: we
 * cannot know, and say so on the page rather than refuse to run).
 */
export function pauseReason(limits: WorkLimits, power: PowerState | undefined, hidden: boolean): string | undefined {
  if (limits.paused) return 'by you';
  if (limits.pauseWhenHidden && hidden) return 'tab hidden';
  if (power && !power.charging) {
    if (limits.mainsOnly) return 'on battery';
    if (power.level * 100 < limits.minBatteryPercent)
      return `battery ${Math.round(power.level * 100)}% < ${limits.minBatteryPercent}%`;
  }
  return undefined;
}

/** How long to rest after a unit that computed `computeMs`, so work takes at most `dutyPercent` of the time. */
export function dutySleepMs(computeMs: number, dutyPercent: number): number {
  if (dutyPercent >= 100 || !(computeMs > 0)) return 0;
  return (computeMs * (100 - dutyPercent)) / dutyPercent;
}

/**
 * What the provider announces under these limits: the backend it may use and
 * the GFLOP/s it can give on average (the measured rate scaled by the duty
 * cycle), so the matchmaker and requesters plan with the real capacity.
 */
export function limitedCapabilities(measured: Capabilities, limits: WorkLimits): Capabilities {
  const webgpuOk = limits.webgpu && measured.measured.webgpu !== undefined;
  const backend = measured.backend === 'webgpu' && !webgpuOk ? 'wasm' : measured.backend;
  const base = backend === measured.backend ? measured.gflops : (measured.measured.wasm ?? measured.gflops);
  return { ...measured, backend, gflops: (base * limits.dutyPercent) / 100 };
}

/** Reads stored limits; anything that does not validate falls back to the defaults (and says so). */
export async function loadLimits(kv: KeyValueStore): Promise<{ limits: WorkLimits; problem?: string }> {
  const stored = await kv.get(STORE_KEY);
  if (stored === undefined) return { limits: DEFAULT_LIMITS };
  const parsed = v.safeParse(WorkLimitsSchema, stored);
  if (parsed.success) return { limits: parsed.output };
  return {
    limits: DEFAULT_LIMITS,
    problem: `stored work limits were unreadable (${parsed.issues[0].message}); the defaults apply until you change them`,
  };
}

export class WorkLimitsStore {
  readonly limits: Observable<WorkLimits>;

  private constructor(
    private readonly kv: KeyValueStore,
    private readonly channel: LimitsChannel | undefined,
    initial: WorkLimits,
    readonly problem: string | undefined,
  ) {
    this.limits = new Observable(initial);
    if (channel)
      channel.onmessage = (event) => {
        // Another tab changed the limits (and already stored them): adopt them here.
        const parsed = v.safeParse(BroadcastSchema, event.data);
        if (parsed.success) this.limits.set(parsed.output.limits);
      };
  }

  static async open(kv: KeyValueStore, channel?: LimitsChannel): Promise<WorkLimitsStore> {
    const { limits, problem } = await loadLimits(kv);
    return new WorkLimitsStore(kv, channel, limits, problem);
  }

  /** Validates, applies here, stores and tells the other tabs. Throws a valibot error on an invalid change. */
  async update(change: Partial<WorkLimits>): Promise<WorkLimits> {
    const next = v.parse(WorkLimitsSchema, { ...this.limits.get(), ...change });
    this.limits.set(next);
    await this.kv.set(STORE_KEY, next);
    this.channel?.postMessage({ type: 'limits', limits: next });
    return next;
  }

  close(): void {
    this.channel?.close();
  }
}
