/**
 * Says plainly that the key (and its credit) lives only in this browser's site
 * data, and offers the passphrase-encrypted export and import. Thin view over
 * IdentityBackup.
 */
import { useState } from 'react';
import { saveBlob } from '../app/save-file';
import { shortId } from '../app/widgets';
import { MAX_IDENTITY_FILE_BYTES, MIN_PASSPHRASE_CHARS } from '../storage/identity-file';
import type { IdentityBackup } from './boot';

type Outcome = { tone: 'ok' | 'error'; text: string } | null;

export function IdentityBackupPanel({ backup, extractable }: { backup: IdentityBackup; extractable: boolean }) {
  const [exportPass, setExportPass] = useState('');
  const [importPass, setImportPass] = useState('');
  const [file, setFile] = useState<File>();
  const [outcome, setOutcome] = useState<Outcome>(null);
  const [busy, setBusy] = useState(false);
  const run = async (work: () => Promise<string>) => {
    setBusy(true);
    try {
      setOutcome({ tone: 'ok', text: await work() });
    } catch (error) {
      setOutcome({ tone: 'error', text: error instanceof Error ? error.message : String(error) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="panel" data-testid="identity-backup">
      <h2>Your key</h2>
      <p data-testid="identity-warning">
        <strong>Your identity key lives only in this browser&rsquo;s site data.</strong> Clearing site data (or this
        site&rsquo;s cookies and storage) deletes it for good, and with it the credit it earned: new work would go to a
        new key. Export it to a file, encrypted with a passphrase, to keep it.
      </p>
      {extractable ? (
        <form
          className="stacked-form"
          onSubmit={(event) => {
            event.preventDefault();
            void run(async () => {
              saveBlob(new Blob([await backup.export(exportPass)], { type: 'application/json' }), 'basilica-key.json');
              setExportPass('');
              return 'Exported. Keep the file and the passphrase apart; either alone is useless.';
            });
          }}
        >
          <label htmlFor="export-pass">Passphrase for the export (at least {MIN_PASSPHRASE_CHARS} characters)</label>
          <input
            id="export-pass"
            type="password"
            autoComplete="new-password"
            data-testid="export-pass"
            value={exportPass}
            onChange={(event) => setExportPass(event.target.value)}
          />
          <button type="submit" disabled={busy} data-testid="export-identity">
            Export key (encrypted)
          </button>
        </form>
      ) : (
        <p className="muted" data-testid="identity-not-extractable">
          This key was made by an earlier version of the app as non-extractable: no script, this page included, can
          export it, so its credit stays tied to this browser.
        </p>
      )}
      <form
        className="stacked-form"
        onSubmit={(event) => {
          event.preventDefault();
          if (!file) return setOutcome({ tone: 'error', text: 'Choose the key file that Export saved.' });
          void run(async () => {
            if (file.size > MAX_IDENTITY_FILE_BYTES)
              throw new Error(`That file is ${file.size} bytes: not a key file (they are under 2 KiB).`);
            const { peerId, displayName } = await backup.import(await file.text(), importPass);
            setImportPass('');
            const name = displayName ? ` with the display name “${displayName}”` : '';
            return `Imported key ${shortId(peerId)}${name}. Reload the page to provide with it.`;
          });
        }}
      >
        <label htmlFor="import-file">Import a key file (replaces this browser&rsquo;s key only if it opens)</label>
        <input
          id="import-file"
          type="file"
          accept="application/json,.json"
          data-testid="import-file"
          onChange={(event) => setFile(event.target.files?.[0])}
        />
        <label htmlFor="import-pass">Its passphrase</label>
        <input
          id="import-pass"
          type="password"
          autoComplete="current-password"
          data-testid="import-pass"
          value={importPass}
          onChange={(event) => setImportPass(event.target.value)}
        />
        <button type="submit" disabled={busy} data-testid="import-identity">
          Import key
        </button>
      </form>
      {outcome ? (
        <p
          className={outcome.tone === 'error' ? 'error' : 'muted'}
          role={outcome.tone === 'error' ? 'alert' : 'status'}
          data-testid="identity-backup-outcome"
        >
          {outcome.text}
          {outcome.tone === 'ok' && outcome.text.startsWith('Imported') ? (
            <>
              {' '}
              <button type="button" onClick={() => location.reload()} data-testid="reload-after-import">
                Reload now
              </button>
            </>
          ) : null}
        </p>
      ) : null}
    </div>
  );
}
