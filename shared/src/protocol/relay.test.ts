import { describe, expect, it } from 'vitest';
import { RELAY_FANOUT, splitRelay } from './relay';

/** Every peer the tree built by splitting at every node reaches, with its depth. */
function reach(peers: readonly string[], fanout: number): Map<string, number> {
  const depth = new Map<string, number>();
  const walk = (list: readonly string[], d: number) => {
    for (const b of splitRelay(list, fanout)) {
      expect(depth.has(b.peerId)).toBe(false);
      depth.set(b.peerId, d);
      walk(b.relay, d + 1);
    }
  };
  walk(peers, 1);
  return depth;
}

describe('splitRelay (RELAY-T1)', () => {
  it('RELAY-T1: every peer is reached exactly once, each node sends to at most fanout, depth ⌈log_f n⌉ at most', () => {
    for (const n of [0, 1, 2, 3, 7, 16, 100]) {
      const peers = Array.from({ length: n }, (_, i) => `p${i}`);
      for (const fanout of [1, 2, 3]) {
        const depth = reach(peers, fanout);
        expect([...depth.keys()].sort()).toEqual([...peers].sort());
        const deepest = Math.max(0, ...depth.values());
        if (fanout > 1) expect(deepest).toBeLessThanOrEqual(Math.ceil(Math.log(n + 1) / Math.log(fanout)) + 1);
        expect(splitRelay(peers, fanout).length).toBe(Math.min(n, fanout));
      }
    }
    expect(splitRelay(['a', 'b', 'c', 'd', 'e'], RELAY_FANOUT)).toEqual([
      { peerId: 'a', relay: ['c', 'd'] },
      { peerId: 'b', relay: ['e'] },
    ]);
    expect(() => splitRelay(['a'], 0)).toThrow(RangeError);
  });
});
