/**
 * Frame generators for the fuzz test: garbage, random JSON, mutated valid
 * messages, oversized and binary frames, replays and forged auth.
 * Seeded, so a failing run can be reproduced from its printed seed.
 */
import { MAX_FRAME_BYTES, PROTOCOL_VERSION, decodeClientMessage } from '@shared/protocol';
import { HARD_MAX_PAYLOAD_BYTES } from '../constants';
import { caps, needs } from './fixtures';
import { mulberry32 } from '@shared/random';

export type Rng = () => number;

/** Seeded, so a failing fuzz run can be replayed. */
export const seededRng = (seed: number): Rng => mulberry32(seed);

export type FuzzFrame = { kind: 'text'; text: string } | { kind: 'bytes'; bytes: Uint8Array; binary: boolean };

const int = (rng: Rng, n: number) => Math.floor(rng() * n);
const pick = <T>(rng: Rng, items: readonly T[]): T => items[int(rng, items.length)]!;
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

export const randomB64 = (rng: Rng, length: number) => Array.from({ length }, () => B64[int(rng, 64)]).join('');

function randomString(rng: Rng, max = 40): string {
  const n = int(rng, max);
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(rng() < 0.9 ? 32 + int(rng, 95) : int(rng, 0xd7ff));
  return s;
}

export function randomJson(rng: Rng, depth = 0): unknown {
  const r = rng();
  if (depth > 3 || r < 0.3)
    return pick(rng, [null, true, false, 0, -1, 1e308, -0.5, 2 ** 53 + 1, '', randomString(rng)]);
  if (r < 0.5) return randomString(rng);
  if (r < 0.7) return Array.from({ length: int(rng, 5) }, () => randomJson(rng, depth + 1));
  const obj: Record<string, unknown> = {};
  for (let i = int(rng, 5); i > 0; i--)
    obj[pick(rng, ['type', 'v', 'role', 'to', 'jobId', 'payload', '__proto__', 'constructor', randomString(rng, 8)])] =
      randomJson(rng, depth + 1);
  return obj;
}

function deepNest(depth: number): string {
  return '{"type":"ping","t":' + '['.repeat(depth) + ']'.repeat(depth) + '}';
}

/** Valid messages of every client type (before mutation). `peers` are ids worth aiming at. */
function template(rng: Rng, peers: readonly string[]): Record<string, unknown> {
  const peer = peers.length && rng() < 0.7 ? pick(rng, peers) : randomB64(rng, 43);
  const jobId = `fuzz-${randomB64(rng, 4)}`;
  switch (int(rng, 9)) {
    case 0:
      return { type: 'hello', v: PROTOCOL_VERSION, role: pick(rng, ['provider', 'requester']) };
    case 1:
      return { type: 'auth', publicKey: peer, signature: randomB64(rng, 86) };
    case 2:
      return { type: 'announce', capabilities: caps({ gflops: rng() * 100 }), slots: 1 + int(rng, 8) };
    case 3:
      return { type: 'status', busy: int(rng, 9), paused: rng() < 0.5 };
    case 4:
      return { type: 'job-open', jobId, needs: needs({ maxProviders: 1 + int(rng, 4) }) };
    case 5:
      return { type: 'job-close', jobId };
    case 6:
      return { type: 'release', jobId, peerId: peer };
    case 7:
      return {
        type: 'signal',
        to: peer,
        jobId,
        payload:
          rng() < 0.5
            ? { type: 'offer', sdp: randomString(rng, 200) }
            : { type: 'candidate', candidate: { candidate: randomString(rng), sdpMid: '0', sdpMLineIndex: 0 } },
      };
    default:
      return { type: 'ping', t: rng() * 1e6 };
  }
}

export function mutate(rng: Rng, message: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(message);
  for (let i = int(rng, 4); i > 0; i--) {
    const keys = Object.keys(out);
    const key = pick(rng, keys);
    switch (int(rng, 6)) {
      case 0:
        delete out[key];
        break;
      case 1:
        out[key] = randomJson(rng);
        break;
      case 2:
        out[pick(rng, ['__proto__', 'constructor', 'from', 'extra', randomString(rng, 6)])] = randomJson(rng);
        break;
      case 3:
        out.type = pick(rng, [randomString(rng, 12), 'HELLO', 'signal ', 42, null]);
        break;
      case 4:
        out[key] = 'x'.repeat(int(rng, 70_000));
        break;
      default: {
        const inner = out[key];
        if (inner && typeof inner === 'object' && !Array.isArray(inner))
          out[key] = mutate(rng, inner as Record<string, unknown>);
      }
    }
  }
  return out;
}

/**
 * Keeps the fuzzers' *valid* traffic off the legit clients' backend (webgpu), so
 * the legit flows' matching is deterministic while fuzz jobs still get matched
 * among fuzz providers.
 */
function isolate(text: string): string {
  const decoded = decodeClientMessage(text);
  if (!decoded.ok) return text;
  const m = decoded.message;
  if (m.type === 'job-open') return JSON.stringify({ ...m, needs: { ...m.needs, backends: ['wasm'] } });
  if (m.type === 'announce') return JSON.stringify({ ...m, capabilities: { ...m.capabilities, backend: 'wasm' } });
  return text;
}

export function randomFrame(rng: Rng, peers: readonly string[], replays: readonly string[]): FuzzFrame {
  const r = rng();
  if (r < 0.1) return { kind: 'text', text: randomString(rng, 200) };
  if (r < 0.25) return { kind: 'text', text: JSON.stringify(randomJson(rng)) ?? 'null' };
  if (r < 0.6) return { kind: 'text', text: isolate(JSON.stringify(mutate(rng, template(rng, peers)))) };
  if (r < 0.7) return { kind: 'text', text: isolate(JSON.stringify(template(rng, peers))) };
  if (r < 0.75)
    return { kind: 'text', text: `{"type":"ping","t":1,"pad":"${'x'.repeat(MAX_FRAME_BYTES + int(rng, 1000))}"}` };
  if (r < 0.76)
    return { kind: 'bytes', bytes: new Uint8Array(HARD_MAX_PAYLOAD_BYTES + 1 + int(rng, 1000)), binary: rng() < 0.5 };
  if (r < 0.8) return { kind: 'bytes', bytes: crypto.getRandomValues(new Uint8Array(1 + int(rng, 512))), binary: true };
  if (r < 0.81) return { kind: 'bytes', bytes: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), binary: false }; // invalid UTF-8 text
  if (r < 0.82) return { kind: 'text', text: deepNest(1000 + int(rng, 20_000)) };
  if (replays.length && r < 0.92) return { kind: 'text', text: pick(rng, replays) };
  return {
    kind: 'text',
    text: JSON.stringify({
      type: 'auth',
      publicKey: peers.length ? pick(rng, peers) : randomB64(rng, 43),
      signature: randomB64(rng, 86),
    }),
  };
}
