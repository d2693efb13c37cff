/** The RL job's pure core (GRAIL-style): tasks and rewards, seeded sampling, hidden-state sketches, GRPO, rollout verification. */
export * from './constants';
export * from './errors';
export * from './hash';
export * from './jsonl';
export * from './tasks';
export * from './vocab';
export * from './runner';
export * from './sampling';
export * from './sketch';
export * from './grpo';
export * from './grpo-step';
export * from './verify';
export * from './audit';
export * from './round';
export * from './wire';
export * from './policy-version';
export * from './rollout';
