/**
 * The four lanes the page shows, fed the same values: `throttleByTokens` with each strategy
 * (its own bucket each, same limits) and `perKey` (a bucket per user). What happens is
 * recorded as marks on a timeline with the buckets' token levels, for drawing and checking.
 * Everything runs on the library's default scheduler, so inside `TestScheduler.run` it is
 * virtual time and in the live page it is real time.
 */
import { catchError, Subject, tap, type Observable, type Subscription } from 'rxjs';
import { KeyedBuckets, perKey, RateLimitExceededError, throttleByTokens, TokenBucket, type ThrottleStrategy } from 'rxjs-token-bucket';
import { KEY_LIMITS, LANE_LIMITS, MAX_QUEUE, USER_KEYS, type Arrival, type UserKey } from './scenario';

export type LaneName = 'delay' | 'drop' | 'reject' | 'perKey';
export const LANE_NAMES: readonly LaneName[] = ['delay', 'drop', 'reject', 'perKey'];

/** What became of a value in a lane, and when (ms on the page's clock). */
export interface Outcome {
  readonly id: number;
  readonly kind: 'emitted' | 'dropped' | 'rejected';
  readonly at: number;
}

/** A lane's history: arrivals, outcomes, and token levels sampled over time (per user for perKey). */
export interface LaneTimeline {
  readonly arrivals: (Arrival & { readonly seenAt: number })[];
  readonly outcomes: Outcome[];
  /** `[time, tokens]` samples; perKey keeps one series per user. */
  readonly tokens: Map<string, [number, number][]>;
}

/** The most samples kept per series: the live page draws a window, not the whole history. */
const MAX_SAMPLES = 4_000;

function push<T>(list: T[], item: T): void {
  list.push(item);
  if (list.length > MAX_SAMPLES) list.splice(0, list.length - MAX_SAMPLES);
}

export interface Lanes {
  /** Feeds a value to every lane. */
  readonly input: Subject<Arrival>;
  readonly timelines: Record<LaneName, LaneTimeline>;
  /** Samples every bucket's tokens now. */
  sample(): void;
  stop(): void;
}

const STRATEGIES: Record<Exclude<LaneName, 'perKey'>, ThrottleStrategy> = { delay: 'delay', drop: 'drop', reject: 'error' };

/** Starts the lanes; `now` is the clock marks are stamped with (the scheduler's, in ms). */
export function startLanes(now: () => number): Lanes {
  const input = new Subject<Arrival>();
  const emptyTimeline = (): LaneTimeline => ({ arrivals: [], outcomes: [], tokens: new Map() });
  const timelines: Record<LaneName, LaneTimeline> = {
    delay: emptyTimeline(),
    drop: emptyTimeline(),
    reject: emptyTimeline(),
    perKey: emptyTimeline(),
  };
  const mark = (lane: LaneName, id: number, kind: Outcome['kind']): void => push(timelines[lane].outcomes, { id, kind, at: now() });
  const subscriptions: Subscription[] = [];
  const buckets = new Map<LaneName, TokenBucket>();

  for (const [lane, strategy] of Object.entries(STRATEGIES) as [Exclude<LaneName, 'perKey'>, ThrottleStrategy][]) {
    const bucket = new TokenBucket(LANE_LIMITS);
    buckets.set(lane, bucket);
    let current: Arrival | undefined;
    const lanePipe: Observable<Arrival> = input.pipe(
      tap((value) => {
        current = value;
        push(timelines[lane].arrivals, { ...value, seenAt: now() });
      }),
      throttleByTokens(bucket, {
        strategy,
        cost: (value) => value.cost,
        ...(strategy === 'delay' ? { maxQueue: MAX_QUEUE, overflow: 'drop' as const } : {}),
        onDrop: (value) => mark(lane, value.id, 'dropped'),
      }),
    );
    // 'error' fails the stream; the page marks the value and subscribes again, to go on showing.
    const resilient: Observable<Arrival> = lanePipe.pipe(
      catchError((error: unknown, again) => {
        if (!(error instanceof RateLimitExceededError) || current === undefined) throw error;
        mark(lane, current.id, 'rejected');
        return again;
      }),
    );
    subscriptions.push(resilient.subscribe((value) => mark(lane, value.id, 'emitted')));
  }

  const keyed = new KeyedBuckets<UserKey>(KEY_LIMITS);
  subscriptions.push(
    input
      .pipe(
        tap((value) => push(timelines.perKey.arrivals, { ...value, seenAt: now() })),
        perKey((value) => value.key, keyed, {
          cost: (value) => value.cost,
          maxQueue: MAX_QUEUE,
          overflow: 'drop',
          onDrop: (value) => mark('perKey', value.id, 'dropped'),
        }),
      )
      .subscribe((value) => mark('perKey', value.id, 'emitted')),
  );

  const series = (lane: LaneName, name: string): [number, number][] => {
    const tokens = timelines[lane].tokens;
    let list = tokens.get(name);
    if (list === undefined) tokens.set(name, (list = []));
    return list;
  };
  return {
    input,
    timelines,
    sample(): void {
      const at = now();
      for (const [lane, bucket] of buckets) push(series(lane, 'bucket'), [at, bucket.available()]);
      for (const key of USER_KEYS) push(series('perKey', key), [at, keyed.keyStats(key).available ?? KEY_LIMITS.capacity]);
    },
    stop(): void {
      for (const subscription of subscriptions) subscription.unsubscribe();
    },
  };
}
