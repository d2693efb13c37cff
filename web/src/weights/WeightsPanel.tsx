/**
 * The React layer of weight distribution (the cores are WeightsPublisher and
 * WeightsCache). WeightsPanel goes on a running job's card in the dashboard;
 * WeightsHeld is one line on the provider page.
 */
import { useEffect, useState, useSyncExternalStore } from 'react';
import type { Observable } from '../core/emitter';
import { shortId } from '../app/widgets';
import type { WeightsCache } from './cache';
import type { WeightsPublisher } from './publisher';

/** Like app/hooks' useObservable, with the server snapshot too, so the panel also renders to a string (its test). */
function useView<T>(observable: Observable<T>): T {
  const get = () => observable.get();
  return useSyncExternalStore((listener) => observable.subscribe(listener), get, get);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

/** Versions published and what each of this job's providers holds; a button publishes the next demo version. */
export function WeightsPanel({
  publisher,
  jobId,
  publishDemo,
}: {
  publisher: WeightsPublisher;
  jobId: string;
  publishDemo?: () => Promise<unknown>;
}) {
  const view = useView(publisher.view);
  const [busy, setBusy] = useState(false);
  const models = view.models.map((m) => ({ ...m, providers: m.providers.filter((p) => p.jobId === jobId) }));
  return (
    <section className="weights" data-testid="weights-panel">
      <h4>Weights</h4>
      {models.length === 0 && <p className="muted">No weights published yet.</p>}
      {models.map((m) => (
        <div key={m.modelId} data-testid="weights-model" data-model-id={m.modelId}>
          <p>
            <strong>{m.modelId}</strong> v{m.version} <code title={m.hash}>{m.hash.slice(0, 12)}</code>
          </p>
          <table className="weights-versions">
            <thead>
              <tr>
                <th>version</th>
                <th>published</th>
                <th>uploaded</th>
                <th>forwarded by providers</th>
              </tr>
            </thead>
            <tbody>
              {m.versions.slice(-5).map((v) => (
                <tr key={v.version} data-testid="weights-version">
                  <td>v{v.version}</td>
                  <td>{formatBytes(v.entryBytes)}</td>
                  <td data-testid="weights-sent">{formatBytes(v.bytesSent)}</td>
                  <td>{formatBytes(v.relayedBytes)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <ul className="weights-providers">
            {m.providers.map((p) => (
              <li key={p.peerId} data-testid="weights-provider" data-state={p.state}>
                {shortId(p.peerId)}: {p.state}
                {p.via ? ` (via ${shortId(p.via)})` : ''} · {formatBytes(p.bytesSent)} sent
                {p.error ? ` · ${p.error}` : ''}
              </li>
            ))}
          </ul>
        </div>
      ))}
      {publishDemo && (
        <button
          type="button"
          disabled={busy}
          data-testid="weights-publish-demo"
          onClick={() => {
            setBusy(true);
            void publishDemo().finally(() => setBusy(false));
          }}
        >
          Publish demo version
        </button>
      )}
    </section>
  );
}

/** "Weights held: demo v1 (1a2b3c…), forwarded 1.2 MiB" on the provider page. */
export function WeightsHeld({ cache }: { cache: WeightsCache }) {
  const view = useView(cache.view);
  const held = view.models.map((m) => `${m.modelId} v${m.version} (${m.hash.slice(0, 8)}…)`).join(', ') || 'none';
  return (
    <p className="weights-held" data-testid="weights-held">
      Weights held: {held} · received {formatBytes(view.bytesReceived)} · forwarded {formatBytes(view.bytesForwarded)}
      {view.lastError && <span className="muted"> · last problem: {view.lastError}</span>}
    </p>
  );
}

/** WeightsHeld once the provider runtime's cache exists (`startProvider().weights` is a promise). */
export function WeightsHeldFrom({ cache }: { cache: Promise<WeightsCache> }) {
  const [ready, setReady] = useState<WeightsCache | null>(null);
  useEffect(() => {
    let live = true;
    void cache.then((c) => live && setReady(c));
    return () => {
      live = false;
    };
  }, [cache]);
  return ready ? <WeightsHeld cache={ready} /> : null;
}
