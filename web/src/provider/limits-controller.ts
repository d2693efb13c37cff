/**
 * Applies the volunteer's work limits to a running provider: backend and
 * threads to the compute engine, power / visibility / Pause to the node's
 * pause, and the resulting capacity to the server. Framework-free: the power
 * and visibility sources are browser adapters passed in by boot.ts.
 */
import type { Capabilities } from '@shared/protocol';
import type { Observable } from '../core/emitter';
import type { ProviderNode } from './provider-node';
import type { SwitchingEngine } from './switching-engine';
import { dutySleepMs, limitedCapabilities, pauseReason, type PowerState, type WorkLimits } from './work-limits';

export interface LimitsSources {
  limits: Observable<WorkLimits>;
  /** undefined while the browser has no Battery Status API. */
  power: Observable<PowerState | undefined>;
  hidden: Observable<boolean>;
}

/** What the duty cycle needs before the node exists: a rest proportional to the unit's compute time. */
export function dutyPacer(limits: Observable<WorkLimits>, sleep = defaultSleep): (computeMs: number) => Promise<void> {
  return (computeMs) => {
    const ms = dutySleepMs(computeMs, limits.get().dutyPercent);
    return ms > 0 ? sleep(ms) : Promise.resolve();
  };
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Keeps node and engine in step with the limits; returns a function that stops listening. */
export function bindLimits(
  sources: LimitsSources,
  node: ProviderNode,
  engine: SwitchingEngine,
  measured: Capabilities,
): () => void {
  let applying = Promise.resolve();
  const apply = () => {
    const limits = sources.limits.get();
    const reason = pauseReason(limits, sources.power.get(), sources.hidden.get());
    node.setPaused(reason !== undefined, reason);
    // A lost device rules WebGPU out for this page whatever the limits say.
    const effective = engine.deviceLost ? { ...limits, webgpu: false } : limits;
    const capabilities = limitedCapabilities(measured, effective);
    applying = applying
      .then(() => engine.configure({ backend: capabilities.backend, threads: limits.threads }))
      .then(() => node.announce({ ...capabilities, backend: engine.backend }));
  };
  apply();
  const offs = [sources.limits.subscribe(apply), sources.power.subscribe(apply), sources.hidden.subscribe(apply)];
  return () => offs.forEach((off) => off());
}
