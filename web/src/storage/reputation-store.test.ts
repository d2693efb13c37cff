/** SPEC TRUST-P3 in the requester's storage: the book survives reloads; corrupted data never crashes nor grants trust. */
import { describe, expect, it, vi } from 'vitest';
import { ReputationBook } from '@shared/trust';
import { memoryStore } from './kv';
import { REPUTATION_KEY, ReputationStore } from './reputation-store';
import { Templar } from '../requester/templar';
import { FakeHub, memoryPeerFactory } from '../testing/doubles';

const KEY_A = 'a'.repeat(43);
const KEY_B = 'b'.repeat(43);

function bookWithHistory(): ReputationBook {
  const book = new ReputationBook();
  for (let i = 0; i < 30; i++) book.recordAccepted(KEY_A, i % 2 === 0);
  book.recordPending(KEY_B);
  book.recordRejected(KEY_B, 'failed a spot check');
  return book;
}

describe('ReputationStore', () => {
  it('TRUST-P3: a saved book loads back with its clean histories and exclusions', async () => {
    const kv = memoryStore();
    const book = bookWithHistory();
    await new ReputationStore(kv).save(book);
    const loaded = await new ReputationStore(kv).load();
    expect(loaded.toJSON()).toEqual(book.toJSON());
    expect(loaded.isExcluded(KEY_B)).toBe(true);
    expect(loaded.get(KEY_A)).toMatchObject({ accepted: 30, verified: 15 });
  });

  it('TRUST-P3: corrupted or forged snapshots give a fresh book and a warning, never a crash', async () => {
    const forged = bookWithHistory().toJSON();
    // Someone edits the store to lift an exclusion: rejected without excluded is refused.
    const lifted = { ...forged, providers: forged.providers.map((p) => ({ ...p, excluded: false })) };
    for (const bad of ['garbage', 42, { v: 99, providers: [] }, { v: forged.v, providers: [{ peerId: 1 }] }, lifted]) {
      const kv = memoryStore();
      kv.map.set(REPUTATION_KEY, bad);
      const warn = vi.fn();
      const book = await new ReputationStore(kv, warn).load();
      expect(book.toJSON().providers).toEqual([]);
      expect(warn).toHaveBeenCalledOnce();
    }
    const unreadable = {
      ...memoryStore(),
      get: async () => {
        throw new Error('disk gone');
      },
    };
    const warn = vi.fn();
    expect((await new ReputationStore(unreadable, warn).load()).toJSON().providers).toEqual([]);
    expect(warn).toHaveBeenCalledOnce();
  });

  it('saves that overlap fold into one more write of the latest state', async () => {
    const kv = memoryStore();
    let writes = 0;
    const set = kv.set;
    kv.set = async (key, value) => {
      writes++;
      await set(key, value);
    };
    const store = new ReputationStore(kv);
    const book = new ReputationBook();
    const saves = [store.save(book)];
    for (let i = 0; i < 10; i++) {
      book.recordAccepted(KEY_A, false);
      saves.push(store.save(book));
    }
    await Promise.all(saves);
    expect(writes).toBe(2);
    expect((kv.map.get(REPUTATION_KEY) as { providers: { accepted: number }[] }).providers[0]!.accepted).toBe(10);
  });

  it('TRUST-P3: Templar restores the book on init (exclusions survive a reload) and starts fresh on a corrupted one', async () => {
    const hub = new FakeHub();
    const kv = memoryStore();
    await new ReputationStore(kv).save(bookWithHistory());
    const templar = new Templar({ signaling: hub.connect('req-1'), createPeer: memoryPeerFactory(), store: kv });
    await templar.init();
    expect(templar.reputation.isExcluded(KEY_B)).toBe(true);
    expect(templar.reputation.get(KEY_A)!.accepted).toBe(30);

    const corrupted = memoryStore();
    corrupted.map.set(REPUTATION_KEY, { v: 1, providers: 'nope' });
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const fresh = new Templar({ signaling: hub.connect('req-2'), createPeer: memoryPeerFactory(), store: corrupted });
    await fresh.init();
    expect(fresh.reputation.toJSON().providers).toEqual([]);
    expect(warn).toHaveBeenCalled();
    warn.mockRestore();
  });
});
