import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_RELAY_WAIT_MS, VersionRelay } from './version-relay';

afterEach(() => vi.useRealTimers());

function harness() {
  const patches: [string, readonly string[]][] = [];
  const notices: string[] = [];
  const relay = new VersionRelay({
    waitMs: 1000,
    sendPatch: (peerId, list) => patches.push([peerId, list]),
    sendNotice: (peerId) => notices.push(peerId),
  });
  return { relay, patches, notices };
}
const peers = ['a', 'b', 'c', 'd', 'e', 'f'];

describe('VersionRelay (RELAY-R1..3)', () => {
  it('RELAY-R1: one upload per version whatever the number of volunteers; the rest are told to expect it', () => {
    const { relay, patches, notices } = harness();
    relay.publish('h1', peers);
    expect(patches).toEqual([['a', ['b', 'c', 'd', 'e', 'f']]]);
    expect(notices.sort()).toEqual(['b', 'c', 'd', 'e', 'f']);
    expect(relay.reported('a', 'h1')).toBe('requester');
    for (const p of ['b', 'c', 'd', 'e']) expect(relay.reported(p, 'h1')).toBe('volunteer');
    expect(relay.reported('f', 'h0')).toBeNull();
    expect(relay.settled).toBe(false);
    expect(relay.reported('f', 'h1')).toBe('volunteer');
    expect(relay.settled).toBe(true);
    expect(relay.counts).toEqual({ uploads: 1, relayed: 5, fallbacks: 0 });
    relay.cancel();
  });

  it('RELAY-R2: a volunteer the relay misses gets the patch from the requester at the deadline, and its forwarder goes last next time', () => {
    vi.useFakeTimers();
    const { relay, patches } = harness();
    relay.publish('h1', ['a', 'b', 'c']);
    // a forwards to b and c; b arrives, c does not.
    expect(relay.reported('a', 'h1')).toBe('requester');
    expect(relay.reported('b', 'h1')).toBe('volunteer');
    vi.advanceTimersByTime(999);
    expect(patches).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(patches[1]).toEqual(['c', []]);
    expect(relay.reported('c', 'h1')).toBe('fallback');
    expect(relay.counts).toEqual({ uploads: 2, relayed: 1, fallbacks: 1 });
    relay.publish('h2', ['a', 'b', 'c']);
    expect(patches[2]).toEqual(['b', ['c', 'a']]);
    relay.cancel();
  });

  it('RELAY-R3: a volunteer one version behind gets the patch once, then the whole version; one that left is not waited for', () => {
    const { relay, patches } = harness();
    relay.publish('h1', ['a', 'b', 'c']);
    expect(relay.mismatched('b')).toBe('patch');
    expect(patches.at(-1)).toEqual(['b', []]);
    expect(relay.mismatched('b')).toBe('snapshot');
    relay.left('c');
    expect(relay.reported('a', 'h1')).toBe('requester');
    expect(relay.settled).toBe(true);
  });
});

describe('VersionRelay deadline (RELAY-R4)', () => {
  it('RELAY-R4: the deadline follows the slowest relayed arrival of the version before, within its bounds', () => {
    vi.useFakeTimers();
    let now = 0;
    const patches: string[] = [];
    const relay = new VersionRelay({
      waitMs: 1000,
      now: () => now,
      sendPatch: (peerId) => patches.push(peerId),
      sendNotice: () => {},
    });
    expect(relay.deadlineMs).toBe(1000);
    relay.publish('v1', ['a', 'b', 'c']);
    now = 900;
    relay.reported('a', 'v1');
    relay.reported('b', 'v1');
    relay.reported('c', 'v1');
    // Relays took 900 ms: the next version's deadline is 3 × that.
    relay.publish('v2', ['a', 'b', 'c']);
    expect(relay.deadlineMs).toBe(2700);
    vi.advanceTimersByTime(2000);
    expect(patches).toEqual(['a', 'a']);
    vi.advanceTimersByTime(700);
    expect(patches).toEqual(['a', 'a', 'b', 'c']);
    // A very slow version never stretches the wait past MAX_RELAY_WAIT_MS.
    now = 10_000_000;
    relay.publish('v3', ['a', 'b', 'c']);
    now += 100_000;
    // a's subtree fell back in v2, so a is last now and b heads the tree: c is one b relays to.
    expect(patches.at(-1)).toBe('b');
    expect(relay.reported('c', 'v3')).toBe('volunteer');
    relay.publish('v4', ['a', 'b', 'c']);
    expect(relay.deadlineMs).toBe(MAX_RELAY_WAIT_MS);
    relay.cancel();
  });
});
