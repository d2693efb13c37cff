/**
 * What a requester can do with a job: download results, pause and resume,
 * cancel (stop for good, keeping what was done), re-run it as a new job,
 * delete it, and ask to be told when it ends (the browser's permission is
 * asked only when that box is ticked).
 */
import { useState } from 'react';
import { saveBlob } from '../app/save-file';
import { outputAsNpy, outputsAsJson } from './downloads';
import type { JobSummary, Templar } from './templar';

/** Asks for the Notification permission; says in words why notifications will not show. */
async function notificationsAllowed(): Promise<string | undefined> {
  if (typeof Notification === 'undefined') return 'this browser does not offer notifications';
  const permission =
    Notification.permission === 'default' ? await Notification.requestPermission() : Notification.permission;
  return permission === 'granted' ? undefined : 'notifications are blocked for this page in the browser settings';
}

export function JobActions({ job, templar }: { job: JobSummary; templar: Templar }) {
  const { spec, view } = job;
  const [error, setError] = useState<string>();
  const attempt = (action: () => Promise<unknown>) => {
    setError(undefined);
    action().catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)));
  };

  async function download(kind: 'npy' | 'json') {
    const outputs = await templar.results(spec.id);
    if (kind === 'json') saveBlob(outputsAsJson(spec.id, outputs), `${spec.id}.json`);
    else for (const output of outputs) saveBlob(outputAsNpy(output), `${spec.id}-${output.name}.npy`);
  }

  async function notify(on: boolean) {
    const refused = on ? await notificationsAllowed() : undefined;
    if (refused) throw new Error(`Cannot notify you: ${refused}.`);
    await templar.setNotify(spec.id, on);
  }

  const live = view.status === 'running' || view.status === 'paused';
  return (
    <>
      <div className="actions">
        {view.status === 'done' ? (
          <>
            <button type="button" onClick={() => attempt(() => download('npy'))} data-testid="download-npy">
              Download .npy
            </button>
            <button type="button" onClick={() => attempt(() => download('json'))} data-testid="download-json">
              Download JSON
            </button>
          </>
        ) : null}
        {view.status === 'running' ? (
          <button type="button" onClick={() => templar.pause(spec.id)} data-testid="pause-job">
            Pause
          </button>
        ) : null}
        {view.status === 'paused' || view.status === 'failed' ? (
          <button type="button" onClick={() => attempt(() => templar.resume(spec.id))} data-testid="resume-job">
            Resume
          </button>
        ) : null}
        {live ? (
          <button
            type="button"
            onClick={() =>
              confirm(`Cancel job ${spec.name}? It stops for good; what it computed stays until you delete it.`) &&
              attempt(() => templar.cancel(spec.id))
            }
            data-testid="cancel-job"
          >
            Cancel
          </button>
        ) : null}
        <button type="button" onClick={() => attempt(() => templar.clone(spec.id))} data-testid="rerun-job">
          Re-run as a new job
        </button>
        <button
          type="button"
          className="danger"
          onClick={() => confirm(`Delete job ${spec.name} and its results?`) && void templar.remove(spec.id)}
          data-testid="delete-job"
        >
          Delete
        </button>
        {live ? (
          <label className="inline">
            <input
              type="checkbox"
              checked={view.record.notify === true}
              onChange={(e) => attempt(() => notify(e.currentTarget.checked))}
              data-testid="notify-job"
            />{' '}
            Notify me when it ends
          </label>
        ) : null}
      </div>
      {error ? (
        <div className="error" role="alert" data-testid="job-action-error">
          {error}
        </div>
      ) : null}
    </>
  );
}
