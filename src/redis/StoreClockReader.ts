import { clockReading, SERVER_CLOCK, type ClockReading } from './scripts';

/**
 * Whose clock a bucket's scripts refill by. `'server'`: Redis's `TIME` (an empty reading).
 * `'client'`: this process's wall clock, read once at construction and advanced by the
 * monotonic clock from then on (so a step of the wall clock, as NTP or a VM resume makes,
 * changes nothing later), moved by the `shift` the scripts answer until it agrees with the
 * stored clock (see `luaState.ts`: a reading far ahead moves nothing, one far behind is
 * raised). Each shift is applied once: the answers to calls sent before a shift are stale.
 */
export class StoreClockReader {
  private readonly origin: number;
  private offset = 0;
  /** Counts the shifts applied; a reply to a call sent before the latest one is ignored. */
  private epoch = 0;
  private heardOnce = false;

  constructor(readonly mode: 'server' | 'client') {
    this.origin = mode === 'client' ? Date.now() - performance.now() : 0;
  }

  /** The reading to send now, with the epoch to quote back in `heard`. */
  read(): { readonly reading: ClockReading; readonly epoch: number } {
    if (this.mode === 'server') return { reading: SERVER_CLOCK, epoch: 0 };
    return { reading: clockReading(this.origin + performance.now() + this.offset), epoch: this.epoch };
  }

  /** Whether this client has not yet heard the stored clock (client clock only): its reading may be far off. */
  get untrusted(): boolean {
    return this.mode === 'client' && !this.heardOnce;
  }

  /** A reply to a call sent at `epoch` told this client to move its clock by `shiftMs`. */
  heard(shiftMs: number, epoch: number): void {
    if (this.mode === 'server') return;
    this.heardOnce = true;
    if (shiftMs === 0 || epoch !== this.epoch) return;
    this.offset += shiftMs;
    this.epoch++;
  }
}
