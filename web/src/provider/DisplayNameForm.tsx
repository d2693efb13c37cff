/** The optional leaderboard name: a thin form over DisplayNameController. */
import { useState } from 'react';
import { useObservable } from '../app/hooks';
import { DISPLAY_NAME_MAX_CHARS } from '@shared/protocol';
import type { DisplayNameController } from './display-name';

export function DisplayNameForm({ names }: { names: DisplayNameController }) {
  const view = useObservable(names.view);
  const [text, setText] = useState(view.chosen ?? '');
  const shown =
    view.shown === undefined
      ? view.chosen
        ? 'sent; waiting for the server'
        : 'your key prefix (no name set)'
      : (view.shown ?? 'your key prefix (no name set)');
  return (
    <form
      className="display-name stacked-form"
      data-testid="display-name-form"
      onSubmit={(event) => {
        event.preventDefault();
        void names.set(text);
      }}
    >
      <label htmlFor="display-name">Name on the leaderboard (optional)</label>
      <input
        id="display-name"
        data-testid="display-name-input"
        value={text}
        maxLength={4 * DISPLAY_NAME_MAX_CHARS}
        placeholder="leave blank to show your key prefix"
        aria-invalid={view.error ? true : undefined}
        aria-describedby="display-name-help"
        onChange={(event) => setText(event.target.value)}
      />
      <button type="submit" data-testid="display-name-save">
        Save name
      </button>
      {view.error ? (
        <p className="error" role="alert" data-testid="display-name-error">
          {view.error}
        </p>
      ) : null}
      <p id="display-name-help" className="muted">
        Signed with this browser&rsquo;s key. 1–{DISPLAY_NAME_MAX_CHARS} characters of one script, no invisible
        characters. Shown now: <span data-testid="display-name-shown">{shown}</span>
      </p>
    </form>
  );
}
