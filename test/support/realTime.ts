/** Waits `ms` milliseconds of real time (a `setTimeout`, so at least that long). */
export function sleep(ms: number): Promise<void> {
  return new Promise<void>((resolve) => setTimeout(resolve, ms));
}
