/**
 * Issue 6, item 6: the demo's API (a secret limit of API_RATE/s with a burst of API_BURST,
 * answering 429 past it) driven for the same time by
 * - `adaptiveThrottle`, starting from a wrong guess and learning the limit from each response,
 *   once per header style the API can speak (the demo's own run, `runStyle`);
 * - a static `bottleneck` told the published limit (`minTime` 1000/API_RATE ms), and one set to
 *   twice it, with the same concurrency, against the API speaking no headers (bottleneck reads
 *   none, so the style does not matter to it). In full mode also a bottleneck whose reservoir
 *   copies the API's own bucket (burst and rate): a client told the secret exactly.
 * Goodput is admitted requests as a share of the most the API admits in the time
 * (API_BURST + API_RATE × seconds); the 429 share is of all requests the API saw.
 */
import Bottleneck from 'bottleneck';
import { API_BURST, API_RATE, CONCURRENCY, GUESS, runStyle } from '../../examples/demo/runStyle';
import { HEADER_STYLES, startApi, type HeaderStyle } from '../../examples/demo/server';
import { median, significant, sleep, trace, type BenchRatio, type BenchRow, type BenchSuite } from '../harness';

/** The demo's work time per request, ms (as `runStyle` starts the API). */
const LATENCY_MS: readonly [number, number] = [5, 25];

interface RunResult {
  /** Requests the API saw, admitted, and refused (429). */
  sent: number;
  ok: number;
  throttled: number;
  /** The client's rate at the end (requests per second). */
  clientRate: number;
}

interface Subject {
  readonly name: string;
  run(seconds: number): Promise<RunResult>;
}

type BottleneckSettings = ConstructorParameters<typeof Bottleneck>[0];

/** A static bottleneck limiter given more jobs than it can start in `seconds`, against a fresh API. */
async function runBottleneck(settings: BottleneckSettings, clientRate: number, seconds: number): Promise<RunResult> {
  const api = await startApi({ style: 'none', rate: API_RATE, capacity: API_BURST, latencyMs: LATENCY_MS });
  const limiter = new Bottleneck({ maxConcurrent: CONCURRENCY, ...settings });
  const abort = new AbortController();
  // More work than the run can finish: the limiter, not the source, sets the pace.
  const jobs = API_BURST + Math.ceil(clientRate * seconds * 2);
  for (let i = 0; i < jobs; i++) {
    limiter
      .schedule(() => fetch(`${api.url}/items/${i}`, { signal: abort.signal }).then((response) => response.arrayBuffer()))
      .catch(() => {}); // aborted or dropped at the end; the API's counters are what is measured
  }
  try {
    await sleep(seconds * 1000);
  } finally {
    abort.abort();
    await Promise.race([limiter.stop({ dropWaitingJobs: true }).catch(() => {}), sleep(2_000)]);
    await api.close();
  }
  const { ok, throttled } = api.counters;
  return { sent: ok + throttled, ok, throttled, clientRate };
}

function adaptive(style: HeaderStyle): Subject {
  return {
    name: `adaptiveThrottle, ${style} headers`,
    async run(seconds) {
      const outcome = await runStyle(style, seconds);
      return { sent: outcome.sent, ok: outcome.ok, throttled: outcome.throttled, clientRate: outcome.finalRate };
    },
  };
}

const AT_LIMIT = `bottleneck minTime ${1000 / API_RATE} ms (the limit, ${API_RATE}/s)`;
const AT_TWICE = `bottleneck minTime ${1000 / (2 * API_RATE)} ms (2× the limit)`;
const RESERVOIR = `bottleneck reservoir ${API_BURST} + ${API_RATE}/s (the API's own bucket)`;

const bottleneckAtLimit: Subject = {
  name: AT_LIMIT,
  run: (seconds) => runBottleneck({ minTime: 1000 / API_RATE }, API_RATE, seconds),
};
const bottleneckAtTwice: Subject = {
  name: AT_TWICE,
  run: (seconds) => runBottleneck({ minTime: 1000 / (2 * API_RATE) }, 2 * API_RATE, seconds),
};
const bottleneckReservoir: Subject = {
  name: RESERVOIR,
  run: (seconds) =>
    runBottleneck(
      {
        reservoir: API_BURST,
        // bottleneck adds to the reservoir on a 250 ms heartbeat, never more often: a quarter second's worth each time.
        reservoirIncreaseAmount: API_RATE / 4,
        reservoirIncreaseInterval: 250,
        reservoirIncreaseMaximum: API_BURST,
      },
      API_RATE,
      seconds,
    ),
};

const suite: BenchSuite = async ({ quick, runs: requestedRuns }) => {
  const seconds = quick ? 8 : 30;
  // Each run takes `seconds` of real time: a few rounds at most, even in full mode.
  const runs = quick ? 1 : Math.max(1, Math.min(requestedRuns, 3));
  const styles: readonly HeaderStyle[] = quick ? ['ietf', 'none'] : HEADER_STYLES;
  const subjects: Subject[] = [...styles.map(adaptive), bottleneckAtLimit, bottleneckAtTwice, ...(quick ? [] : [bottleneckReservoir])];
  const most = API_BURST + API_RATE * seconds;

  const results = new Map<string, RunResult[]>(subjects.map((subject) => [subject.name, []]));
  for (let round = 0; round < runs; round++) {
    // Interleaved, so a spell of load from other processes lands on every subject alike.
    for (const subject of subjects) {
      const result = await subject.run(seconds);
      results.get(subject.name)!.push(result);
      trace(`[round ${round + 1}] ${subject.name}: ok ${result.ok}, 429 ${result.throttled}, sent ${result.sent}`);
    }
  }

  const goodputOf = (name: string): number => median(results.get(name)!.map((result) => result.ok / most));
  const throttledShareOf = (name: string): number =>
    median(results.get(name)!.map((result) => result.throttled / Math.max(1, result.sent)));
  const rows: BenchRow[] = subjects.map(({ name }) => {
    const mine = results.get(name)!;
    return {
      subject: name,
      metrics: {
        'goodput % of max': significant(goodputOf(name) * 100),
        '429 %': significant(throttledShareOf(name) * 100),
        requests: median(mine.map((result) => result.sent)),
        admitted: median(mine.map((result) => result.ok)),
        '429s': median(mine.map((result) => result.throttled)),
        'client rate /s (end)': significant(median(mine.map((result) => result.clientRate))),
      },
    };
  });

  const limitGoodput = goodputOf(AT_LIMIT);
  const twiceThrottled = throttledShareOf(AT_TWICE);
  const ratios: BenchRatio[] = styles.flatMap((style) => {
    const name = adaptive(style).name;
    const goodputRatio = goodputOf(name) / limitGoodput;
    const throttledRatio = throttledShareOf(name) / Math.max(twiceThrottled, 1e-9);
    return [
      {
        label: `goodput: adaptive (${style}) ÷ bottleneck at the limit`,
        value: significant(goodputRatio),
        target: '≥ 0.9',
        pass: goodputRatio >= 0.9,
      },
      {
        label: `429 share: adaptive (${style}) ÷ bottleneck at 2× the limit`,
        value: significant(throttledRatio),
        target: '≤ 0.05',
        pass: throttledRatio <= 0.05,
      },
    ];
  });

  return {
    id: 'adaptive',
    title: `Adaptive vs static limits: the demo's API (${API_RATE}/s, burst ${API_BURST}, not told to the client), ${seconds} s per run`,
    rows,
    ratios,
    notes: [
      `Goodput: requests the API admitted ÷ (${API_BURST} burst + ${API_RATE}/s × ${seconds} s) = ${most}, the most it admits in a run. ` +
        `429 %: share of the requests it saw that it refused. ${runs === 1 ? 'One run per subject' : `Medians of ${runs} runs, subjects interleaved`}.`,
      `adaptiveThrottle starts from a wrong guess (${GUESS.refillRate}/s, capacity ${GUESS.capacity}), concurrency ${CONCURRENCY}, ` +
        'the default safetyFactor 0.9, and retries throttled requests (each request the API saw is counted once, retry or not); ' +
        `bottleneck (maxConcurrent ${CONCURRENCY}) ignores headers and does not retry. Request latency ${LATENCY_MS[0]}–${LATENCY_MS[1]} ms.`,
      `Targets: within 10 % of the goodput of a static limiter told the secret limit, and at most 1/20 of the 429s of one set 2× too high ` +
        `(the demo's own targets are ≥ 90 % goodput and ≤ 2 % 429s).` +
        (quick
          ? ` Quick mode: header styles ${styles.join(' and ')} only; the full run adds the others and a reservoir-copy bottleneck.`
          : ''),
    ],
  };
};

export default suite;
