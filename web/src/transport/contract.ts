/**
 * The behaviour every FramedChannel pair must show, whatever carries it: the
 * in-memory double (vitest) and a real RTCDataChannel between two peers
 * (Playwright, through web/harness/transport.ts). Framework-free on purpose:
 * each case is an async function that throws on failure.
 */
import { ChannelClosedError, CONTROL_STREAM, FIRST_PAYLOAD_BYTES, NEXT_PAYLOAD_BYTES } from '@shared/transport';
import type { FramedChannel, FramedMessage } from './framed-channel';
import { messageOf } from '@shared/errors';

export interface ChannelPair {
  a: FramedChannel;
  b: FramedChannel;
}

export interface ContractCase {
  /** Stable id first, so a failure names the rule. */
  name: string;
  run(pair: ChannelPair): Promise<void>;
}

/** Deterministic bytes, so both sides can tell exactly which message they hold. */
export function patternBytes(length: number, seed: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(length);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`contract: ${message}`);
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Collects the next `count` messages on `stream` of `channel`. */
export function collect(channel: FramedChannel, stream: number, count: number): Promise<FramedMessage[]> {
  return new Promise((resolve, reject) => {
    const got: FramedMessage[] = [];
    if (count === 0) return resolve(got);
    const off = channel.onMessage((message) => {
      if (message.stream !== stream) return;
      got.push(message);
      if (got.length === count) {
        off();
        offClose();
        resolve(got);
      }
    });
    const offClose = channel.onClose((reason) => reject(reason ?? new ChannelClosedError()));
  });
}

export const EDGE_SIZES = [
  0,
  1,
  2,
  1000,
  FIRST_PAYLOAD_BYTES - 1,
  FIRST_PAYLOAD_BYTES,
  FIRST_PAYLOAD_BYTES + 1,
  64 * 1024 - 1,
  64 * 1024,
  64 * 1024 + 1,
  FIRST_PAYLOAD_BYTES + NEXT_PAYLOAD_BYTES,
  FIRST_PAYLOAD_BYTES + NEXT_PAYLOAD_BYTES + 1,
  5 * 1024 * 1024,
];

export const contractCases: ContractCase[] = [
  {
    name: 'FC1 messages of every edge size arrive intact, in order',
    async run({ a, b }) {
      const arriving = collect(b, 5, EDGE_SIZES.length);
      await Promise.all(EDGE_SIZES.map((size, i) => a.send(5, patternBytes(size, i + 1))));
      const got = await arriving;
      got.forEach((message, i) =>
        check(
          sameBytes(message.bytes, patternBytes(EDGE_SIZES[i]!, i + 1)),
          `message ${i} (${EDGE_SIZES[i]} bytes) differs`,
        ),
      );
    },
  },
  {
    name: 'FC2 both directions and several streams at once',
    async run({ a, b }) {
      const size = 300_000;
      const toB = [collect(b, 1, 3), collect(b, 2, 3)];
      const toA = [collect(a, 1, 3), collect(a, 2, 3)];
      const sends: Promise<void>[] = [];
      for (let i = 0; i < 3; i++) {
        for (const stream of [1, 2]) {
          sends.push(a.send(stream, patternBytes(size, 100 + stream * 10 + i)));
          sends.push(b.send(stream, patternBytes(size, 200 + stream * 10 + i)));
        }
      }
      await Promise.all(sends);
      const [b1, b2] = await Promise.all(toB);
      const [a1, a2] = await Promise.all(toA);
      for (const [got, base, stream] of [
        [b1!, 100, 1],
        [b2!, 100, 2],
        [a1!, 200, 1],
        [a2!, 200, 2],
      ] as const) {
        got.forEach((m, i) =>
          check(
            sameBytes(m.bytes, patternBytes(size, base + stream * 10 + i)),
            `stream ${stream} message ${i} differs`,
          ),
        );
      }
    },
  },
  {
    name: 'FC3 a control message overtakes a bulk transfer already under way',
    async run({ a, b }) {
      const bulk = patternBytes(8 * 1024 * 1024, 7);
      const order: string[] = [];
      const off = b.onMessage((m) => order.push(m.stream === CONTROL_STREAM ? 'control' : 'bulk'));
      const framesBefore = b.stats.framesReceived;
      const bulkSent = a.send(1, bulk);
      // Wait until the bulk message is flowing, so control really has to overtake it.
      await until(() => b.stats.framesReceived >= framesBefore + 4);
      const controlSent = a.send(CONTROL_STREAM, patternBytes(100, 8));
      await Promise.all([bulkSent, controlSent]);
      await until(() => order.length === 2);
      off();
      check(order[0] === 'control' && order[1] === 'bulk', `arrival order was ${order.join(', ')}`);
    },
  },
  {
    name: 'FC4 after close, sends reject with ChannelClosedError on both sides',
    async run({ a, b }) {
      const closed = new Promise<void>((resolve) => b.onClose(() => resolve()));
      a.close();
      await closed;
      check(!a.isOpen && !b.isOpen, 'both ends report closed');
      for (const side of [a, b]) {
        const error = await side.send(1, new Uint8Array(10)).then(
          () => undefined,
          (e: unknown) => e,
        );
        check(error instanceof ChannelClosedError, `send after close gave ${messageOf(error)}`);
      }
    },
  },
];

/** Polls a condition on the event loop (no deadline: the runner's timeout is the bound). */
export async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}
