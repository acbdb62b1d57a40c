/**
 * The wall clock (epoch ms), used only to read resets that headers give as epoch seconds or
 * HTTP-dates. Never used for timing: waits run on a scheduler's monotonic `now()`.
 */
export function wallClockNow(): number {
  return Date.now();
}
