import { THROUGHPUT_HISTORY_POINTS, THROUGHPUT_WINDOW_MS } from './constants';

/** Rows completed over time: a rate for the last window and a per-second series for charts. */
export class ThroughputMeter {
  private readonly events: { at: number; rows: number }[] = [];
  private readonly series: number[] = [];
  private lastBucket = -1;
  private bucketRows = 0;

  constructor(private readonly now: () => number = Date.now) {}

  record(rows: number): void {
    const at = this.now();
    this.events.push({ at, rows });
    this.roll(at);
    this.bucketRows += rows;
  }

  /** Rows per second over the last window. */
  rate(): number {
    const at = this.now();
    while (this.events.length && this.events[0]!.at < at - THROUGHPUT_WINDOW_MS) this.events.shift();
    const rows = this.events.reduce((sum, e) => sum + e.rows, 0);
    return rows / (THROUGHPUT_WINDOW_MS / 1000);
  }

  /** Rows completed in each of the last seconds, oldest first. */
  history(): number[] {
    this.roll(this.now());
    return [...this.series, this.bucketRows];
  }

  private roll(at: number): void {
    const bucket = Math.floor(at / 1000);
    if (this.lastBucket < 0 || bucket - this.lastBucket > THROUGHPUT_HISTORY_POINTS) {
      // First event, or idle longer than the chart: start a fresh chart instead of looping over every missed second.
      if (this.lastBucket >= 0)
        this.series.splice(0, this.series.length, ...new Array<number>(THROUGHPUT_HISTORY_POINTS).fill(0));
      this.lastBucket = bucket;
      this.bucketRows = 0;
    }
    while (this.lastBucket < bucket) {
      this.series.push(this.bucketRows);
      this.bucketRows = 0;
      this.lastBucket++;
      if (this.series.length > THROUGHPUT_HISTORY_POINTS) this.series.shift();
    }
  }
}
