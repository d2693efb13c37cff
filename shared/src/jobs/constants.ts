/** Tunables of the job coordinator, each with why. */

/**
 * Units the coordinator keeps in flight per provider. Two hide one round trip
 * (the next unit is already there when a result leaves) without letting a
 * slow provider hoard work that a faster one could take.
 */
export const UNITS_IN_FLIGHT_PER_PROVIDER = 2;

/**
 * Results a provider may have waiting for the requester's own check before it
 * gets more work. A new key is checked on every unit and the requester's WASM
 * engine is slower than a GPU provider, so without this an adversary computed
 * 100–200 units (e2e/trust.spec.ts) before its first check ran; with it, it is
 * excluded within a few units and little work is wasted.
 */
export const MAX_PENDING_CHECKS_PER_PROVIDER = 2;

/**
 * Copies of one unit in flight at once when an idle provider re-runs a stalled
 * unit speculatively (redundancy 1): the original and one spare. More would
 * spend idle providers on one unit without finishing it any sooner.
 */
export const MAX_SPECULATIVE_HOLDERS = 2;

/**
 * Failed attempts of one unit (different errors each time) before the job
 * fails with the last error. An error that repeats fails it at the second
 * attempt already (the model or its input is at fault, not a provider); four
 * distinct errors cover a provider crash, a lost GPU device and a tab closed
 * mid-unit without letting a broken unit re-run forever.
 */
export const MAX_UNIT_FAILURES = 4;

/**
 * Units one provider may fail in a row, with errors that blame its device
 * rather than the model (device lost, out of memory), before the job stops
 * sending it work. Two: one lost GPU device can happen to anyone; a second
 * in a row says this tab cannot run the job, and its units do better elsewhere.
 * It is dropped, not blamed: nothing it returned was wrong.
 */
export const MAX_PROVIDER_FAILURES = 2;
