/**
 * The requester's ReputationBook in IndexedDB, so exclusions and clean
 * histories survive a reload (SPEC TRUST-P3). The stored snapshot is validated
 * by `ReputationBook.fromJSON`; anything it refuses means a fresh book (every
 * key back in probation, so verified more, never less) and a warning, never a crash.
 */
import { ReputationBook } from '@shared/trust';
import type { KeyValueStore } from './kv';

export const REPUTATION_KEY = 'trust:reputation';

export class ReputationStore {
  /** Saves in flight and whether another is owed: writes are coalesced, never interleaved. */
  private saving: Promise<void> | undefined;
  private dirty = false;

  constructor(
    private readonly store: KeyValueStore,
    private readonly warn: (message: string, error?: unknown) => void = (message, error) =>
      console.warn(message, error),
  ) {}

  async load(now?: () => number): Promise<ReputationBook> {
    let stored: unknown;
    try {
      stored = await this.store.get(REPUTATION_KEY);
    } catch (error) {
      this.warn('reputation store unreadable; starting a fresh book', error);
      return new ReputationBook(now);
    }
    if (stored === undefined) return new ReputationBook(now);
    try {
      return ReputationBook.fromJSON(stored, now);
    } catch (error) {
      this.warn('stored reputation is invalid; starting a fresh book (every provider is in probation again)', error);
      return new ReputationBook(now);
    }
  }

  /** Writes the book's current state; calls while a write is under way fold into one more write. */
  save(book: ReputationBook): Promise<void> {
    if (this.saving) {
      this.dirty = true;
      return this.saving;
    }
    this.saving = (async () => {
      do {
        this.dirty = false;
        try {
          await this.store.set(REPUTATION_KEY, book.toJSON());
        } catch (error) {
          this.warn('could not store the reputation book', error);
        }
      } while (this.dirty);
      this.saving = undefined;
    })();
    return this.saving;
  }
}
