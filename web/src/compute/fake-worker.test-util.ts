/** An in-memory stand-in for the compute worker, answering with a scripted handler. */
export class FakeWorker {
  onmessage: ((event: MessageEvent<unknown>) => void) | null = null;
  onerror: ((event: ErrorEvent) => void) | null = null;
  onmessageerror: (() => void) | null = null;
  terminated = false;
  readonly received: unknown[] = [];

  constructor(private readonly answer: (request: { type: string; id: number } & Record<string, unknown>) => unknown) {}

  postMessage(message: unknown): void {
    this.received.push(message);
    const reply = this.answer(message as { type: string; id: number });
    if (reply !== undefined) queueMicrotask(() => this.emit(reply));
  }

  emit(data: unknown): void {
    this.onmessage?.({ data } as MessageEvent<unknown>);
  }

  crash(message: string): void {
    this.onerror?.({ message, preventDefault() {} } as ErrorEvent);
  }

  terminate(): void {
    this.terminated = true;
  }

  asWorker(): Worker {
    return this as unknown as Worker;
  }
}

/** Replies like a healthy worker: ready, loaded, and outputs = inputs. */
export function echoWorker(): FakeWorker {
  return new FakeWorker((r) => {
    switch (r.type) {
      case 'init':
        return { type: 'ready', id: r.id, backend: r['backend'], numThreads: 1, ortVersion: 'fake' };
      case 'load':
        return { type: 'loaded', id: r.id, hash: r['hash'], inputNames: ['x'], outputNames: ['y'], numThreads: 1 };
      case 'run':
        return { type: 'result', id: r.id, outputs: { y: (r['inputs'] as Record<string, unknown>)['x'] }, ms: 1 };
      case 'bench':
        return { type: 'bench-result', id: r.id, timesMs: [3, 1, 2] };
      default:
        return { type: 'unloaded', id: r.id };
    }
  });
}
