/**
 * A bursty, weighted event stream shaped by `throttleByTokens`, in real time with the default
 * (monotonic) scheduler, drawn as it runs: one line per 100 ms with the tokens in the bucket,
 * the events that arrived and those emitted (each shown as its cost), and the queue. Then a
 * summary, checked against an ideal token-bucket schedule computed independently.
 *
 *   npx tsx examples/bursty-stream/main.ts            # ~12 s
 *   npx tsx examples/bursty-stream/main.ts --quick    # ~3 s (CI)
 *   npx tsx examples/bursty-stream/main.ts --seed 7   # another stream (default seed 42)
 *
 * Exit code 1 if an event is lost, duplicated or reordered, or leaves earlier than the
 * bucket's capacity and rate allow.
 */
import { tap, type Subscription } from 'rxjs';
import { TokenBucket, throttleByTokens } from 'rxjs-token-bucket';
import { burstySchedule, inRealTime, type BurstyEvent } from './burstySource';
import { Chart } from './chart';
import { idealEmissionTimes, percentile, worstExcess } from './idealSchedule';

const CAPACITY = 10; // tokens: the largest burst
const RATE = 10; // tokens per second
const TOKENS_PER_MS = RATE / 1000;
const TICK_MS = 100;
/** An emission this long before its ideal instant is early (the limit was broken). */
const EARLY_MS = 0.5;
/** Spending this far above capacity + rate·elapsed counts as over the limit (rounding aside). */
const OVER_TOKENS = 1e-3;

interface Options {
  quick: boolean;
  seed: number;
}

function parseArgs(argv: readonly string[]): Options {
  const options: Options = { quick: false, seed: 42 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') options.quick = true;
    else if (arg === '--seed') {
      const seed = Number(argv[++i]);
      if (!Number.isSafeInteger(seed)) throw new RangeError(`--seed must be an integer, got ${argv[i]}`);
      options.seed = seed;
    } else throw new TypeError(`unknown argument ${JSON.stringify(arg)} (options: --quick, --seed <integer>)`);
  }
  return options;
}

/** When something happened (ms after the start) and what it cost. */
interface Moment {
  at: number;
  cost: number;
}

interface Observed {
  arrivals: (Moment & { id: number })[];
  emissions: (Moment & { id: number })[];
  /** From `events$`. */
  grants: Moment[];
  mostQueued: number;
  mostQueuedCost: number;
  longestWait: number;
  /** Drops, rejections and withdrawals reported on `events$` (there should be none). */
  refusals: string[];
  finishedAt: number;
}

const tty = process.stdout.isTTY === true;
const say = (line = ''): void => void process.stdout.write(`${line}\n`);

/** Runs the stream through the bucket, drawing a row per tick; resolves once the last row after completion is drawn. */
function run(events: readonly BurstyEvent[], deadlineMs: number): Promise<Observed> {
  const startedAt = performance.now();
  const elapsed = (): number => performance.now() - startedAt;
  const bucket = new TokenBucket({ capacity: CAPACITY, refillRate: RATE });
  const chart = new Chart(CAPACITY, tty && process.env['NO_COLOR'] === undefined);
  const observed: Observed = {
    arrivals: [],
    emissions: [],
    grants: [],
    mostQueued: 0,
    mostQueuedCost: 0,
    longestWait: 0,
    refusals: [],
    finishedAt: Number.NaN,
  };
  for (const line of chart.header()) say(line);

  const watching = bucket.events$.subscribe((event) => {
    if (event.type === 'granted') {
      observed.grants.push({ at: event.time - startedAt, cost: event.cost });
      observed.longestWait = Math.max(observed.longestWait, event.waited);
    } else if (event.type === 'queued') {
      observed.mostQueued = Math.max(observed.mostQueued, event.queued);
      observed.mostQueuedCost = Math.max(observed.mostQueuedCost, event.queuedCost);
    } else if (event.type !== 'reconfigured' && event.type !== 'adjusted') {
      observed.refusals.push(`${event.type} a value of cost ${event.cost} at ${(event.time - startedAt).toFixed(1)} ms`);
    }
  });

  return new Promise<Observed>((resolve, reject) => {
    let arrivalsDrawn = 0;
    let grantsDrawn = 0;
    let tick = 0;
    let ticker: ReturnType<typeof setTimeout> | undefined;
    let stream: Subscription | undefined;

    const finish = (error?: unknown): void => {
      clearTimeout(ticker);
      clearTimeout(watchdog);
      watching.unsubscribe();
      stream?.unsubscribe();
      if (error === undefined) resolve(observed);
      else reject(error);
    };

    /**
     * Draws the tick ending at `tick · TICK_MS`: the bucket now, and what arrived and was
     * granted since the last row (up to now, so the row agrees with the bucket's state even
     * when the tick runs a little late).
     */
    const drawTick = (): void => {
      tick++;
      const { available, queued, queuedCost } = bucket.stats();
      const arrived = observed.arrivals.slice(arrivalsDrawn).map((arrival) => arrival.cost);
      const emitted = observed.grants.slice(grantsDrawn).map((grant) => grant.cost);
      arrivalsDrawn += arrived.length;
      grantsDrawn += emitted.length;
      say(chart.row({ endMs: tick * TICK_MS, available, arrived, emitted, queued, queuedCost }));
      if (!Number.isNaN(observed.finishedAt)) {
        finish();
        return;
      }
      // Aimed at the tick's boundary on the start's clock, so late ticks do not drift.
      ticker = setTimeout(drawTick, Math.max(0, startedAt + (tick + 1) * TICK_MS - performance.now()));
    };

    const watchdog = setTimeout(
      () => finish(new Error(`the stream had not completed after ${(deadlineMs / 1000).toFixed(1)} s: values are stuck`)),
      deadlineMs,
    );
    ticker = setTimeout(drawTick, TICK_MS);
    stream = inRealTime(events, startedAt)
      .pipe(
        tap((event) => observed.arrivals.push({ id: event.id, at: elapsed(), cost: event.cost })),
        throttleByTokens(bucket, { cost: (event) => event.cost }),
      )
      .subscribe({
        next: (event) => observed.emissions.push({ id: event.id, at: elapsed(), cost: event.cost }),
        error: (error: unknown) => finish(error),
        complete: () => {
          observed.finishedAt = elapsed();
          const { queued, timerScheduled } = bucket.stats();
          if (queued !== 0 || timerScheduled)
            observed.refusals.push(`the bucket still had ${queued} waiting and a timer: ${timerScheduled}`);
        },
      });
  });
}

/** Checks and prints the summary; returns the problems found. */
function summarise(events: readonly BurstyEvent[], observed: Observed): string[] {
  const problems = [...observed.refusals];
  const { arrivals, emissions, grants } = observed;
  const totalCost = events.reduce((sum, event) => sum + event.cost, 0);

  const outOfOrder = emissions.findIndex((emission, index) => emission.id !== index);
  if (emissions.length !== events.length || outOfOrder !== -1) {
    problems.push(
      `${events.length} events arrived but ${emissions.length} were emitted` +
        (outOfOrder === -1 ? '' : `; emission ${outOfOrder} was event ${emissions[outOfOrder]!.id}`),
    );
  }
  const grantedCost = grants.reduce((sum, grant) => sum + grant.cost, 0);
  if (grants.length !== events.length || Math.abs(grantedCost - totalCost) > 1e-9) {
    problems.push(`events$ reported ${grants.length} grants of ${grantedCost} tokens for ${events.length} events of ${totalCost}`);
  }

  // The yardstick: the earliest each value could leave, given when it really arrived.
  const ideal = idealEmissionTimes(arrivals, CAPACITY, TOKENS_PER_MS);
  const lateness = emissions.map((emission, index) => emission.at - (ideal[index] ?? Number.NaN));
  const early = lateness.filter((late) => late < -EARLY_MS).length;
  if (early > 0) problems.push(`${early} emissions left more than ${EARLY_MS} ms before the earliest instant the bucket allows`);
  const worst = worstExcess(emissions, CAPACITY, TOKENS_PER_MS);
  if (worst.excess > OVER_TOKENS) {
    problems.push(
      `by ${(worst.at / 1000).toFixed(3)} s ${worst.spent} tokens were spent, ${worst.excess.toFixed(4)} over capacity + rate·elapsed`,
    );
  }

  const lastEmission = emissions.at(-1)?.at ?? Number.NaN;
  const idealLast = ideal.at(-1) ?? Number.NaN;
  const overIdeal = lastEmission - idealLast;
  const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
  const ms = (value: number): string => `${value.toFixed(1)} ms`;
  say();
  say('summary');
  say(
    `  events    ${arrivals.length} arrived, ${emissions.length} emitted${outOfOrder === -1 ? ', in order' : ''}; total cost ${totalCost} tokens`,
  );
  say(
    `  time      ${seconds(lastEmission)} to the last emission; ideal ${seconds(idealLast)} (the earliest capacity ${CAPACITY} + ${RATE} tokens/s allows ` +
      `for these arrivals; (cost − capacity) / rate alone is ${seconds((totalCost - CAPACITY) / TOKENS_PER_MS)}): ${overIdeal >= 0 ? '+' : ''}${ms(overIdeal)}`,
  );
  say(
    `  lateness  each emission vs its ideal instant: median ${ms(percentile(lateness, 50))}, p99 ${ms(percentile(lateness, 99))}, ` +
      `max ${ms(Math.max(...lateness))}; ${early} early (> ${EARLY_MS} ms before)`,
  );
  say(
    `  limit     spent at most capacity + rate·elapsed: closest at ${seconds(worst.at)}, ${worst.spent} of ${(worst.spent - worst.excess).toFixed(2)} tokens ` +
      `(${worst.excess <= OVER_TOKENS ? 'never over' : 'OVER'})`,
  );
  say(
    `  queue     at most ${observed.mostQueued} values (${observed.mostQueuedCost} tokens) waiting; longest wait ${seconds(observed.longestWait)}`,
  );
  say(`  checks    ${problems.length === 0 ? 'all passed' : `${problems.length} FAILED`}`);
  for (const problem of problems) say(`    - ${problem}`);
  return problems;
}

async function main(): Promise<void> {
  let options: Options;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`bursty-stream: ${(error as Error).message}`);
    process.exitCode = 2;
    return;
  }
  const events = burstySchedule({ seed: options.seed, horizonMs: options.quick ? 2_500 : 12_000 });
  const totalCost = events.reduce((sum, event) => sum + event.cost, 0);
  const plannedFinish = idealEmissionTimes(events, CAPACITY, TOKENS_PER_MS).at(-1) ?? 0;
  say(
    `bursty-stream: ${events.length} events of cost 1–5 (${totalCost} tokens) in clumps over ${((events.at(-1)?.at ?? 0) / 1000).toFixed(1)} s ` +
      `(seed ${options.seed}),`,
  );
  say(
    `  through throttleByTokens with a TokenBucket of capacity ${CAPACITY} refilling ${RATE} tokens/s, in real time (about ${(plannedFinish / 1000).toFixed(1)} s)`,
  );
  const observed = await run(events, plannedFinish + 15_000);
  const problems = summarise(events, observed);
  if (problems.length > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(`bursty-stream failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
