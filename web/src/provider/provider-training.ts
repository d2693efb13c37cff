/**
 * The provider's side of a Train job (issue 18): a requester sends a spec, its corpus and maybe a
 * checkpoint on PeerStream.train; this runs them in the same training worker the Train tab uses and
 * streams the loop's events back, with a checkpoint (state bytes + tokenizer + curves) every
 * spec.checkpointEvery steps, on pause and at the end. One job trains at a time: two would only share the
 * same cores. Everything from the requester is validated before a worker starts.
 */
import { messageOf } from '@shared/errors';
import {
  checkFits,
  checkpointBody,
  checkpointFromBody,
  type CheckpointRecord,
  parseTrainSpec,
  type TrainEvent,
} from '@shared/jobs';
import {
  decodeTrainToProvider,
  encodeTrainMessage,
  type TrainFromProvider,
  type TrainToProvider,
  type TrainWireEvent,
  TRAIN_WIRE_VERSION,
} from '@shared/protocol';
import type { FromTrainWorker } from '../train/messages';
import type { WorkerFactory, WorkerLike } from '../train/train-worker-factory';

export interface ProviderTrainingDeps {
  makeWorker: WorkerFactory;
  log(line: string): void;
}

interface Run {
  jobId: string;
  worker: WorkerLike;
  send(bytes: Uint8Array): void;
}

export class ProviderTraining {
  /** By session key (job/requester): the run that link asked for. */
  private readonly runs = new Map<string, Run>();

  constructor(private readonly deps: ProviderTrainingDeps) {}

  get busy(): boolean {
    return this.runs.size > 0;
  }

  /** A message on the train stream of the link `key`; `send` answers on that link. */
  receive(key: string, jobId: string, send: (bytes: Uint8Array) => void, bytes: Uint8Array): void {
    const reply = (m: TrainFromProvider, body?: Uint8Array) => send(encodeTrainMessage(m, body));
    const refuse = (code: string, message: string) =>
      reply({ type: 'train-error', jobId, code, message: message.slice(0, 1024) });
    let message: { header: TrainToProvider; body: Uint8Array };
    try {
      message = decodeTrainToProvider(bytes);
    } catch (error) {
      return refuse('provider', `bad train message: ${messageOf(error)}`);
    }
    const { header, body } = message;
    if (header.jobId !== jobId) return refuse('provider', `this link is for job ${jobId}, not ${header.jobId}`);
    if (header.type === 'train-control') {
      const run = this.runs.get(key);
      if (run) run.worker.postMessage({ type: header.action });
      return;
    }
    if (header.v !== TRAIN_WIRE_VERSION)
      return refuse('provider', `train protocol ${header.v} is not ${TRAIN_WIRE_VERSION}: reload the provider page`);
    if (this.runs.has(key) || this.runs.size > 0)
      return refuse('provider', 'this provider is already training a job: it takes one at a time');
    try {
      const spec = parseTrainSpec(header.spec);
      checkFits(spec.model, spec.batch, 'wasm');
      const text = new TextDecoder('utf-8', { fatal: true }).decode(body.subarray(0, header.corpusBytes));
      const checkpoint =
        header.stateBytes === 0
          ? null
          : checkpointFromBody(spec, header.fromStep, header.stateBytes, body.subarray(header.corpusBytes), Date.now())
              .record;
      const worker = this.deps.makeWorker(spec);
      const run: Run = { jobId, worker, send };
      this.runs.set(key, run);
      worker.onmessage = (e) => this.fromWorker(key, run, e.data);
      worker.onerror = (e) => {
        refuse('provider', `the provider's training worker crashed: ${e.message}`);
        this.close(key);
      };
      worker.postMessage({ type: 'start', spec, text, checkpoint });
      this.deps.log(`training job ${jobId}: ${spec.steps} steps of ${spec.preset} from step ${checkpoint?.step ?? 0}`);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      refuse(typeof code === 'string' ? code : 'data', messageOf(error));
    }
  }

  /** The link ended (requester left, job closed): its worker stops. */
  close(key: string): void {
    const run = this.runs.get(key);
    if (!run) return;
    this.runs.delete(key);
    run.worker.terminate();
  }

  closeAll(): void {
    for (const key of [...this.runs.keys()]) this.close(key);
  }

  private fromWorker(key: string, run: Run, m: FromTrainWorker): void {
    if (this.runs.get(key) !== run) return;
    const { jobId } = run;
    const reply = (h: TrainFromProvider, body?: Uint8Array) => run.send(encodeTrainMessage(h, body));
    switch (m.type) {
      case 'preparing':
        return reply({ type: 'train-preparing', jobId, message: m.message.slice(0, 1024) });
      case 'started':
        return reply({
          type: 'train-started',
          jobId,
          backend: m.backend.slice(0, 64),
          note: m.note.slice(0, 1024),
          step: m.step,
        });
      case 'error':
        reply({ type: 'train-error', jobId, code: m.code.slice(0, 32), message: m.message.slice(0, 1024) });
        return this.close(key);
      case 'device-lost':
        reply({
          type: 'train-error',
          jobId,
          code: 'provider',
          message: `the provider's GPU was lost: ${m.message}`.slice(0, 1024),
        });
        return this.close(key);
      case 'event':
        return this.event(key, run, m.event, reply);
    }
  }

  private event(key: string, run: Run, e: TrainEvent, reply: (h: TrainFromProvider, body?: Uint8Array) => void): void {
    const { jobId } = run;
    if (e.type === 'checkpoint' || e.type === 'paused' || e.type === 'done') {
      const { stateBytes, body } = checkpointBody(e.record);
      reply(
        { type: 'train-checkpoint', jobId, kind: e.type, step: e.step, valLoss: finiteOrNull(e.valLoss), stateBytes },
        body,
      );
      if (e.type === 'done') {
        this.deps.log(`training job ${jobId}: done at step ${e.step}`);
        this.close(key);
      }
      return;
    }
    reply({ type: 'train-event', jobId, event: toWire(e) });
    if (e.type === 'failed' || e.type === 'cancelled') this.close(key);
  }
}

function finiteOrNull(x: number | undefined): number | null {
  return x !== undefined && Number.isFinite(x) ? x : null;
}

function toWire(e: Exclude<TrainEvent, { record: CheckpointRecord }>): TrainWireEvent {
  switch (e.type) {
    case 'step':
      return { ...e, etaS: finiteOrNull(e.etaS) };
    case 'skipped':
      return { ...e, loss: finiteOrNull(e.loss), message: e.message.slice(0, 1024) };
    case 'eval':
      return { ...e, valLoss: finiteOrNull(e.valLoss) };
    case 'failed':
      return { ...e, message: e.message.slice(0, 1024) };
    default:
      return e;
  }
}
