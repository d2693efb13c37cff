import { useEffect, useState } from 'react';
import { useObservable } from '../app/hooks';
import { Badge, formatRate, shortId, Sparkline, Stat } from '../app/widgets';
import { startProvider, type BootView, type ProviderRuntime } from './boot';
import { ContributionPanel, formatFlops } from './ContributionPanel';
import type { DisplayNameController } from './display-name';
import type { ProviderNode } from './provider-node';
import type { WorkLimitsStore } from './work-limits';
import { IdentityBackupPanel } from './IdentityBackupPanel';
import { WorkLimitsPanel } from './WorkLimitsPanel';

const STEP_TEXT: Record<BootView['step'], string> = {
  identity: 'Loading this browser’s provider key…',
  benchmark: 'Measuring this device’s speed (a few seconds)…',
  worker: 'Starting the compute worker…',
  connect: 'Connecting to the network…',
  ready: 'Ready',
  failed: 'Could not start',
};

export function ProviderPage() {
  const runtime = startProvider();
  const boot = useObservable(runtime.boot);
  const [node, setNode] = useState<ProviderNode>();
  const [limits, setLimits] = useState<WorkLimitsStore>();
  useEffect(() => void runtime.node.then(setNode, () => undefined), [runtime]);
  useEffect(() => void runtime.limits.then(setLimits, () => undefined), [runtime]);

  return (
    <section className="provider">
      <h1>Basilica provider</h1>
      <p className="lede">Keep this tab open to run work for others. Pause any time; nothing is installed.</p>
      {boot.step === 'failed' ? (
        <div className="error" role="alert">
          <strong>This tab cannot provide compute:</strong> {boot.error}. Try a current Chrome or Edge, and reload.
        </div>
      ) : null}
      <Capabilities boot={boot} node={node} />
      {node && limits ? (
        <>
          <NodeStatus node={node} limits={limits} />
          <WorkLimitsPanel
            store={limits}
            power={runtime.power}
            batteryApi={runtime.batteryApi}
            webgpuAvailable={boot.report?.webgpu.available ?? false}
            cores={boot.report?.capabilities.wasm.cores ?? navigator.hardwareConcurrency ?? 1}
          />
          <TogetherActivityPanel activity={runtime.together} />
          <RlActivityPanel activity={runtime.rl} />
          <Contribution node={node} runtime={runtime} />
          <IdentityBackupPanel backup={runtime.backup} extractable={boot.identity?.privateKey.extractable ?? false} />
        </>
      ) : (
        <p className="muted" data-testid="boot-step">
          {STEP_TEXT[boot.step]}
        </p>
      )}
    </section>
  );
}

function Capabilities({ boot, node }: { boot: BootView; node: ProviderNode | undefined }) {
  const report = boot.report;
  const registered = useRegistered(node);
  return (
    <div className="panel">
      <h2>This device</h2>
      <dl className="facts">
        <dt>Identity</dt>
        <dd data-testid="provider-id" data-peer={boot.identity?.peerId} title={boot.identity?.peerId}>
          {boot.identity
            ? `${shortId(boot.identity.peerId)}${boot.identityCreated && !registered ? ' (new key)' : ''}`
            : '…'}
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

/** "(new key)" is news only until the key first registers with the server. */
function useRegistered(node: ProviderNode | undefined): boolean {
  const [registered, setRegistered] = useState(false);
  useEffect(() => {
    if (!node) return;
    const check = () => node.view.get().peerId !== undefined && setRegistered(true);
    check();
    return node.view.subscribe(check);
  }, [node]);
  return registered;
}

/** What this tab does for a training-together job: its shard, the rounds it trained, its last loss. */
function TogetherActivityPanel({ activity }: { activity: ProviderRuntime['together'] }) {
  const a = useObservable(activity);
  if (!a) return null;
  return (
    <div
      className="panel"
      data-testid="together-activity"
      data-round={a.round}
      data-rounds-trained={a.roundsTrained}
      data-relayed-in={a.relayedIn}
      data-forwarded={a.forwarded}
      data-joined-by={a.joinedBy}
    >
      <h2>Training together</h2>
      <p>
        Shard {a.shard + 1} of {a.shards} for job <code>{a.jobId}</code>: {a.roundsTrained} rounds trained,{' '}
        {a.active ? 'holding' : 'ending on'} the version of round {a.round}
        {a.lastLoss !== null ? `; last round's loss ${a.lastLoss.toFixed(3)}` : ''}
        {a.tokensPerS ? ` at ${Math.round(a.tokensPerS).toLocaleString()} tokens/s` : ''}.
      </p>
      <RelayLine relayedIn={a.relayedIn} forwarded={a.forwarded} />
      <p className="hint">Joined with the version {a.joinedVia}.</p>
      <p className="muted">{a.status}</p>
    </div>
  );
}

/** How many new versions this tab took from other volunteers and passed on to them. */
function RelayLine({ relayedIn, forwarded }: { relayedIn: number; forwarded: number }) {
  if (relayedIn + forwarded === 0) return null;
  return (
    <p className="hint">
      New versions: {relayedIn} received from other volunteers, {forwarded} forwarded to them (so the requester uploads
      each version once).
    </p>
  );
}

/** What this tab does for an RL job: the policy version it holds and the rollouts it has sent. */
function RlActivityPanel({ activity }: { activity: ProviderRuntime['rl'] }) {
  const a = useObservable(activity);
  if (!a) return null;
  return (
    <div
      className="panel"
      data-testid="rl-activity"
      data-version={a.version}
      data-rollouts={a.rollouts}
      data-relayed-in={a.relayedIn}
      data-forwarded={a.forwarded}
    >
      <h2>Reinforcement learning (GRAIL)</h2>
      <p>
        {a.active ? 'Rolling out' : 'Rolled out'} policy v{a.version} on {a.backend} for job <code>{a.jobId}</code>:{' '}
        {a.rollouts} completions in {a.rounds} rounds
        {a.lastSeconds ? `, the last in ${a.lastSeconds.toFixed(1)} s` : ''}.
      </p>
      <RelayLine relayedIn={a.relayedIn} forwarded={a.forwarded} />
      <p className="muted">{a.status}</p>
    </div>
  );
}

function Contribution({ node, runtime }: { node: ProviderNode; runtime: ProviderRuntime }) {
  const view = useObservable(node.view);
  const [names, setNames] = useState<DisplayNameController>();
  useEffect(() => void runtime.displayName.then(setNames), [runtime]);
  return (
    <ContributionPanel
      names={names}
      view={view}
      contribution={runtime.contribution}
      peerId={view.peerId}
      onExport={() => exportReceipts(node)}
    />
  );
}

function NodeStatus({ node, limits }: { node: ProviderNode; limits: WorkLimitsStore }) {
  const view = useObservable(node.view);
  const userPaused = useObservable(limits.limits).paused;
  const tone = view.connection === 'open' ? 'ok' : view.connection === 'closed' ? 'bad' : 'warn';
  const current = view.sessions.find((s) => s.state !== 'closed');
  return (
    <div className="panel">
      <div className="panel-head">
        <h2>Status</h2>
        <Badge tone={tone}>
          <span data-testid="connection">{view.connection}</span>
        </Badge>
        {view.paused ? (
          <Badge tone="warn">
            <span data-testid="paused-reason">paused{view.pauseReason ? `: ${view.pauseReason}` : ''}</span>
          </Badge>
        ) : null}
        <button type="button" data-testid="pause" onClick={() => void limits.update({ paused: !userPaused })}>
          {userPaused ? 'Resume' : 'Pause'}
        </button>
      </div>
      <div className="stats">
        <Stat
          label="current job"
          value={
            current
              ? `${current.jobId} (${view.paused && current.state === 'working' ? 'paused' : current.state})`
              : view.paused
                ? 'paused'
                : 'waiting for work'
          }
          testId="current-job"
        />
        <Stat label="units done" value={view.unitsDone} testId="units-done" />
        <Stat label="backend now" value={view.backend} testId="backend-now" />
        <Stat label="rows / s" value={formatRate(view.rowsPerSecond)} />
        <Stat label="units failed" value={view.unitsFailed} />
        <Stat
          label="credits earned"
          value={view.credits ? `${formatFlops(view.credits.flops)} · ${view.credits.receipts} receipts` : '—'}
          testId="credits"
        />
      </div>
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
