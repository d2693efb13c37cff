/** Token buckets for per-connection message rates and per-IP connection admission. */

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly capacity: number,
    private readonly perSecond: number,
    private readonly now: () => number,
  ) {
    this.tokens = capacity;
    this.last = now();
  }

  /** Takes `n` tokens, or none when fewer are left. */
  take(n = 1): boolean {
    if (!this.has(n)) return false;
    this.tokens -= n;
    return true;
  }

  /** Whether `n` tokens are there now, taking none: to check several budgets before charging any. */
  has(n = 1): boolean {
    const t = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((t - this.last) / 1000) * this.perSecond);
    this.last = t;
    return this.tokens >= n;
  }

  /** True when the bucket has refilled completely, so forgetting it changes nothing. */
  isFull(): boolean {
    return this.tokens + ((this.now() - this.last) / 1000) * this.perSecond >= this.capacity;
  }
}

export interface IpLimits {
  connectionBurst: number;
  connectionsPerSecond: number;
  maxConnectionsPerIp: number;
}

export type Admission = { ok: true } | { ok: false; reason: 'rate' | 'concurrent' };

/** Admits connections per IP (SPEC RATE1/RATE2). Loopback is treated like any other address. */
export class IpAdmission {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly open = new Map<string, number>();

  constructor(
    private readonly limits: IpLimits,
    private readonly now: () => number,
  ) {}

  admit(ip: string): Admission {
    if ((this.open.get(ip) ?? 0) >= this.limits.maxConnectionsPerIp) return { ok: false, reason: 'concurrent' };
    let bucket = this.buckets.get(ip);
    if (!bucket) {
      bucket = new TokenBucket(this.limits.connectionBurst, this.limits.connectionsPerSecond, this.now);
      this.buckets.set(ip, bucket);
    }
    if (!bucket.take()) return { ok: false, reason: 'rate' };
    this.open.set(ip, (this.open.get(ip) ?? 0) + 1);
    return { ok: true };
  }

  /** Connections admitted from `ip` and not yet released. */
  openOf(ip: string): number {
    return this.open.get(ip) ?? 0;
  }

  /** Call once for every admitted connection when it ends. */
  release(ip: string): void {
    const n = (this.open.get(ip) ?? 1) - 1;
    if (n <= 0) this.open.delete(ip);
    else this.open.set(ip, n);
  }

  /** Forgets full buckets of IPs with no open connection, so the map cannot grow without bound. */
  sweep(): void {
    for (const [ip, bucket] of this.buckets) if (!this.open.has(ip) && bucket.isFull()) this.buckets.delete(ip);
  }
}

/** One token bucket per key (requester key, IP), created on first use and forgotten once full again. */
export class KeyedBuckets {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly capacity: number,
    private readonly perSecond: number,
    private readonly now: () => number,
  ) {}

  get(key: string): TokenBucket {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(this.capacity, this.perSecond, this.now);
      this.buckets.set(key, bucket);
    }
    return bucket;
  }

  /** A full bucket is the same as none, so the map holds only keys that spent recently. */
  sweep(): void {
    for (const [key, bucket] of this.buckets) if (bucket.isFull()) this.buckets.delete(key);
  }
}
