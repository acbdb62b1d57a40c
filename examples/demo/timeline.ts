/**
 * What the demo's API did, in short slots of time: requests admitted and refused (429) in
 * each. Fine enough to show the first seconds of learning; bounded by the run's length.
 */

/** The timeline's resolution, ms. */
export const SLOT_MS = 500;

export class Timeline {
  readonly ok: number[];
  readonly throttled: number[];

  constructor(readonly seconds: number) {
    const slots = Math.ceil((seconds * 1000) / SLOT_MS);
    this.ok = new Array<number>(slots).fill(0);
    this.throttled = new Array<number>(slots).fill(0);
  }

  get slots(): number {
    return this.ok.length;
  }

  /** Counts a request answered `elapsedMs` after the start; one after the run's end counts in no slot. */
  record(elapsedMs: number, admitted: boolean): void {
    const slot = Math.floor(elapsedMs / SLOT_MS);
    if (slot < 0 || slot >= this.slots) return;
    (admitted ? this.ok : this.throttled)[slot]!++;
  }
}
