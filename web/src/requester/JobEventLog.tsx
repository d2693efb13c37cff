/** A job's newest events, and the whole log as a .jsonl download. */
import { useState } from 'react';
import { shortId } from '../app/widgets';
import { saveBlob } from '../app/save-file';
import type { JobSummary, Templar } from './templar';

export function JobEventLog({ job, templar }: { job: JobSummary; templar: Templar }) {
  const { spec, view } = job;
  const [error, setError] = useState<string>();

  async function exportLog() {
    setError(undefined);
    try {
      const text = await templar.exportEvents(spec.id);
      saveBlob(new Blob([text], { type: 'application/x-ndjson' }), `${spec.id}-events.jsonl`);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }

  return (
    <details className="event-log" data-testid="event-log">
      <summary>Event log ({view.events.length ? `newest ${view.events.length}` : 'empty'})</summary>
      <ol className="log" data-testid="event-log-list">
        {[...view.events].reverse().map((e, i) => (
          <li key={`${e.at}-${i}`} data-kind={e.kind}>
            <time dateTime={new Date(e.at).toISOString()}>{new Date(e.at).toLocaleTimeString()}</time> {e.kind}
            {e.peerId ? ` · ${shortId(e.peerId)}` : ''}
            {e.unitId !== undefined ? ` · unit ${e.unitId}` : ''} · {e.text}
          </li>
        ))}
      </ol>
      <button type="button" onClick={() => void exportLog()} data-testid="export-events">
        Export log (.jsonl)
      </button>
      {error ? (
        <div className="error" role="alert">
          {error}
        </div>
      ) : null}
    </details>
  );
}
