/**
 * Templar's side of issue 21: a job too large for the storage left is refused
 * before anything is stored; a finished job reads the same after a reload;
 * its event log exports; a job can be re-run, cancelled for good, and tell the
 * requester it ended when asked to.
 */
import { describe, expect, it, vi } from 'vitest';
import { getBuiltinModel } from '@shared/models';
import { rawFromTensor, tensorFromRaw, type RawTensor } from '@shared/protocol';
import type { ComputeEngine } from '../core/ports';
import { ProviderNode } from '../provider/provider-node';
import { memoryStore } from '../storage/kv';
import { ModelStore } from '../storage/model-store';
import { FakeHub, memoryPeerFactory, TEST_CAPABILITIES } from '../testing/doubles';
import { until } from '../testing/wait';
import type { JobDraft } from './plan';
import { Templar, type TemplarDeps } from './templar';

const MODEL = 'mlp-classifier';
const peers = memoryPeerFactory();

/** Runs the built-in model's TypeScript reference: right answers without onnxruntime. */
function referenceEngine(): ComputeEngine {
  const model = getBuiltinModel(MODEL)!;
  return {
    backend: 'wasm',
    async load() {},
    async run(_hash: string, inputs: RawTensor[]): Promise<RawTensor[]> {
      const map = Object.fromEntries(inputs.map((t) => [t.name, tensorFromRaw(t)]));
      const out = model.reference(map);
      return model.outputs.map((o) => rawFromTensor(o.name, out[o.name]!));
    },
  };
}

function startProvider(hub: FakeHub, id: string) {
  new ProviderNode({
    signaling: hub.connect(id),
    createPeer: peers,
    compute: referenceEngine(),
    models: new ModelStore(memoryStore()),
    capabilities: TEST_CAPABILITIES,
  }).start();
}

const draft = (rows: number): JobDraft => ({
  name: 'history',
  model: { kind: 'builtin', id: MODEL },
  inputs: { kind: 'generated', rows, seed: 4 },
  unitRows: 8,
  redundancy: 1,
  spotCheckRate: 0.5,
  maxProviders: 4,
});

function templarOn(hub: FakeHub, store: ReturnType<typeof memoryStore>, extra: Partial<TemplarDeps> = {}) {
  return new Templar({
    signaling: hub.connect(`requester-${Math.random()}`),
    createPeer: peers,
    store,
    local: async () => referenceEngine(),
    ...extra,
  });
}

const viewOf = (templar: Templar, id: string) => templar.jobs.get().find((j) => j.spec.id === id)!.view;

describe('Templar: history, limits and job actions (issue 21)', () => {
  it('TEMPLAR-H1: a job larger than the storage left is refused with both figures, and nothing is stored', async () => {
    const store = memoryStore();
    const templar = templarOn(new FakeHub(), store, { storageLeft: async () => 64 * 1024 });
    await templar.init();
    const before = [...store.map.keys()];
    await expect(templar.submit(draft(100_000))).rejects.toThrow(/needs about .* lets the page store 64\.0 KiB more/);
    expect([...store.map.keys()]).toEqual(before);
    expect(templar.jobs.get()).toEqual([]);
  });

  it('TEMPLAR-H2: a finished job shows the same figures after a reload, notifies once, and exports its log', async () => {
    const hub = new FakeHub();
    startProvider(hub, 'provider-a');
    startProvider(hub, 'provider-b');
    const store = memoryStore();
    const notify = vi.fn();
    const templar = templarOn(hub, store, { notify });
    await templar.init();
    const stages: string[] = [];
    const spec = await templar.submit(draft(64), (p) => stages.push(p.stage));
    expect(stages).toEqual(expect.arrayContaining(['generating inputs', 'storing the model', 'storing inputs']));
    await templar.setNotify(spec.id, true);
    await until(() => viewOf(templar, spec.id).status === 'done', 20_000);
    await until(() => notify.mock.calls.length > 0);
    expect(notify).toHaveBeenCalledTimes(1);
    expect(notify.mock.calls[0]![0]).toBe('Job done: history');
    const shown = viewOf(templar, spec.id);
    expect(shown.record.rowsDone).toBe(64);

    const reloaded = templarOn(hub, store);
    await reloaded.init();
    const again = viewOf(reloaded, spec.id);
    expect(again.record).toEqual(shown.record);
    for (const key of ['done', 'total', 'verification', 'spotChecks', 'receipts', 'duplicatesDiscarded'] as const)
      expect(key === 'verification' ? { ...again[key], reasons: [] } : again[key]).toEqual(
        key === 'verification' ? { ...shown[key], reasons: [] } : shown[key],
      );

    const lines = (await reloaded.exportEvents(spec.id)).trimEnd().split('\n');
    const kinds = lines.map((l) => (JSON.parse(l) as { kind: string }).kind);
    expect(kinds[0]).toBe('created');
    expect(kinds).toContain('join');
    expect(kinds.at(-1)).toBe('done');
  });

  it('TEMPLAR-H3: cancel stops a job for good (a reload does not resume it); re-run makes a new job from the same inputs', async () => {
    const hub = new FakeHub();
    const store = memoryStore();
    const templar = templarOn(hub, store);
    await templar.init();
    const spec = await templar.submit(draft(32));
    expect(viewOf(templar, spec.id).status).toBe('running');
    await templar.cancel(spec.id);
    expect(viewOf(templar, spec.id).status).toBe('cancelled');
    await templar.resume(spec.id);
    expect(viewOf(templar, spec.id).status).toBe('cancelled');

    const reloaded = templarOn(hub, store);
    await reloaded.init();
    const view = viewOf(reloaded, spec.id);
    expect(view.status).toBe('cancelled');
    expect(view.record.finishedAt).toBeGreaterThan(0);
    expect(view.events.at(-1)?.kind).toBe('cancelled');

    startProvider(hub, 'provider-c');
    const copy = await reloaded.clone(spec.id);
    expect(copy.id).not.toBe(spec.id);
    expect(copy.name).toBe('history (re-run 1)');
    await until(() => viewOf(reloaded, copy.id).status === 'done', 20_000);
    expect(await reloaded.results(copy.id)).toHaveLength(1);
    expect(viewOf(reloaded, spec.id).status).toBe('cancelled');
  });
});
