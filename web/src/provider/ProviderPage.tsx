import { useEffect, useState } from 'react';
import { useObservable } from '../app/hooks';
import { Badge, formatRate, shortId, Sparkline, Stat } from '../app/widgets';
import { startProvider, type BootView } from './boot';
import type { ProviderNode } from './provider-node';

const STEP_TEXT: Record<BootView['step'], string> = {
  identity: 'Loading this browser’s provider key…',
  benchmark: 'Measuring WebGPU and WebAssembly (a few seconds)…',
  worker: 'Starting the compute worker…',
  connect: 'Connecting to the network…',
  ready: 'Ready',
  failed: 'Could not start',
};

export function ProviderPage() {
  const runtime = startProvider();
  const boot = useObservable(runtime.boot);
  const [node, setNode] = useState<ProviderNode>();
  useEffect(() => void runtime.node.then(setNode, () => undefined), [runtime]);

  return (
    <section className="provider">
      <h1>Basilica provider</h1>
      <p className="lede">Keep this tab open to run work for others. Pause any time; nothing is installed.</p>
      {boot.step === 'failed' ? (
        <div className="error" role="alert">
          <strong>This tab cannot provide compute:</strong> {boot.error}. Try a current Chrome or Edge, and reload.
        </div>
      ) : null}
      <Capabilities boot={boot} />
      {node ? (
        <NodeStatus node={node} />
      ) : (
        <p className="muted" data-testid="boot-step">
          {STEP_TEXT[boot.step]}
        </p>
      )}
    </section>
  );
}

function Capabilities({ boot }: { boot: BootView }) {
  const report = boot.report;
  return (
    <div className="panel">
      <h2>This device</h2>
      <dl className="facts">
        <dt>Identity</dt>
        <dd data-testid="provider-id">
          {boot.identity ? `${shortId(boot.identity.peerId)}${boot.identityCreated ? ' (new key)' : ''}` : '…'}
        </dd>
        <dt>Cached models</dt>
        <dd data-testid="cached-models">
          {boot.cachedModels ?? '…'}
          {boot.modelNote ? <span className="muted"> ({boot.modelNote})</span> : null}
        </dd>
        {report ? (
          <>
            <dt>WebGPU</dt>
            <dd>
              {report.webgpu.available
                ? `${report.webgpu.adapter.vendor || 'unknown vendor'} · ${report.webgpu.adapter.architecture || report.webgpu.adapter.description || 'adapter'}`
                : `unavailable (${report.webgpu.reason})`}
              {report.capabilities.measured.webgpu !== undefined
                ? ` — ${report.capabilities.measured.webgpu.toFixed(2)} GFLOP/s`
                : ''}
            </dd>
            <dt>WebAssembly</dt>
            <dd>
              SIMD {report.wasm.simd ? 'yes' : 'no'} · threads{' '}
              {report.wasm.threads ? `yes (${report.capabilities.wasm.cores} cores)` : 'no'}
              {report.capabilities.measured.wasm !== undefined
                ? ` — ${report.capabilities.measured.wasm.toFixed(2)} GFLOP/s`
                : ''}
            </dd>
            <dt>Using</dt>
            <dd data-testid="chosen-backend">
              <strong>{report.capabilities.backend}</strong> — {report.reason}
            </dd>
          </>
        ) : null}
      </dl>
    </div>
  );
}

function NodeStatus({ node }: { node: ProviderNode }) {
  const view = useObservable(node.view);
  const tone = view.connection === 'open' ? 'ok' : view.connection === 'closed' ? 'bad' : 'warn';
  const current = view.sessions.find((s) => s.state !== 'closed');
  return (
    <div className="panel">
      <div className="panel-head">
        <h2>Status</h2>
        <Badge tone={tone}>
          <span data-testid="connection">{view.connection}</span>
        </Badge>
        {view.paused ? <Badge tone="warn">paused</Badge> : null}
        <button type="button" data-testid="pause" onClick={() => node.setPaused(!view.paused)}>
          {view.paused ? 'Resume' : 'Pause'}
        </button>
      </div>
      <div className="stats">
        <Stat
          label="current job"
          value={current ? `${current.jobId} (${current.state})` : 'waiting for work'}
          testId="current-job"
        />
        <Stat label="units done" value={view.unitsDone} testId="units-done" />
        <Stat label="rows / s" value={formatRate(view.rowsPerSecond)} />
        <Stat label="units failed" value={view.unitsFailed} />
        <Stat
          label="credits earned"
          value={view.credits ? `${formatFlops(view.credits.flops)} · ${view.credits.receipts} receipts` : '—'}
          testId="credits"
        />
      </div>
      {view.credits ? (
        <button type="button" data-testid="export-receipts" onClick={() => exportReceipts(node)}>
          Export receipts (JSON)
        </button>
      ) : null}
      <Sparkline values={view.history} label="rows per second" unit="rows/s" />
      <details>
        <summary>Activity</summary>
        <pre className="log" data-testid="provider-log">
          {view.log.join('\n')}
        </pre>
      </details>
    </div>
  );
}

function formatFlops(flops: number): string {
  const units = ['FLOP', 'kFLOP', 'MFLOP', 'GFLOP', 'TFLOP', 'PFLOP'];
  let value = flops;
  let i = 0;
  while (value >= 1000 && i < units.length - 1) {
    value /= 1000;
    i++;
  }
  return `${i === 0 ? value : value.toFixed(2)} ${units[i]}`;
}

/** Receipts verify offline with the requesters' public keys, so the file is the provider's proof of work. */
function exportReceipts(node: ProviderNode): void {
  const json = node.exportReceipts();
  if (!json) return;
  const url = URL.createObjectURL(new Blob([json], { type: 'application/json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = 'basilica-receipts.json';
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
