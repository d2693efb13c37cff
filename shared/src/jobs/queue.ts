/**
 * Which unit goes to which provider next. Pure and synchronous: the
 * coordinator feeds it events (assign, result, loss) and persists what it says.
 *
 * - A unit is finished when `redundancy` distinct providers returned results the
 *   coordinator accepted as agreeing.
 * - A provider that goes away gives its in-flight units back, so nothing is lost.
 * - When nothing is pending, an idle provider may speculatively take a unit
 *   already in flight elsewhere (redundancy 1 only): a stalled or slow provider
 *   then delays the job's tail by one unit's compute, not forever. The first
 *   result wins; later ones are duplicates and are ignored, so nothing repeats.
 */

export type PeerId = string;

interface UnitSlot {
  done: boolean;
  inFlight: Set<PeerId>;
  agreed: Set<PeerId>;
  /** Replicas asked for beyond `redundancy` (a quorum that disagreed). */
  extra: number;
}

export class UnitQueue {
  private readonly units: UnitSlot[];
  private pendingCursor = 0;
  private doneCount = 0;

  constructor(
    unitCount: number,
    private readonly redundancy: number,
    alreadyDone: Iterable<number> = [],
  ) {
    this.units = Array.from({ length: unitCount }, () => ({
      done: false,
      inFlight: new Set(),
      agreed: new Set(),
      extra: 0,
    }));
    for (const id of alreadyDone) {
      const unit = this.units[id];
      if (unit && !unit.done) {
        unit.done = true;
        this.doneCount++;
      }
    }
  }

  get size(): number {
    return this.units.length;
  }

  get finished(): number {
    return this.doneCount;
  }

  get complete(): boolean {
    return this.doneCount === this.units.length;
  }

  isDone(unitId: number): boolean {
    return this.units[unitId]?.done ?? false;
  }

  inFlightCount(peer: PeerId): number {
    let n = 0;
    for (const unit of this.units) if (unit.inFlight.has(peer)) n++;
    return n;
  }

  /** Picks the next unit for `peer` and marks it in flight there, or returns undefined. */
  assign(peer: PeerId): number | undefined {
    const id = this.findWanted(peer) ?? (this.redundancy === 1 ? this.findSpeculative(peer) : undefined);
    if (id !== undefined) this.units[id]!.inFlight.add(peer);
    return id;
  }

  /**
   * Records an accepted result from `peer`. Returns 'done' when the unit just
   * reached its quorum, 'more' when it needs more replicas, and 'duplicate'
   * when the unit was already finished (the result must then be discarded).
   */
  accept(unitId: number, peer: PeerId): 'done' | 'more' | 'duplicate' {
    const unit = this.slot(unitId);
    unit.inFlight.delete(peer);
    if (unit.done) return 'duplicate';
    unit.agreed.add(peer);
    if (unit.agreed.size < this.redundancy + unit.extra) return 'more';
    unit.done = true;
    this.doneCount++;
    unit.inFlight.clear();
    return 'done';
  }

  /**
   * Quorum mode: `peer` answered the unit. Its result counts as a replica (the
   * unit is not offered to it again) but only `settle` finishes the unit.
   * Returns false when the unit was already finished.
   */
  answered(unitId: number, peer: PeerId): boolean {
    const unit = this.slot(unitId);
    unit.inFlight.delete(peer);
    if (unit.done) return false;
    unit.agreed.add(peer);
    return true;
  }

  /**
   * Replicas disagreed (SPEC TRUST-Q2): the unit wants one more provider than
   * before, one that has not answered it yet. It finishes through `settle`.
   */
  requestReplica(unitId: number): void {
    const unit = this.slot(unitId);
    if (unit.done) return;
    unit.extra++;
    this.pendingCursor = Math.min(this.pendingCursor, unitId);
  }

  /**
   * A quorum decided the unit, whatever the count of replicas in hand: it is
   * done and replicas still in flight become duplicates. Returns false when it
   * was done already.
   */
  settle(unitId: number): boolean {
    const unit = this.slot(unitId);
    if (unit.done) return false;
    unit.done = true;
    this.doneCount++;
    unit.inFlight.clear();
    return true;
  }

  /** The unit failed or was rejected at `peer`: it goes back to the queue (and not to this peer's agreed set). */
  giveBack(unitId: number, peer: PeerId): void {
    const unit = this.slot(unitId);
    unit.inFlight.delete(peer);
    unit.agreed.delete(peer);
    if (unit.inFlight.size === 0 && !unit.done) this.pendingCursor = Math.min(this.pendingCursor, unitId);
  }

  /** `peer` is gone: every unit it held returns to the queue. Returns those units. */
  releasePeer(peer: PeerId): number[] {
    const returned: number[] = [];
    this.units.forEach((unit, id) => {
      if (unit.inFlight.delete(peer) && !unit.done) {
        returned.push(id);
        this.pendingCursor = Math.min(this.pendingCursor, id);
      }
    });
    return returned;
  }

  private slot(unitId: number): UnitSlot {
    const unit = this.units[unitId];
    if (!unit) throw new RangeError(`no unit ${unitId}`);
    return unit;
  }

  /** A unit that still needs replicas and that `peer` has not touched. */
  private findWanted(peer: PeerId): number | undefined {
    while (this.pendingCursor < this.units.length && this.units[this.pendingCursor]!.done) this.pendingCursor++;
    for (let id = this.pendingCursor; id < this.units.length; id++) {
      const unit = this.units[id]!;
      if (unit.done || unit.inFlight.has(peer) || unit.agreed.has(peer)) continue;
      if (unit.inFlight.size + unit.agreed.size < this.redundancy + unit.extra) return id;
    }
    return undefined;
  }

  /** The lowest unfinished unit in flight only elsewhere. */
  private findSpeculative(peer: PeerId): number | undefined {
    for (let id = this.pendingCursor; id < this.units.length; id++) {
      const unit = this.units[id]!;
      if (!unit.done && !unit.inFlight.has(peer) && unit.inFlight.size < 2) return id;
    }
    return undefined;
  }
}
