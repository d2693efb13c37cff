/**
 * The training worker in-process, for Node tests: the same TrainSession loop train.worker.ts runs, on the
 * single-threaded WASM engine, answering the same messages. `tamper` lets a test play a cheating provider
 * by rewriting each checkpoint record before it is sent.
 */
import {
  type CheckpointRecord,
  GreedySampler,
  prepareData,
  readCheckpoint,
  TrainSession,
  WasmTrainEngine,
} from '@shared/jobs';
import { arenaFor, WasmBackend } from '@shared/train';
import type { FromTrainWorker, ToTrainWorker } from '../train/messages';
import type { WorkerLike } from '../train/train-worker-factory';

export class InProcessTrainWorker implements WorkerLike {
  onmessage: ((e: MessageEvent<FromTrainWorker>) => void) | null = null;
  onerror: ((e: ErrorEvent) => void) | null = null;
  terminated = false;
  private session: TrainSession | null = null;

  constructor(
    private readonly options: {
      tamper?: (record: CheckpointRecord) => CheckpointRecord;
      /** The loop stops for good before the step after this one (a tab frozen mid-run). */
      stallAfter?: number;
    } = {},
  ) {}

  postMessage(m: ToTrainWorker): void {
    if (m.type === 'start') void this.start(m);
    else if (m.type === 'pause') this.session?.pause();
    else if (m.type === 'resume') this.session?.resume();
    else if (m.type === 'cancel') this.session?.cancel();
  }

  terminate(): void {
    this.terminated = true;
    this.session?.cancel();
  }

  private post(m: FromTrainWorker): void {
    if (!this.terminated) this.onmessage?.({ data: m } as MessageEvent<FromTrainWorker>);
  }

  private async start(m: Extract<ToTrainWorker, { type: 'start' }>): Promise<void> {
    try {
      const from = m.checkpoint === null ? undefined : readCheckpoint(m.checkpoint, m.spec.model);
      const data = prepareData(m.spec.model, m.text, from?.tokenizer);
      const engine = new WasmTrainEngine(
        await WasmBackend.create(arenaFor(m.spec.model, m.spec.batch, m.spec.model.context)),
      );
      const s = new TrainSession(
        m.spec,
        {
          engine,
          sampler: new GreedySampler(m.spec.model),
          data,
          emit: (event) => {
            const { tamper } = this.options;
            if (tamper && 'record' in event)
              this.post({ type: 'event', event: { ...event, record: tamper(event.record) } });
            else this.post({ type: 'event', event });
          },
          now: () => 0,
          yieldNow: () =>
            new Promise((r) => {
              if ((this.session?.step ?? 0) < (this.options.stallAfter ?? Number.POSITIVE_INFINITY)) setTimeout(r, 0);
            }),
        },
        from,
      );
      this.session = s;
      this.post({ type: 'started', backend: engine.name, step: s.step, note: 'in-process' });
      await s.run();
      engine.dispose();
    } catch (error) {
      this.post({ type: 'error', code: 'internal', message: error instanceof Error ? error.message : String(error) });
    }
  }
}
