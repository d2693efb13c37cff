/** Small presentational pieces shared by the provider page and the dashboard. */
import type { ReactNode } from 'react';

export function ProgressBar({ done, total, label }: { done: number; total: number; label?: string }) {
  const pct = total ? Math.round((done / total) * 1000) / 10 : 0;
  return (
    <div
      className="progress"
      role="progressbar"
      aria-valuemin={0}
      aria-valuemax={total}
      aria-valuenow={done}
      aria-label={label ?? 'progress'}
    >
      <div className="progress-fill" style={{ width: `${pct}%` }} />
      <span className="progress-text">
        {done} / {total} units · {pct}%
      </span>
    </div>
  );
}

/** A throughput chart: rows per second over the last two minutes. */
export function Sparkline({ values, label, unit }: { values: readonly number[]; label: string; unit: string }) {
  const width = 320;
  const height = 64;
  const points = values.length > 1 ? values : [0, ...values, 0];
  const peak = Math.max(0, ...points);
  const max = Math.max(1, peak);
  const step = width / (points.length - 1);
  const path = points
    .map((v, i) => `${i ? 'L' : 'M'}${(i * step).toFixed(1)},${(height - (v / max) * (height - 4)).toFixed(1)}`)
    .join(' ');
  return (
    <figure className="sparkline">
      <svg viewBox={`0 0 ${width} ${height}`} width={width} height={height} role="img" aria-label={`${label} chart`}>
        <path d={`${path} L${width},${height} L0,${height} Z`} className="sparkline-area" />
        <path d={path} className="sparkline-line" />
      </svg>
      <figcaption>
        {peak > 0 ? `${label} · peak ${peak.toLocaleString()} ${unit}` : `${label} · no work yet`}
      </figcaption>
    </figure>
  );
}

export function Stat({ label, value, testId }: { label: string; value: ReactNode; testId?: string }) {
  return (
    <div className="stat">
      <div className="stat-value" data-testid={testId}>
        {value}
      </div>
      <div className="stat-label">{label}</div>
    </div>
  );
}

export function Badge({ tone, children }: { tone: 'ok' | 'warn' | 'bad' | 'idle'; children: ReactNode }) {
  return <span className={`badge badge-${tone}`}>{children}</span>;
}

export function shortId(peerId: string | undefined): string {
  return peerId ? `${peerId.slice(0, 8)}…` : '—';
}

export function formatRate(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString() : n.toFixed(1);
}

/** A labelled number input; `hint` is its tooltip. */
export function NumberField({
  label,
  value,
  onChange,
  step,
  testId,
  hint,
}: {
  label: string;
  value: number;
  onChange: (v: number) => void;
  step?: number | 'any';
  testId: string;
  hint?: string;
}) {
  return (
    <label title={hint}>
      {label}{' '}
      <input
        type="number"
        value={value}
        step={step ?? 1}
        data-testid={testId}
        onChange={(e) => onChange(Number(e.target.value))}
      />
    </label>
  );
}
