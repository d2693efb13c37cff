/**
 * The volunteer's leaderboard name (signaling SPEC NAME1–NAME3): checked here
 * with the server's own rules so a bad name is explained before anything is
 * sent, kept in IndexedDB, signed by the provider key and resent after every
 * reconnect (the server keeps names in memory only).
 */
import * as v from 'valibot';
import { sign, type Identity } from '@shared/identity';
import { checkDisplayName, displayNameMessage, DisplayNameSchema } from '@shared/protocol';
import { Observable } from '../core/emitter';
import type { SignalingPort } from '../core/ports';
import type { KeyValueStore } from '../storage/kv';

const STORE_KEY = 'display-name:provider';

/** The name chosen in this browser, if any (checked as it is read: IndexedDB is a trust boundary too). */
export async function storedDisplayName(store: KeyValueStore): Promise<string | null> {
  const stored = v.safeParse(DisplayNameSchema, await store.get(STORE_KEY));
  return stored.success ? stored.output : null;
}

/** Keeps `name` (already checked) as this browser's choice; it is sent, signed, on the next start. */
export async function saveDisplayName(store: KeyValueStore, name: string): Promise<void> {
  await store.set(STORE_KEY, name);
}

export interface DisplayNameView {
  /** The name chosen in this browser (null: none). */
  chosen: string | null;
  /** What the server last said it shows; undefined until it answered. */
  shown?: string | null;
  /** Why the last name was refused, with what to change. */
  error?: string;
}

export class DisplayNameController {
  readonly view = new Observable<DisplayNameView>({ chosen: null });

  constructor(
    private readonly deps: { store: KeyValueStore; identity: Identity; signaling: Pick<SignalingPort, 'send' | 'on'> },
  ) {
    deps.signaling.on('display-name-ack', (ack) => {
      if (ack.accepted) return this.view.set({ chosen: this.view.get().chosen, shown: ack.name });
      // Refused by the server although it passed here (an older or newer rule set): stop resending it.
      void deps.store.del(STORE_KEY);
      this.view.set({ chosen: null, shown: ack.name, error: `The server refused the name: ${ack.message}.` });
    });
  }

  /** Sends the stored name, if any; the signaling client resends it after every welcome. */
  async start(): Promise<void> {
    const stored = await storedDisplayName(this.deps.store);
    if (stored === null) return;
    this.view.set({ chosen: stored });
    await this.send(stored);
  }

  /** Sets (or with blank text clears) the name; returns the error shown, or null when it was sent. */
  async set(text: string): Promise<string | null> {
    const name = text.trim();
    if (name === '') {
      await this.deps.store.del(STORE_KEY);
      this.view.set({ chosen: null, shown: this.view.get().shown });
      await this.send('');
      return null;
    }
    const checked = checkDisplayName(name);
    if (!checked.ok) {
      const error = `Name not saved: ${checked.message}.`;
      this.view.set({ ...this.view.get(), error });
      return error;
    }
    await saveDisplayName(this.deps.store, checked.name);
    this.view.set({ chosen: checked.name, shown: this.view.get().shown });
    await this.send(checked.name);
    return null;
  }

  private async send(name: string): Promise<void> {
    const { identity, signaling } = this.deps;
    const signature = await sign(identity, displayNameMessage(identity.peerId, name));
    signaling.send({ type: 'display-name', name, signature });
  }
}
