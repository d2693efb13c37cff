/** The volunteer's work limits: a thin view over WorkLimitsStore (shared by every provider tab of this browser). */
import { useState } from 'react';
import { messageOf } from '@shared/errors';
import { useObservable } from '../app/hooks';
import type { Observable } from '../core/emitter';
import {
  MAX_LIMIT_THREADS,
  MIN_DUTY_PERCENT,
  type PowerState,
  type WorkLimits,
  type WorkLimitsStore,
} from './work-limits';

export function WorkLimitsPanel({
  store,
  power,
  batteryApi,
  webgpuAvailable,
  cores,
}: {
  store: WorkLimitsStore;
  power: Observable<PowerState | undefined>;
  batteryApi: boolean;
  webgpuAvailable: boolean;
  cores: number;
}) {
  const limits = useObservable(store.limits);
  const battery = useObservable(power);
  const [error, setError] = useState<string>();
  const change = (patch: Partial<WorkLimits>) =>
    store.update(patch).then(
      () => setError(undefined),
      (e: unknown) => setError(`${messageOf(e)}: this limit was not changed; pick a value in the allowed range`),
    );
  const maxThreads = Math.max(1, Math.min(MAX_LIMIT_THREADS, cores));
  return (
    <div className="panel" data-testid="work-limits">
      <h2>Work limits</h2>
      <p className="muted">Limits apply to every provider tab of this browser and are kept across reloads.</p>
      <div className="limits">
        <label>
          CPU threads
          <select
            data-testid="limit-threads"
            value={limits.threads}
            onChange={(e) => void change({ threads: Number(e.target.value) })}
          >
            <option value={0}>automatic</option>
            {Array.from({ length: maxThreads }, (_, i) => (
              <option key={i + 1} value={i + 1}>
                {i + 1}
              </option>
            ))}
          </select>
        </label>
        <label>
          <input
            type="checkbox"
            data-testid="limit-webgpu"
            checked={limits.webgpu}
            disabled={!webgpuAvailable}
            onChange={(e) => void change({ webgpu: e.target.checked })}
          />
          Use WebGPU{webgpuAvailable ? '' : ' (not available in this browser)'}
        </label>
        <label>
          Compute at most
          <input
            type="range"
            data-testid="limit-duty"
            min={MIN_DUTY_PERCENT}
            max={100}
            step={10}
            value={limits.dutyPercent}
            onChange={(e) => void change({ dutyPercent: Number(e.target.value) })}
          />
          <output data-testid="limit-duty-value">{limits.dutyPercent}% of the time</output>
        </label>
        <fieldset>
          <legend>Power</legend>
          <label>
            <input
              type="checkbox"
              data-testid="limit-mains"
              checked={limits.mainsOnly}
              onChange={(e) => void change({ mainsOnly: e.target.checked })}
            />
            Only while charging
          </label>
          <label>
            Only above battery
            <select
              data-testid="limit-battery"
              value={limits.minBatteryPercent}
              onChange={(e) => void change({ minBatteryPercent: Number(e.target.value) })}
            >
              {[0, 20, 40, 60, 80].map((p) => (
                <option key={p} value={p}>
                  {p === 0 ? 'any level' : `${p}%`}
                </option>
              ))}
            </select>
          </label>
          <p className="muted" data-testid="battery-state">
            {!batteryApi
              ? 'This browser does not report the battery (no Battery Status API): power limits cannot apply here.'
              : battery
                ? `Battery ${Math.round(battery.level * 100)}%, ${battery.charging ? 'charging' : 'on battery'}.`
                : 'Reading the battery…'}
          </p>
        </fieldset>
        <label>
          <input
            type="checkbox"
            data-testid="limit-hidden"
            checked={limits.pauseWhenHidden}
            onChange={(e) => void change({ pauseWhenHidden: e.target.checked })}
          />
          Pause while this tab is hidden
        </label>
      </div>
      {error ? (
        <p className="error" role="alert">
          {error}
        </p>
      ) : null}
    </div>
  );
}
