/** Each refusal reason in words a requester reads on the dashboard. */
import type { RefuseReason } from './verify';

export const REFUSE_TEXT: Readonly<Record<RefuseReason, string>> = {
  malformed: 'malformed rollout',
  'not-assigned': 'a prompt or sample it was not assigned',
  'future-version': 'claims a policy version not yet published',
  'stale-version': 'sampled with a policy 3 or more versions old',
  seed: 'not the seed the round assigned',
  replay: 'a rollout already submitted',
  sketch: 'hidden states not those of the policy (another model?)',
  sampling: 'tokens not what the policy samples under the seed',
  logprobs: 'log-probabilities do not match the policy',
};
