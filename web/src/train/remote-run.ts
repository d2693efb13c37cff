/**
 * A Train job run on one provider (issue 18), seen by the Trainer as just another training worker: it
 * takes the same start/pause/resume/cancel messages and answers with the same events, so checkpoints are
 * stored, curves drawn and reloads resumed exactly as for a local run.
 *
 * Inside: it opens a `train` job with the signaling server, links to the one provider the matchmaker pairs
 * (ProviderLinks), sends the spec, the corpus and the last accepted checkpoint, and relays the provider's
 * events. A checkpoint reaches the Trainer only once accepted (shared/src/jobs/train/remote.ts says what
 * that guarantees); a rejected one reports the provider and training resumes elsewhere from the last
 * accepted checkpoint. A provider that leaves costs the steps since that checkpoint, and the user is told.
 */
import { messageOf } from '@shared/errors';
import {
  type CheckpointRecord,
  checkpointBody,
  checkpointFromBody,
  judgeCheckpoint,
  readCheckpoint,
  sameWeights,
  type TrainEvent,
  type TrainSpec,
} from '@shared/jobs';
import {
  decodeTrainFromProvider,
  encodeTrainMessage,
  type JobNeeds,
  PeerStream,
  type TrainFromProvider,
  TRAIN_WIRE_VERSION,
} from '@shared/protocol';
import type { PeerFactory, SignalingPort } from '../core/ports';
import { type ProviderLink, ProviderLinks } from '../requester/provider-links';
import type { FromTrainWorker, ToTrainWorker } from './messages';
import type { WorkerLike } from './train-worker-factory';

/** Recomputes a checkpoint's validation loss on the requester (a worker in the browser, the engine in tests). */
export interface CheckpointVerifier {
  valLoss(spec: TrainSpec, text: string, record: CheckpointRecord): Promise<number>;
  dispose?(): void;
}

export interface RemoteRunDeps {
  signaling: SignalingPort;
  createPeer: PeerFactory;
  verifier: CheckpointVerifier;
}

/** Errors a provider reports that are the job's own (its config or corpus): another provider would fail too. */
const JOB_FAULTS = new Set(['config', 'data', 'tokenizer', 'state']);

const short = (peerId: string) => `${peerId.slice(0, 8)}…`;

export class RemoteTrainRun implements WorkerLike {
  onmessage: ((e: MessageEvent<FromTrainWorker>) => void) | null = null;
  onerror: ((e: ErrorEvent) => void) | null = null;
  private spec!: TrainSpec;
  private text = '';
  /** The last accepted checkpoint: where any provider starts or resumes. */
  private base: CheckpointRecord | null = null;
  private baseStep = 0;
  /** The provider now training, once its link is open and the start sent. */
  private current: ProviderLink | null = null;
  /** The last step a provider reported, to say how many steps a departure costs. */
  private reached = 0;
  private paused = false;
  private ended = false;
  /** Why the job moved to the provider it is on now; stays in the job's backend line. */
  private moved = '';
  private links!: ProviderLinks;
  private readonly unsubscribe: (() => void)[] = [];
  /** Provider messages are handled one at a time, in order, though verifying a checkpoint awaits. */
  private queue: Promise<void> = Promise.resolve();

  private deps: RemoteRunDeps | null = null;

  /** `deps` may still be on its way (the requester's signaling starts with the first remote job). */
  constructor(private readonly pending: RemoteRunDeps | Promise<RemoteRunDeps>) {}

  postMessage(m: ToTrainWorker): void {
    if (this.ended) return;
    if (m.type === 'start') {
      void Promise.resolve(this.pending).then((deps) => {
        this.deps = deps;
        if (!this.ended) this.begin(m.spec, m.text, m.checkpoint);
      });
      return;
    }
    if (m.type === 'pause') this.paused = true;
    if (m.type === 'resume') {
      this.paused = false;
      // With no provider, there is no loop to resume: say so, it goes on when one is paired.
      if (this.current === null) this.emit({ type: 'event', event: { type: 'resumed', step: this.baseStep } });
    }
    if (this.current !== null) this.control(this.current, m.type);
  }

  terminate(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.current !== null) this.control(this.current, 'cancel');
    for (const off of this.unsubscribe.splice(0)) off();
    this.links?.closeAll('job stopped');
    if (this.spec) this.deps?.signaling.send({ type: 'job-close', jobId: this.spec.id });
    this.deps?.verifier.dispose?.();
  }

  private emit(m: FromTrainWorker): void {
    queueMicrotask(() => {
      if (!this.ended) this.onmessage?.({ data: m } as MessageEvent<FromTrainWorker>);
    });
  }

  private begin(spec: TrainSpec, text: string, checkpoint: CheckpointRecord | null): void {
    this.spec = spec;
    this.text = text;
    if (checkpoint !== null) {
      try {
        readCheckpoint(checkpoint, spec.model);
      } catch (error) {
        return this.emit({ type: 'error', code: 'state', message: messageOf(error) });
      }
      this.base = checkpoint;
      this.baseStep = checkpoint.step;
    }
    this.reached = this.baseStep;
    const { signaling, createPeer } = this.deps!;
    this.links = new ProviderLinks({
      jobId: spec.id,
      signaling,
      createPeer,
      onConnecting: (peerId) => this.say(`connecting to provider ${short(peerId)}`),
      onOpen: (link) => this.linked(link),
      onMessage: (link, bytes) => {
        this.queue = this.queue.then(() => this.fromProvider(link, bytes));
      },
      onLost: (link, reason) => this.lost(link, reason),
      wants: () => !this.ended,
    });
    const mine = (m: { jobId: string }) => m.jobId === spec.id;
    this.unsubscribe.push(
      // Every (re)connect: the server forgot the job, so open it again.
      signaling.on('welcome', () => this.open()),
      signaling.on('matched', (m) => mine(m) && this.links.matched(m.peerId, m.capabilities, undefined)),
      signaling.on('unmatched', (m) => mine(m) && this.links.unmatched(m.peerId, m.reason)),
      signaling.on('signal', (s) => mine(s) && this.links.signal(s.from, s.payload)),
    );
    this.say('waiting for a provider from the network');
    this.open();
  }

  private open(): void {
    if (!this.ended) this.deps!.signaling.send({ type: 'job-open', jobId: this.spec.id, needs: this.needs() });
  }

  private needs(): JobNeeds {
    const backend = this.spec.backend;
    return {
      kind: 'train',
      maxProviders: 1,
      units: this.spec.steps,
      modelBytes: Math.min(2 ** 32, this.base?.state.length ?? 0),
      ...(backend !== 'auto' && { backends: [backend] }),
    };
  }

  private say(message: string): void {
    this.emit({ type: 'preparing', message });
  }

  private control(link: ProviderLink, action: 'pause' | 'resume' | 'cancel'): void {
    this.sendRaw(link, encodeTrainMessage({ type: 'train-control', jobId: this.spec.id, action }));
  }

  private sendRaw(link: ProviderLink, bytes: Uint8Array): void {
    this.links.sendBytes(link, bytes, PeerStream.train);
  }

  private linked(link: ProviderLink): void {
    if (this.current !== null && this.current !== link) {
      this.links.release(link.session.peerId, 'the job trains on one provider');
      return;
    }
    this.current = link;
    const corpus = new TextEncoder().encode(this.text);
    const ckpt = this.base === null ? null : checkpointBody(this.base);
    const body = new Uint8Array(corpus.length + (ckpt?.body.length ?? 0));
    body.set(corpus, 0);
    if (ckpt) body.set(ckpt.body, corpus.length);
    const extraBytes = ckpt ? ckpt.body.length - ckpt.stateBytes : 0;
    this.sendRaw(
      link,
      encodeTrainMessage(
        {
          type: 'train-start',
          v: TRAIN_WIRE_VERSION,
          jobId: this.spec.id,
          spec: this.spec,
          fromStep: this.baseStep,
          corpusBytes: corpus.length,
          stateBytes: ckpt?.stateBytes ?? 0,
          extraBytes,
        },
        body,
      ),
    );
    if (this.paused) this.control(link, 'pause');
    this.say(`sent the job to provider ${short(link.session.peerId)}: it prepares the data`);
  }

  private lost(link: ProviderLink, reason: string): void {
    if (this.current !== link || this.ended) return;
    this.current = null;
    this.waitForAnother(`provider ${short(link.session.peerId)} left (${reason})`);
  }

  /** Training goes on elsewhere from the last accepted checkpoint; the chart rewinds to it. */
  private waitForAnother(why: string): void {
    const lostSteps = Math.max(0, this.reached - this.baseStep);
    this.reached = this.baseStep;
    this.emit({ type: 'started', backend: 'waiting for a provider', step: this.baseStep, note: '' });
    const from = this.baseStep === 0 ? 'the start' : `the checkpoint at step ${this.baseStep}`;
    const redone = lostSteps > 0 ? ` (the ${lostSteps} steps since are redone)` : '';
    this.moved = `${why}; resumed from ${from}${redone}`;
    this.say(`${why}: resuming on another provider from ${from}${redone}`);
  }

  private reject(link: ProviderLink, reason: string, report: boolean): void {
    if (this.current === link) this.current = null;
    const peerId = link.session.peerId;
    this.links.reject(peerId, reason, report);
    this.waitForAnother(`provider ${short(peerId)} was rejected: it ${reason}`);
  }

  private async fromProvider(link: ProviderLink, bytes: Uint8Array): Promise<void> {
    if (this.ended || link !== this.current || !this.links.isLive(link)) return;
    let m: { header: TrainFromProvider; body: Uint8Array };
    try {
      m = decodeTrainFromProvider(bytes);
    } catch (error) {
      return this.reject(link, `sent a malformed message (${messageOf(error)})`, true);
    }
    const { header, body } = m;
    if (header.jobId !== this.spec.id) return this.reject(link, `answered for job ${header.jobId}`, true);
    const peer = short(link.session.peerId);
    switch (header.type) {
      case 'train-preparing':
        return this.say(`provider ${peer}: ${header.message}`);
      case 'train-started': {
        if (header.step !== this.baseStep)
          return this.reject(link, `started at step ${header.step}, not at ${this.baseStep}`, true);
        const note = this.moved ? `${header.note}; ${this.moved}` : header.note;
        return this.emit({
          type: 'started',
          backend: `${header.backend} on provider ${peer}`,
          step: header.step,
          note,
        });
      }
      case 'train-error':
        if (JOB_FAULTS.has(header.code))
          return this.emit({ type: 'error', code: header.code, message: header.message });
        this.current = null;
        this.links.release(link.session.peerId, header.message);
        return this.waitForAnother(`provider ${peer} could not train (${header.message})`);
      case 'train-event': {
        const e = header.event;
        this.reached = Math.max(this.reached, e.step);
        const event: TrainEvent =
          e.type === 'step'
            ? { ...e, etaS: e.etaS ?? Number.POSITIVE_INFINITY }
            : e.type === 'skipped'
              ? { ...e, loss: e.loss ?? Number.NaN }
              : e.type === 'eval'
                ? { ...e, valLoss: e.valLoss ?? Number.NaN }
                : e;
        return this.emit({ type: 'event', event });
      }
      case 'train-checkpoint':
        return this.checkpoint(link, header, body);
    }
  }

  private async checkpoint(
    link: ProviderLink,
    header: Extract<TrainFromProvider, { type: 'train-checkpoint' }>,
    body: Uint8Array,
  ): Promise<void> {
    let received;
    try {
      received = checkpointFromBody(this.spec, header.step, header.stateBytes, body, Date.now());
    } catch (error) {
      return this.reject(link, `sent a checkpoint that does not fit the job (${messageOf(error)})`, true);
    }
    const base = this.base === null ? null : readCheckpoint(this.base, this.spec.model);
    let recomputed: number;
    try {
      recomputed = await this.deps!.verifier.valLoss(this.spec, this.text, received.record);
    } catch (error) {
      return this.reject(link, `sent a checkpoint this browser cannot evaluate (${messageOf(error)})`, true);
    }
    if (this.ended || link !== this.current) return;
    const verdict = judgeCheckpoint({
      baseStep: this.baseStep,
      step: header.step,
      claimed: header.valLoss,
      recomputed,
      sameWeightsAsBase: base !== null && sameWeights(base, received.checkpoint),
    });
    if (!verdict.accept) return this.reject(link, verdict.reason, true);
    this.base = received.record;
    this.baseStep = header.step;
    this.emit({
      type: 'event',
      event: { type: header.kind, step: header.step, record: received.record, valLoss: recomputed },
    });
  }
}
