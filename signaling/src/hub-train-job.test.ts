import { afterEach, describe, expect, it } from 'vitest';
import { caps } from './testing/fixtures';
import { createHarness, type Harness } from './testing/hub-harness';

let h: Harness;
afterEach(() => h?.stop());

describe('train jobs (issue 18)', () => {
  it('MATCH-TRAIN1: a job of kind train is accepted and paired with one provider like any job', async () => {
    h = createHarness();
    const provider = await h.join('provider');
    provider.socket.deliver({ type: 'announce', capabilities: caps({ backend: 'wasm' }), slots: 1 });
    const requester = await h.join('requester');
    requester.socket.deliver({
      type: 'job-open',
      jobId: 'train-remote01',
      needs: { kind: 'train', maxProviders: 1, units: 30, modelBytes: 0, backends: ['wasm'] },
    });
    const matched = await requester.socket.take('matched');
    expect(matched).toMatchObject({ jobId: 'train-remote01', role: 'provider' });
    expect(await provider.socket.take('matched')).toMatchObject({ jobId: 'train-remote01', role: 'requester' });
    expect(requester.socket.all('error')).toEqual([]);
  });

  it('MATCH-TRAIN2: an unknown job kind is still refused', async () => {
    h = createHarness();
    const requester = await h.join('requester');
    requester.socket.deliver({
      type: 'job-open',
      jobId: 'train-remote02',
      needs: { kind: 'mining', maxProviders: 1, units: 1, modelBytes: 0 },
    } as never);
    expect((await requester.socket.take('error')).code).toBe('invalid');
  });
});
