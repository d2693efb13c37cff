/**
 * Counters and gauges rendered in the Prometheus text format (version 0.0.4).
 * Label values come only from closed sets (message types, error codes, roles),
 * never from client input, so a client cannot blow up cardinality.
 */

type Labels = Record<string, string>;

export interface Counter {
  inc(by?: number): void;
}

interface Family {
  help: string;
  type: 'counter' | 'gauge';
  values: Map<string, { labels: Labels; value: number }>;
}

export class Metrics {
  private readonly families = new Map<string, Family>();
  private readonly gauges = new Map<string, () => Array<{ labels: Labels; value: number }>>();

  constructor() {
    this.define('signaling_messages_in_total', 'counter', 'Valid frames received from clients, by type.');
    this.define('signaling_messages_out_total', 'counter', 'Frames sent to clients, by type.');
    this.define('signaling_errors_total', 'counter', 'Error frames sent, by code.');
    this.define('signaling_matches_total', 'counter', 'Provider-to-job assignments made.');
    this.define('signaling_unmatches_total', 'counter', 'Provider-to-job assignments ended.');
    this.define('signaling_signals_relayed_total', 'counter', 'WebRTC signal frames relayed between paired peers.');
    this.define('signaling_rate_limited_total', 'counter', 'Rate-limit hits, by scope.');
    this.define('signaling_connections_total', 'counter', 'WebSocket connections accepted.');
    this.define('signaling_closes_total', 'counter', 'Connections closed by the server, by close code.');
    this.define('signaling_auth_failures_total', 'counter', 'Failed authentication attempts.');
    this.define(
      'signaling_http_refused_total',
      'counter',
      'Connections or upgrades refused at the HTTP edge, by reason (origin, http-capacity, http-per-ip, path, closing).',
    );
    this.define('signaling_receipts_accepted_total', 'counter', 'Receipts verified and appended to the receipt log.');
    this.define('signaling_receipts_rejected_total', 'counter', 'Receipts refused, by reason.');
    this.define(
      'signaling_shared_state_refused_total',
      'counter',
      'Requests refused with code unavailable because shared state (Redis) was out of reach.',
    );
    this.define(
      'signaling_reports_total',
      'counter',
      'Reports of providers by requesters; counted=false when that requester had reported the provider before.',
    );
  }

  inc(name: string, labels: Labels = {}, by = 1): void {
    const family = this.families.get(name);
    if (!family) throw new Error(`unknown metric ${name}`);
    const key = labelKey(labels);
    const entry = family.values.get(key);
    if (entry) entry.value += by;
    else family.values.set(key, { labels, value: by });
  }

  /**
   * A counter resolved once, for the relay's hot path: incrementing it does no
   * label-key work and allocates nothing. It appears in /metrics from its first use.
   */
  counter(name: string, labels: Labels = {}): Counter {
    const family = this.families.get(name);
    if (!family) throw new Error(`unknown metric ${name}`);
    const key = labelKey(labels);
    let entry: { labels: Labels; value: number } | undefined;
    return {
      inc: (by = 1) => {
        entry ??= family.values.get(key) ?? family.values.set(key, { labels, value: 0 }).get(key)!;
        entry.value += by;
      },
    };
  }

  get(name: string, labels: Labels = {}): number {
    return this.families.get(name)?.values.get(labelKey(labels))?.value ?? 0;
  }

  /** A gauge read at scrape time. */
  gauge(name: string, help: string, read: () => Array<{ labels: Labels; value: number }>): void {
    this.define(name, 'gauge', help);
    this.gauges.set(name, read);
  }

  render(): string {
    const lines: string[] = [];
    for (const [name, family] of this.families) {
      lines.push(`# HELP ${name} ${family.help}`, `# TYPE ${name} ${family.type}`);
      const read = this.gauges.get(name);
      const values = read ? read() : [...family.values.values()];
      if (values.length === 0 && family.type === 'counter') lines.push(`${name} 0`);
      for (const { labels, value } of values) lines.push(`${name}${formatLabels(labels)} ${value}`);
    }
    return lines.join('\n') + '\n';
  }

  private define(name: string, type: Family['type'], help: string): void {
    this.families.set(name, { help, type, values: new Map() });
  }
}

function labelKey(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',');
}

function formatLabels(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return '';
  const escape = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
  return `{${keys.map((k) => `${k}="${escape(labels[k]!)}"`).join(',')}}`;
}
