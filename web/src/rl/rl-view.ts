/**
 * What the RL dashboard shows: each job's stored record (curves, samples) plus what only a running page
 * knows: its phase, the version it serves, and per provider its verdicts, why it was refused and the
 * version it holds. A zustand store, so the panels re-render when a step closes.
 */
import { create } from 'zustand';
import type { Delivery, RelayTotals } from '../requester/version-relay';
import type { RlRecord } from './rl-store';

export interface RlProviderRow {
  readonly peerId: string;
  backend: string;
  /** The version and hash it last reported holding. */
  holdsVersion: number;
  holds: string;
  accepted: number;
  refused: number;
  /** Refusals by reason (verify.ts's RefuseReason). */
  reasons: Record<string, number>;
  lastReason: string;
  /** Over its fully checked rollouts: tokens let through by the CDF boundary slack, and the largest
   * |claimed − recomputed| log-probability (how far its backend and the trainer's disagree). */
  boundary: number;
  logprobGap: number;
  /** The first round it had a verdict in, and the first it was refused in (-1: none yet). */
  firstRound: number;
  firstRefused: number;
  /** How the last version reached it ('' before the first update). */
  via: Delivery | '';
  status: string;
}

export interface RlJobView {
  readonly record: RlRecord;
  readonly phase: string;
  readonly version: number;
  readonly versionHash: string;
  readonly providers: Record<string, RlProviderRow>;
  /** Kept versions a rollback can return to. */
  readonly kept: readonly number[];
  readonly running: boolean;
  /** Receipts signed for accepted rollouts since the page opened, and of those the server's log took. */
  readonly receipts: number;
  readonly receiptsLogged: number;
  /** Since the page opened: patches the requester uploaded, versions volunteers relayed, and fallbacks. */
  readonly relay: RelayTotals;
}

interface RlState {
  readonly jobs: Record<string, RlJobView>;
  readonly problems: readonly string[];
  put(record: RlRecord): void;
  update(id: string, change: (j: RlJobView) => RlJobView): void;
  remove(id: string): void;
  setProblems(problems: readonly string[]): void;
}

function fresh(record: RlRecord): RlJobView {
  return {
    record,
    phase: '',
    version: 0,
    versionHash: '',
    providers: {},
    kept: [],
    running: false,
    receipts: 0,
    receiptsLogged: 0,
    relay: { uploads: 0, relayed: 0, fallbacks: 0 },
  };
}

export const useRl = create<RlState>((set) => ({
  jobs: {},
  problems: [],
  put: (record) =>
    set((s) => ({
      jobs: { ...s.jobs, [record.spec.id]: { ...(s.jobs[record.spec.id] ?? fresh(record)), record } },
    })),
  update: (id, change) =>
    set((s) => {
      const j = s.jobs[id];
      return j ? { jobs: { ...s.jobs, [id]: change(j) } } : s;
    }),
  remove: (id) =>
    set((s) => {
      const { [id]: _, ...rest } = s.jobs;
      return { jobs: rest };
    }),
  setProblems: (problems) => set({ problems }),
}));

export function emptyProvider(peerId: string): RlProviderRow {
  return {
    peerId,
    backend: '',
    holdsVersion: -1,
    holds: '',
    accepted: 0,
    refused: 0,
    reasons: {},
    lastReason: '',
    boundary: 0,
    logprobGap: 0,
    firstRound: -1,
    firstRefused: -1,
    via: '',
    status: '',
  };
}
