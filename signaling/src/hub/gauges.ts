/** The hub's gauges in /metrics: read when scraped, never updated on the hot path. */
import type { Role } from '@shared/protocol';
import type { Metrics } from '../metrics';
import type { HubContext } from './context';

export function registerHubGauges(
  metrics: Metrics,
  ctx: HubContext,
  connectionCounts: () => Record<Role | 'unauthenticated', number>,
): void {
  const { matchmaker, ledger, shared } = ctx;
  metrics.gauge('signaling_connections', 'Open connections, by role (unauthenticated until auth succeeds).', () => {
    const counts = connectionCounts();
    return Object.entries(counts).map(([role, value]) => ({ labels: { role }, value }));
  });
  metrics.gauge('signaling_providers', 'Providers that have announced.', () => [
    { labels: {}, value: matchmaker.providerCount },
  ]);
  metrics.gauge('signaling_receipt_log_entries', 'Entries in the receipt log.', () => [
    { labels: {}, value: ledger.head.length },
  ]);
  metrics.gauge(
    'signaling_shared_state_up',
    'Whether what needs shared state (presence, matching, relay across instances, receipts) can be served: 1 or 0, by kind (memory or redis).',
    () => {
      const health = shared.health();
      return [{ labels: { kind: health.kind }, value: health.up ? 1 : 0 }];
    },
  );
  metrics.gauge('signaling_shared_ops_applied', 'Ops of the shared log applied by this instance.', () => [
    { labels: {}, value: shared.health().applied },
  ]);
  metrics.gauge('signaling_jobs_open', 'Jobs open across all requesters.', () => [
    { labels: {}, value: matchmaker.jobCount },
  ]);
}
