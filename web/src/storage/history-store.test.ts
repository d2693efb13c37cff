import { describe, expect, it } from 'vitest';
import { EVENTS_PER_CHUNK, newJobHistory, type JobEvent } from '@shared/jobs';
import { HistoryStore } from './history-store';
import { INPUT_CHUNK_BYTES, JobStore } from './job-store';
import { memoryStore } from './kv';
import { affineJob } from '../testing/affine-job';

const event = (i: number): JobEvent => ({ at: i, kind: 'join', peerId: `p${i}`, text: `event ${i}` });

describe('history store (issue 21)', () => {
  it('HIST-S1: history and chunked events read back as written; the log spans chunks in order', async () => {
    const kv = memoryStore();
    const store = new HistoryStore(kv);
    const history = { ...newJobHistory('job-abcdefgh', 5), rowsDone: 7, activeMs: 100 };
    const events = Array.from({ length: EVENTS_PER_CHUNK + 3 }, (_, i) => event(i));
    await store.save(
      history,
      new Map([
        [0, events.slice(0, EVENTS_PER_CHUNK)],
        [1, events.slice(EVENTS_PER_CHUNK)],
      ]),
    );
    expect(await store.history('job-abcdefgh')).toEqual(history);
    expect(await store.events('job-abcdefgh')).toEqual(events);
    expect(await store.lastChunk('job-abcdefgh')).toEqual({ index: 1, events: events.slice(EVENTS_PER_CHUNK) });
    expect(await store.history('job-other123')).toBeUndefined();
  });

  it('HIST-S2: a tampered history or event chunk is refused at read, naming the job', async () => {
    const kv = memoryStore();
    const store = new HistoryStore(kv);
    kv.map.set('job:job-abcdefgh:history', { ...newJobHistory('job-abcdefgh', 5), rowsDone: 'many' });
    await expect(store.history('job-abcdefgh')).rejects.toThrow(/history of job job-abcdefgh is unreadable/);
    kv.map.set('job:job-abcdefgh:events:0', [{ at: 1, kind: 'join', text: 'x', __proto__: 1 }, 'junk']);
    await expect(store.events('job-abcdefgh')).rejects.toThrow(/event log of job job-abcdefgh is unreadable/);
  });
});

describe('chunked inputs (issue 21: no stored value nears the size IndexedDB refuses)', () => {
  it('CHUNK1: inputs larger than a chunk are stored in pieces, read back whole, with progress per chunk', async () => {
    const kv = memoryStore();
    const jobs = new JobStore(kv);
    const rows = Math.ceil((INPUT_CHUNK_BYTES * 2.5) / 16); // affine job: 4 float32 columns per row
    const { spec, inputs } = await affineJob('job-chunked1', rows, { unitRows: Math.ceil(rows / 100) });
    const seen: number[] = [];
    await jobs.create(spec, inputs, (stored) => seen.push(stored));
    const chunkKeys = [...kv.map.keys()].filter((k) => k.includes(':input:'));
    expect(chunkKeys.length).toBeGreaterThanOrEqual(3);
    for (const key of chunkKeys) expect((kv.map.get(key) as Uint8Array).length).toBeLessThanOrEqual(INPUT_CHUNK_BYTES);
    expect(seen.at(-1)).toBe(inputs[0]!.bytes.length);
    const back = await jobs.inputs(spec.id);
    expect(back[0]!.dims).toEqual(inputs[0]!.dims);
    expect(Buffer.from(back[0]!.bytes).equals(Buffer.from(inputs[0]!.bytes))).toBe(true);
  });

  it('CHUNK2: a missing chunk fails the read instead of returning short inputs; old unchunked inputs still read', async () => {
    const kv = memoryStore();
    const jobs = new JobStore(kv);
    const { spec, inputs } = await affineJob('job-chunked2', 16, {});
    await jobs.create(spec, inputs);
    kv.map.set(`job:${spec.id}:inputs`, inputs);
    expect((await jobs.inputs(spec.id))[0]!.dims).toEqual(inputs[0]!.dims);
    await jobs.create(spec, inputs);
    kv.map.delete(`job:${spec.id}:input:0:0`);
    await expect(jobs.inputs(spec.id)).rejects.toThrow(/inputs of job job-chunked2/);
  });
});

describe('a refused input write leaves nothing behind', () => {
  it('CHUNK3: when the store refuses a chunk (quota), the job is not half-stored and the error says so', async () => {
    const kv = memoryStore();
    let writes = 0;
    const set = kv.set;
    kv.set = async (key, value) => {
      if (++writes === 2) throw Object.assign(new Error('quota'), { name: 'QuotaExceededError' });
      return set(key, value);
    };
    const jobs = new JobStore(kv);
    const rows = Math.ceil((INPUT_CHUNK_BYTES * 1.5) / 16);
    const { spec, inputs } = await affineJob('job-chunked3', rows, { unitRows: Math.ceil(rows / 100) });
    await expect(jobs.create(spec, inputs)).rejects.toThrow(/refused to store this job's inputs \(QuotaExceededError/);
    expect([...kv.map.keys()].filter((k) => k.startsWith(`job:${spec.id}:`))).toEqual([]);
  });
});
