/** The page's RL jobs, over their own IndexedDB database, restored once. */
import { startRequester } from '../requester/boot';
import { idbStore } from '../storage/kv';
import { RlJobs } from './rl-jobs';
import { RlStore } from './rl-store';

/** Its own database: an RL job's versions never collide with the other tabs' records. */
export const RL_DB = 'grail-rl';

let jobs: { jobs: RlJobs; ready: Promise<void> } | null = null;

export function startRl(): { jobs: RlJobs; ready: Promise<void> } {
  if (jobs === null) {
    const j = new RlJobs(new RlStore(idbStore(RL_DB, 'kv')), () => startRequester().network);
    jobs = { jobs: j, ready: j.restore() };
  }
  return jobs;
}
