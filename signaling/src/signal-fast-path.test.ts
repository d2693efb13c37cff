import { describe, expect, it } from 'vitest';
import { decodeClientMessage, decodeClientMessageBySchema } from '@shared/protocol';
import { mutate, randomB64, randomJson, seededRng } from './testing/fuzz-frames';

const TO = 'A'.repeat(42) + 'E';
const base = (payload: unknown) => ({ type: 'signal', to: TO, jobId: 'job-00001', payload });
const offer = { type: 'offer', sdp: 'v=0' };

/** decodeClientMessage takes a hand-written path for offers and answers; it must decide exactly as the schema. */
function expectSameVerdict(text: string) {
  expect(decodeClientMessage(text), text.slice(0, 200)).toEqual(decodeClientMessageBySchema(text));
}

describe('signal fast path', () => {
  it('PROTO1/PROTO5: edge cases get the schema verdict and error', () => {
    const cases: unknown[] = [
      base(offer),
      base({ type: 'answer', sdp: '' }),
      base({ sdp: 'v=0', type: 'offer' }),
      { payload: offer, jobId: 'job-00001', to: TO, type: 'signal' },
      base({ type: 'offer', sdp: 'x'.repeat(32 * 1024) }),
      base({ type: 'offer', sdp: 'x'.repeat(32 * 1024 + 1) }),
      base({ type: 'offer', sdp: 'é'.repeat(32 * 1024) }),
      base({ type: 'pranswer', sdp: 'v=0' }),
      base({ type: 'offer', sdp: 1 }),
      base({ type: 'offer' }),
      base({ type: 'offer', sdp: 'v=0', extra: 1 }),
      base({ type: 'candidate', candidate: { candidate: 'c', sdpMid: '0', sdpMLineIndex: 0 } }),
      base(null),
      base([offer]),
      base('offer'),
      { ...base(offer), from: TO },
      { ...base(offer), extra: undefined },
      { type: 'signal', to: TO, jobId: 'job-00001' },
      { ...base(offer), to: 'A'.repeat(42) + 'B' },
      { ...base(offer), to: 'A'.repeat(44) },
      { ...base(offer), to: 7 },
      { ...base(offer), jobId: 'short' },
      { ...base(offer), jobId: 'j'.repeat(65) },
      { ...base(offer), jobId: 'job 00001' },
    ];
    for (const c of cases) expectSameVerdict(JSON.stringify(c));
    // keys JSON.stringify would not write: __proto__ and duplicates
    expectSameVerdict(
      `{"type":"signal","to":"${TO}","jobId":"job-00001","payload":{"type":"offer","sdp":"v"},"__proto__":{}}`,
    );
    expectSameVerdict(
      `{"type":"signal","to":"${TO}","jobId":"job-00001","payload":{"type":"offer","sdp":"v","__proto__":{"a":1}}}`,
    );
    expectSameVerdict(
      `{"type":"signal","to":"${TO}","jobId":"job-00001","to":"x","payload":{"type":"offer","sdp":"v"}}`,
    );
    expectSameVerdict(
      `{"type":"signal","to":"${TO}","jobId":"job-00001","payload":{"type":"offer","sdp":"v","sdp":2}}`,
    );
  });

  it('PROTO1/PROTO5: 20,000 mutated signal frames get the schema verdict and error', () => {
    const rng = seededRng(20261204);
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const payload =
        rng() < 0.8
          ? { type: rng() < 0.5 ? 'offer' : 'answer', sdp: randomB64(rng, Math.floor(rng() * 300)) }
          : randomJson(rng);
      const frame = { type: 'signal', to: rng() < 0.9 ? TO : randomB64(rng, 43), jobId: 'job-00001', payload };
      const text = JSON.stringify(rng() < 0.5 ? frame : mutate(rng, frame));
      expectSameVerdict(text);
      if (decodeClientMessage(text).ok) accepted++;
    }
    // both sides of the comparison were exercised
    expect(accepted).toBeGreaterThan(2_000);
    expect(accepted).toBeLessThan(18_000);
  });
});
