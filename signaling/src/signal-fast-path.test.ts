import { describe, expect, it } from 'vitest';
import {
  decodeClientMessage,
  decodeClientMessageBySchema,
  decodeServerMessage,
  spliceSignalFrame,
} from '@shared/protocol';
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

/** What the relay forwards for a decoded signal when it serialises: the reference for spliceSignalFrame. */
function forwardedByReference(text: string, from: string): unknown {
  const decoded = decodeClientMessage(text);
  if (!decoded.ok || decoded.message.type !== 'signal') throw new Error('not a signal');
  const { jobId, payload } = decoded.message;
  return JSON.parse(JSON.stringify({ type: 'signal', from, jobId, payload }));
}

function expectSameForward(text: string): boolean {
  const decoded = decodeClientMessage(text);
  if (!decoded.ok || decoded.message.type !== 'signal') return false;
  const spliced = spliceSignalFrame(text, decoded.message.to, FROM);
  if (spliced === null) return false;
  // The receiver parses and checks it as a server message: it must be that, and the same one.
  const received = decodeServerMessage(spliced);
  expect(received.ok, text.slice(0, 200)).toBe(true);
  expect(JSON.parse(spliced), text.slice(0, 200)).toEqual(forwardedByReference(text, FROM));
  return true;
}

const FROM = 'B'.repeat(42) + 'A';

describe('relayed signal text (RELAY4)', () => {
  it('RELAY4: the spliced frame parses to exactly the frame the relay would serialise', () => {
    const spliced = [
      JSON.stringify(base(offer)),
      JSON.stringify({ payload: offer, jobId: 'job-00001', to: TO, type: 'signal' }),
      JSON.stringify(base({ type: 'candidate', candidate: { candidate: 'c', sdpMid: '0', sdpMLineIndex: 0 } })),
      JSON.stringify(base({ type: 'offer', sdp: 'v=0\r\na=to:"x"\\ \u2028 é' })),
      ` { "type" : "signal", "to":"${TO}" , "jobId":"job-00001","payload":{"type":"answer","sdp":"\\u0041"} } `,
      // Duplicates of other keys: the receiver keeps the last, as the relay's check did.
      `{"type":"signal","to":"${TO}","jobId":"job-99999","jobId":"job-00001","payload":{"type":"offer","sdp":"v"}}`,
    ].map(expectSameForward);
    expect(spliced).toEqual([true, true, true, true, true, true]);
  });

  it('RELAY4: frames it cannot splice safely are left to the serialiser', () => {
    const cases = [
      // A duplicate "to": JSON.parse keeps the last; the text holds both.
      `{"type":"signal","to":"${'C'.repeat(42)}A","jobId":"job-00001","to":"${TO}","payload":{"type":"offer","sdp":"v"}}`,
      `{"type":"signal","to" :"${TO}","jobId":"job-00001","payload":{"type":"offer","sdp":"v"}}`,
      // "to" as a string value elsewhere: not worth telling apart from a key.
      `{"type":"signal","to":"${TO}","jobId":"job-00001","payload":{"type":"offer","sdp":"to"}}`,
    ];
    for (const text of cases) {
      const decoded = decodeClientMessage(text);
      if (!decoded.ok || decoded.message.type !== 'signal') throw new Error(`not a valid signal: ${text}`);
      expect(spliceSignalFrame(text, decoded.message.to, FROM), text).toBeNull();
    }
  });

  it('RELAY4: 20,000 mutated signal frames: every one spliced is the serialised frame', () => {
    const rng = seededRng(20261205);
    let spliced = 0;
    for (let i = 0; i < 20_000; i++) {
      const payload =
        rng() < 0.8
          ? { type: rng() < 0.5 ? 'offer' : 'answer', sdp: randomB64(rng, Math.floor(rng() * 300)) }
          : randomJson(rng);
      const frame = { type: 'signal', to: rng() < 0.9 ? TO : randomB64(rng, 43), jobId: 'job-00001', payload };
      if (expectSameForward(JSON.stringify(rng() < 0.5 ? frame : mutate(rng, frame)))) spliced++;
    }
    expect(spliced).toBeGreaterThan(2_000);
  });
});
