/**
 * What the dashboard shows of a training-together job beside the Train card's curves: per round the
 * validation loss, what was accepted and the bytes moved; per provider its verdicts and why. Kept in
 * memory per job (the curves themselves live in the job's checkpoints); a zustand store so the panel
 * re-renders when a round closes.
 */
import { create } from 'zustand';
import type { Delivery, RelayTotals } from '../requester/version-relay';

export interface TogetherRoundRow {
  readonly round: number;
  readonly valLoss: number;
  readonly accepted: number;
  readonly refused: number;
  readonly deferred: number;
  readonly patchBytes: number;
  /** What the same update would cost as dense f32 from every provider. */
  readonly denseBytes: number;
  /** Seconds since the round before closed (providers train ahead from then), and the slowest provider's training. */
  readonly wallS: number;
  readonly computeS: number;
}

export interface TogetherProviderRow {
  readonly peerId: string;
  readonly shard: number;
  accepted: number;
  refused: number;
  lastStatus: string;
  lastReason: string;
  rating: number;
  bytes: number;
  tokensPerS: number;
  /** The version hash it reported holding. */
  holds: string;
  /** The first round it had a verdict in, and the first it was refused in (-1: none yet). */
  firstRound: number;
  firstRefused: number;
  /** Why it was first refused. */
  firstReason: string;
  /** How the last version reached it (absent before the first round closes). */
  via?: Delivery;
}

export interface TogetherJobView {
  readonly rounds: TogetherRoundRow[];
  readonly providers: Record<string, TogetherProviderRow>;
  readonly versionHash: string;
  readonly phase: string;
  /** Receipts signed for accepted contributions since the page opened, and of those the server's log took. */
  readonly receipts?: number;
  readonly receiptsLogged?: number;
  /** Since the page opened: patches the requester uploaded, versions providers relayed, and fallbacks. */
  readonly relay?: RelayTotals;
}

interface TogetherState {
  readonly jobs: Record<string, TogetherJobView>;
  update(jobId: string, change: (j: TogetherJobView) => TogetherJobView): void;
}

export const useTogether = create<TogetherState>((set) => ({
  jobs: {},
  update: (jobId, change) =>
    set((s) => ({
      jobs: { ...s.jobs, [jobId]: change(s.jobs[jobId] ?? { rounds: [], providers: {}, versionHash: '', phase: '' }) },
    })),
}));
