import { defaultTrainSpec, type TrainSpec } from '@shared/jobs';
import { deserializeState, serializeState } from '@shared/train';
import type { ClientMessage } from '@shared/protocol';
import { describe, expect, it } from 'vitest';
import { ProviderNode } from '../provider/provider-node';
import { ProviderTraining } from '../provider/provider-training';
import { memoryStore } from '../storage/kv';
import { ModelStore } from '../storage/model-store';
import { affineEngine, FakeHub, memoryPeerFactory, TEST_CAPABILITIES } from '../testing/doubles';
import { InProcessTrainWorker } from '../testing/train-worker';
import { until } from '../testing/wait';
import { decodeTrainFromProvider, encodeTrainMessage, TRAIN_WIRE_VERSION } from '@shared/protocol';
import type { FromTrainWorker } from './messages';
import { RemoteTrainRun } from './remote-run';
import { EngineVerifier } from './verifier';

const WORDS = 'the a cat dog sat ran on under mat tree and then quickly slowly big small red blue house'.split(' ');
/** A seeded text of a few thousand words: enough tokens for a train and a validation split at context 64. */
function corpus(words = 4000): string {
  let x = 7;
  const out: string[] = [];
  for (let i = 0; i < words; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    out.push(WORDS[x % WORDS.length]!);
    if (i % 9 === 8) out.push('.\n');
  }
  return out.join(' ');
}
const TEXT = corpus();

function spec(id: string): TrainSpec {
  return {
    ...defaultTrainSpec(id, 0),
    corpus: { kind: 'upload', name: 'words.txt', format: 'txt' },
    steps: 30,
    batch: 2,
    lr: { peak: 3e-3, warmup: 3, minRatio: 0.1 },
    evalEvery: 10,
    evalBatches: 2,
    sampleEvery: 30,
    sampleTokens: 4,
    checkpointEvery: 10,
    backend: 'wasm',
  };
}

type WorkerOptions = ConstructorParameters<typeof InProcessTrainWorker>[0];

function startProvider(hub: FakeHub, peers: ReturnType<typeof memoryPeerFactory>, id: string, options?: WorkerOptions) {
  const node = new ProviderNode({
    signaling: hub.connect(id),
    createPeer: peers,
    compute: affineEngine(),
    models: new ModelStore(memoryStore()),
    capabilities: TEST_CAPABILITIES,
    training: new ProviderTraining({ makeWorker: () => new InProcessTrainWorker(options), log: () => {} }),
  });
  node.start();
  return node;
}

/** The requester's run, with every message it gives the Trainer and every message it sends the server. */
function startRun(hub: FakeHub, peers: ReturnType<typeof memoryPeerFactory>, s: TrainSpec) {
  const signaling = hub.connect('requester');
  const sent: ClientMessage[] = [];
  const send = signaling.send.bind(signaling);
  signaling.send = (m) => {
    sent.push(m);
    send(m);
  };
  const run = new RemoteTrainRun({ signaling, createPeer: peers, verifier: new EngineVerifier() });
  const got: FromTrainWorker[] = [];
  run.onmessage = (e) => got.push(e.data);
  run.postMessage({ type: 'start', spec: s, text: TEXT, checkpoint: null });
  return { run, got, sent };
}

const events = (got: FromTrainWorker[]) => got.flatMap((m) => (m.type === 'event' ? [m.event] : []));
const accepted = (got: FromTrainWorker[]) =>
  events(got).flatMap((e) => (e.type === 'checkpoint' || e.type === 'done' ? [e.step] : []));
const finished = (got: FromTrainWorker[]) => events(got).some((e) => e.type === 'done');
const finalWeights = (got: FromTrainWorker[]) => {
  const done = events(got).find((e) => e.type === 'done');
  if (done?.type !== 'done') throw new Error('no done event');
  return deserializeState(done.record.state).params;
};

/** The same job on this device (the in-process worker), for the bit-for-bit comparison. */
async function localRun(s: TrainSpec): Promise<{ losses: number[]; params: Float32Array }> {
  const w = new InProcessTrainWorker();
  const got: FromTrainWorker[] = [];
  w.onmessage = (e) => got.push(e.data);
  w.postMessage({ type: 'start', spec: s, text: TEXT, checkpoint: null });
  await until(() => finished(got), 60_000, 'the local run to finish');
  return { losses: losses(got), params: finalWeights(got) };
}

/** Step losses by step, the last report of each step winning (a resumed run redoes steps). */
function losses(got: FromTrainWorker[]): number[] {
  const byStep: number[] = [];
  for (const e of events(got)) if (e.type === 'step') byStep[e.step - 1] = e.loss;
  return byStep;
}

describe('Train on one provider (issue 18)', () => {
  it('TRAIN-R1: a provider trains the job, checkpoints arrive every N steps and are accepted, and the result equals a local run bit for bit', async () => {
    const hub = new FakeHub();
    const peers = memoryPeerFactory();
    startProvider(hub, peers, 'provider-a');
    const s = spec('train-remote01');
    const { got, sent } = startRun(hub, peers, s);
    await until(() => finished(got), 60_000, 'the remote run to finish');
    expect(sent.find((m) => m.type === 'job-open')).toMatchObject({ needs: { kind: 'train', maxProviders: 1 } });
    expect(accepted(got)).toEqual([10, 20, 30]);
    expect(got.some((m) => m.type === 'started' && m.backend.includes('provider'))).toBe(true);
    const local = await localRun(s);
    const remote = losses(got);
    expect(remote).toHaveLength(30);
    expect(remote).toEqual(local.losses);
    expect(remote[29]!).toBeLessThan(remote[0]!);
    expect(finalWeights(got)).toEqual(local.params);
    expect(sent.some((m) => m.type === 'report')).toBe(false);
  }, 120_000);

  it('TRAIN-R2: a provider that leaves mid-run costs only the steps since the last checkpoint; another resumes from it', async () => {
    const hub = new FakeHub();
    const peers = memoryPeerFactory();
    startProvider(hub, peers, 'provider-a', { stallAfter: 15 });
    const s = spec('train-remote02');
    const { got } = startRun(hub, peers, s);
    await until(() => accepted(got).includes(10), 60_000, 'the first checkpoint');
    await until(() => events(got).some((e) => e.type === 'step' && e.step === 15), 60_000, 'steps after it');
    startProvider(hub, peers, 'provider-b');
    hub.disconnect('provider-a');
    await until(() => finished(got), 60_000, 'the run to finish on the second provider');
    const resumed = got.filter((m) => m.type === 'started');
    expect(resumed.map((m) => m.type === 'started' && m.step)).toContain(10);
    expect(got.some((m) => m.type === 'preparing' && /left .*from the checkpoint at step 10/.test(m.message))).toBe(
      true,
    );
    const local = await localRun(s);
    expect(losses(got)).toEqual(local.losses);
    expect(finalWeights(got)).toEqual(local.params);
  }, 120_000);

  it('TRAIN-R3: a bogus checkpoint is rejected, the provider reported, and training resumes elsewhere from the last accepted one', async () => {
    const hub = new FakeHub();
    const peers = memoryPeerFactory();
    // Honest until step 10, then it sends the step-10 weights scaled (as if it skipped work) under its real loss.
    startProvider(hub, peers, 'provider-cheat', {
      tamper: (r) => {
        if (r.step < 20) return r;
        const st = deserializeState(r.state);
        for (let i = 0; i < st.params.length; i++) st.params[i] = st.params[i]! * 0.5;
        return { ...r, state: serializeState(st) as Uint8Array<ArrayBuffer> };
      },
    });
    const s = spec('train-remote03');
    const { got, sent } = startRun(hub, peers, s);
    await until(() => accepted(got).includes(10), 60_000, 'the first checkpoint');
    startProvider(hub, peers, 'provider-honest');
    await until(() => finished(got), 60_000, 'the run to finish on the honest provider');
    const report = sent.find((m) => m.type === 'report');
    expect(report).toMatchObject({ peerId: 'provider-cheat', verdict: 'rejected' });
    expect(report?.type === 'report' && report.reason).toMatch(/validation loss/);
    expect(accepted(got)).toEqual([10, 20, 30]);
    const local = await localRun(s);
    expect(finalWeights(got)).toEqual(local.params);
  }, 120_000);

  it('TRAIN-R6: pause, resume and cancel reach the provider; a pause sends a checkpoint that is verified like any other', async () => {
    const hub = new FakeHub();
    const peers = memoryPeerFactory();
    const workers: InProcessTrainWorker[] = [];
    const node = new ProviderNode({
      signaling: hub.connect('provider-a'),
      createPeer: peers,
      compute: affineEngine(),
      models: new ModelStore(memoryStore()),
      capabilities: TEST_CAPABILITIES,
      training: new ProviderTraining({
        makeWorker: () => {
          const w = new InProcessTrainWorker();
          workers.push(w);
          return w;
        },
        log: () => {},
      }),
    });
    node.start();
    const s = { ...spec('train-remote06'), steps: 200 };
    const { run, got } = startRun(hub, peers, s);
    await until(() => events(got).some((e) => e.type === 'step' && e.step >= 3), 60_000, 'a few steps');
    run.postMessage({ type: 'pause' });
    await until(() => events(got).some((e) => e.type === 'paused'), 60_000, 'the pause');
    const paused = events(got).find((e) => e.type === 'paused');
    const at = paused?.step ?? -1;
    expect(at).toBeGreaterThanOrEqual(3);
    const stepsThen = events(got).filter((e) => e.type === 'step').length;
    run.postMessage({ type: 'resume' });
    await until(() => events(got).some((e) => e.type === 'resumed'), 60_000, 'the resume');
    await until(() => events(got).some((e) => e.type === 'step' && e.step > at), 60_000, 'steps after the resume');
    expect(events(got).filter((e) => e.type === 'step').length).toBeGreaterThan(stepsThen);
    run.postMessage({ type: 'cancel' });
    await until(() => events(got).some((e) => e.type === 'cancelled'), 60_000, 'the cancel');
    run.terminate();
    await until(() => workers[0]!.terminated, 10_000, 'the provider to stop its worker');
    expect(events(got).some((e) => e.type === 'done')).toBe(false);
  }, 120_000);

  it('TRAIN-R7: the provider refuses a malformed start and a second job while training one, saying why', async () => {
    const sent: Uint8Array[] = [];
    const workers: InProcessTrainWorker[] = [];
    const training = new ProviderTraining({
      makeWorker: () => {
        const w = new InProcessTrainWorker({ stallAfter: 0 });
        workers.push(w);
        return w;
      },
      log: () => {},
    });
    const reply = (b: Uint8Array) => sent.push(b);
    const last = () => decodeTrainFromProvider(sent.at(-1)!).header;
    training.receive('job/r', 'train-remote07', reply, Uint8Array.of(1, 2, 3));
    expect(last()).toMatchObject({ type: 'train-error', code: 'provider', message: /bad train message/ });
    const s = spec('train-remote07');
    const text = new TextEncoder().encode(TEXT);
    const start = (jobId: string, sp: TrainSpec) =>
      encodeTrainMessage(
        {
          type: 'train-start',
          v: TRAIN_WIRE_VERSION,
          jobId,
          spec: sp,
          fromStep: 0,
          corpusBytes: text.length,
          stateBytes: 0,
          extraBytes: 0,
        },
        text,
      );
    // A config that cannot fit WebAssembly's memory is the job's fault: the requester fails the job.
    const huge = {
      ...s,
      preset: 'custom' as const,
      model: { ...s.model, layers: 48, width: 4096, heads: 32, context: 2048 },
    };
    training.receive('job/r', 'train-remote07', reply, start('train-remote07', huge));
    expect(last()).toMatchObject({ type: 'train-error', code: 'config' });
    expect(workers).toHaveLength(0);
    training.receive('job/r', 'train-remote07', reply, start('train-remote07', s));
    expect(workers).toHaveLength(1);
    training.receive('other/r', 'train-remote08', reply, start('train-remote08', { ...s, id: 'train-remote08' }));
    expect(last()).toMatchObject({ type: 'train-error', code: 'provider', message: /already training/ });
    training.close('job/r');
    expect(workers[0]!.terminated).toBe(true);
  });
});
