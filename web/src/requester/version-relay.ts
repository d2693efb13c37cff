/**
 * The requester's side of relaying a new version through its volunteers (shared/src/protocol/relay.ts),
 * for the training-together and RL jobs alike. Per version it sends the patch itself to the first
 * RELAY_ROOTS volunteers, naming who each forwards to, and a bodiless notice to everyone else. A volunteer
 * that has not reported the version by the deadline gets the patch from the requester after all, and the
 * volunteer that should have forwarded it goes to the back of the next version's order, so a forwarder that
 * fails, or cheats, stops delaying others. The deadline follows what relaying took: RELAY_DEADLINE_FACTOR ×
 * the slowest relayed arrival of the last version, never under `waitMs` nor over MAX_RELAY_WAIT_MS, so a
 * large model on slow uplinks is not sent twice for want of a few seconds.
 */
import { RELAY_FANOUT, RELAY_ROOTS, splitRelay } from '@shared/protocol';

/** The deadline is this many times the slowest relayed arrival of the version before. */
export const RELAY_DEADLINE_FACTOR = 3;
/** A relayed volunteer is never waited for longer than this before the requester sends the patch itself. */
export const MAX_RELAY_WAIT_MS = 60_000;
/** The deadline before the first version was relayed: what a few hops of a small patch take, with room. */
export const RELAY_WAIT_MS = 6_000;
/** Beyond the deadline, how long the job's next step or round waits for patches sent as fallbacks to land. */
export const SYNC_GRACE_MS = 4_000;

export interface VersionRelayDeps {
  /** Sends the patch to `peerId`, naming the volunteers it forwards to (none: deliver only). */
  sendPatch(peerId: string, relay: readonly string[]): void;
  /** Tells `peerId` which version to expect from a co-volunteer. */
  sendNotice(peerId: string): void;
  /** How long a relayed volunteer has, at least, to report the version before the requester sends it itself (default RELAY_WAIT_MS). */
  waitMs?: number;
  /** Milliseconds, monotonic (default performance.now). */
  now?: () => number;
}

/** How the last version reached a volunteer. */
export type Delivery = 'requester' | 'volunteer' | 'fallback';

/** How a dashboard names each way a version reached a volunteer. */
export const DELIVERY_TEXT: Record<Delivery | '', string> = {
  '': '—',
  requester: 'this tab',
  volunteer: 'a volunteer (relayed)',
  fallback: 'this tab (the relay missed)',
};

/** The dashboards' one-line account of how versions travelled. */
export function relaySummary(t: RelayTotals): string {
  return `versions reached volunteers ${t.relayed} times relayed by a volunteer; this tab uploaded ${t.uploads} patches (${t.fallbacks} because a relay missed)`;
}

export interface RelayTotals {
  /** Patches the requester uploaded (to heads of the tree and as fallbacks), and deliveries by volunteers. */
  readonly uploads: number;
  readonly relayed: number;
  readonly fallbacks: number;
}

export class VersionRelay {
  /** The caller's name for the version being published (RL: its number and hash). */
  private version = '';
  /** Volunteers still to report this version → the volunteer that forwards to them (null: the requester). */
  private readonly waiting = new Map<string, string | null>();
  private readonly sentDirect = new Set<string>();
  private readonly fellBack = new Set<string>();
  /** Volunteers whose subtree needed a fallback, and how often: they go last next time. */
  private readonly failures = new Map<string, number>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private totals = { uploads: 0, relayed: 0, fallbacks: 0 };
  private publishedAt = 0;
  /** The slowest relayed arrival of the version being published, and of the one before it. */
  private slowestMs = 0;
  private lastSlowestMs = 0;

  constructor(private readonly deps: VersionRelayDeps) {}

  get counts(): RelayTotals {
    return { ...this.totals };
  }

  /** True once every volunteer sent this version has reported it (or left). */
  get settled(): boolean {
    return this.waiting.size === 0;
  }

  /** How long relayed volunteers have before the requester sends them the patch itself. */
  get deadlineMs(): number {
    const least = this.deps.waitMs ?? RELAY_WAIT_MS;
    return Math.min(MAX_RELAY_WAIT_MS, Math.max(least, RELAY_DEADLINE_FACTOR * this.lastSlowestMs));
  }

  /** The most the job's next step or round waits for this version to reach everyone (fallbacks included). */
  get syncMs(): number {
    return this.deadlineMs + SYNC_GRACE_MS;
  }

  private now(): number {
    return (this.deps.now ?? (() => performance.now()))();
  }

  /**
   * Publishes `version` to `holders` (the order is the caller's preference for the top of the tree:
   * trusted volunteers first); volunteers that failed to forward before move to the back.
   */
  publish(version: string, holders: readonly string[]): void {
    this.cancel();
    // The version before: what its relays took sets this one's deadline (none relayed: the last measure stands).
    if (this.slowestMs > 0) this.lastSlowestMs = this.slowestMs;
    this.slowestMs = 0;
    this.publishedAt = this.now();
    this.version = version;
    this.sentDirect.clear();
    this.fellBack.clear();
    this.waiting.clear();
    const order = holders
      .map((peerId, i) => ({ peerId, i, failed: this.failures.get(peerId) ?? 0 }))
      .sort((a, b) => a.failed - b.failed || a.i - b.i)
      .map((x) => x.peerId);
    const parents = new Map<string, string | null>();
    // The tree the volunteers build: each splits the list its patch names as splitRelay does by default.
    const walk = (parent: string | null, peers: readonly string[], fanout: number) => {
      for (const b of splitRelay(peers, fanout)) {
        parents.set(b.peerId, parent);
        walk(b.peerId, b.relay, RELAY_FANOUT);
      }
    };
    walk(null, order, RELAY_ROOTS);
    for (const [peerId, parent] of parents) this.waiting.set(peerId, parent);
    for (const b of splitRelay(order, RELAY_ROOTS)) this.direct(b.peerId, b.relay);
    for (const [peerId, parent] of parents) if (parent !== null) this.deps.sendNotice(peerId);
    if (parents.size > RELAY_ROOTS) this.timer = setTimeout(() => this.fallback(), this.deadlineMs);
  }

  /**
   * A volunteer reported holding `version`: how it reached it (null when it is not the one being
   * published or it was not waited for).
   */
  reported(peerId: string, version: string): Delivery | null {
    if (version !== this.version || !this.waiting.has(peerId)) return null;
    this.waiting.delete(peerId);
    if (this.waiting.size === 0) this.cancel();
    if (this.fellBack.has(peerId)) return 'fallback';
    if (this.sentDirect.has(peerId)) return 'requester';
    this.totals.relayed++;
    this.slowestMs = Math.max(this.slowestMs, this.now() - this.publishedAt);
    return 'volunteer';
  }

  /**
   * A volunteer that holds the version this one was patched from reported it (a forwarded patch failed to
   * rebuild, or it joined just before the version): the patch straight from the requester, once; after
   * that, or for any other version it holds, the caller sends the whole version.
   */
  mismatched(peerId: string): 'patch' | 'snapshot' {
    if (!this.sentDirect.has(peerId)) {
      this.waiting.set(peerId, this.waiting.get(peerId) ?? null);
      this.fallbackTo(peerId);
      return 'patch';
    }
    this.left(peerId);
    return 'snapshot';
  }

  /** A volunteer left: nobody waits for it (its subtree still gets the version by the deadline). */
  left(peerId: string): void {
    this.waiting.delete(peerId);
    if (this.waiting.size === 0) this.cancel();
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private direct(peerId: string, relay: readonly string[]): void {
    this.sentDirect.add(peerId);
    this.totals.uploads++;
    this.deps.sendPatch(peerId, relay);
  }

  private fallbackTo(peerId: string): void {
    const parent = this.waiting.get(peerId);
    if (parent) this.failures.set(parent, (this.failures.get(parent) ?? 0) + 1);
    this.fellBack.add(peerId);
    this.totals.fallbacks++;
    this.direct(peerId, []);
  }

  /** The deadline passed: everyone still waiting and not yet sent the patch gets it from the requester. */
  private fallback(): void {
    this.timer = null;
    for (const peerId of [...this.waiting.keys()]) if (!this.sentDirect.has(peerId)) this.fallbackTo(peerId);
  }
}
