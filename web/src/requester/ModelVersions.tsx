/**
 * A job's model versions on its card: what each cost to send and how many
 * providers run it, and, while the job runs, publishing a new version (a
 * fine-tuned .onnx of the same graph). A refused file says what differs; the
 * job runs on with the version it had.
 */
import { useState } from 'react';
import { messageOf } from '@shared/errors';
import { formatBytes } from '@shared/tensor';
import type { JobView } from './job-view';
import type { Templar } from './templar';

export function ModelVersions({ jobId, view, templar }: { jobId: string; view: JobView; templar: Templar }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [published, setPublished] = useState<number>();

  async function publish(file: File) {
    setBusy(true);
    setError(undefined);
    try {
      setPublished(await templar.publishVersion(jobId, new Uint8Array(await file.arrayBuffer())));
    } catch (e) {
      setError(`${file.name} was not published: ${messageOf(e)}`);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="versions" data-testid="model-versions">
      <h4>Model versions</h4>
      {view.versions.length > 0 ? (
        <table>
          <thead>
            <tr>
              <th>version</th>
              <th>hash</th>
              <th>sent to providers</th>
              <th>providers on it</th>
            </tr>
          </thead>
          <tbody>
            {view.versions.map((v) => (
              <tr
                key={v.hash}
                data-testid="model-version"
                data-version={v.number}
                data-hash={v.hash}
                data-bytes-sent={v.bytesSent}
                data-reached={v.reached}
                data-units={v.units}
              >
                <td>v{v.number}</td>
                <td>
                  <code title={v.hash}>{v.hash.slice(0, 12)}</code>
                </td>
                <td>{formatBytes(v.bytesSent)}</td>
                <td>
                  {v.providers} now, {v.reached} in all
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {view.status === 'running' ? (
        <label className="publish">
          Publish a new version (.onnx of the same graph; only weight values may change; providers get a PULSE patch)
          <input
            type="file"
            accept=".onnx"
            disabled={busy}
            data-testid="publish-version"
            onChange={(e) => {
              const file = e.currentTarget.files?.[0];
              e.currentTarget.value = '';
              if (file) void publish(file);
            }}
          />
        </label>
      ) : null}
      {busy ? <p className="muted">Diffing and publishing…</p> : null}
      {published && !busy && !error ? (
        <p className="muted" data-testid="publish-result">
          v{published} is the job's model for every unit sent from now on.
        </p>
      ) : null}
      {error ? (
        <p className="error" role="alert" data-testid="publish-error">
          {error}
        </p>
      ) : null}
    </section>
  );
}
