/**
 * Rate-limiter metrics with OpenTelemetry, printed by the SDK's `ConsoleMetricExporter`: a
 * `TokenBucket` shaping a bursty stream (`throttleByTokens`, bounded queue, overflow dropped)
 * and a `KeyedBuckets` per tenant (`perKey`, the key labelled by the tenant's plan), both
 * instrumented with `instrumentLimiter` from `rxjs-token-bucket/otel`. At the end the
 * exported counters are checked against the limiters' own `stats()`.
 *
 *   npx tsx examples/otel-console/main.ts            # ~8 s, an export every 4 s
 *   npx tsx examples/otel-console/main.ts --quick    # ~2 s, one export at the end (CI)
 *
 * Exit code 1 if the exported counts disagree with `stats()`.
 */
import { parseArgs } from 'node:util';
import {
  ConsoleMetricExporter,
  InMemoryMetricExporter,
  AggregationTemporality,
  MeterProvider,
  PeriodicExportingMetricReader,
  type DataPoint,
} from '@opentelemetry/sdk-metrics';
import { interval, map, take, type Subscription } from 'rxjs';
import { KeyedBuckets, perKey, throttleByTokens, TokenBucket } from 'rxjs-token-bucket';
import { instrumentLimiter, RATE_LIMITING_METRICS } from 'rxjs-token-bucket/otel';

const HELP = `usage: npx tsx examples/otel-console/main.ts [--quick] [--help]
  --quick   run ~2 s and export once at the end (default: ~8 s, an export every 4 s)`;

function readFlags(): { quick?: boolean; help?: boolean } {
  try {
    return parseArgs({ options: { quick: { type: 'boolean' }, help: { type: 'boolean' } }, strict: true }).values;
  } catch (error) {
    console.error(`otel-console: ${(error as Error).message}\n${HELP}`);
    process.exit(2);
  }
}
const flags = readFlags();
if (flags.help === true) {
  console.log(HELP);
  process.exit(0);
}
const quick = flags.quick === true;
const RUN_MS = quick ? 2_000 : 8_000;
const TICK_MS = 25; // the source: 40 values a second, against 10 a second allowed

const console_ = new PeriodicExportingMetricReader({
  exporter: new ConsoleMetricExporter(),
  exportIntervalMillis: quick ? 60_000 : 4_000, // quick: only the final flush prints
});
const memory = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const check = new PeriodicExportingMetricReader({ exporter: memory, exportIntervalMillis: 60_000 });
const provider = new MeterProvider({ readers: [console_, check] });
const meter = provider.getMeter('otel-console-example');

const api = new TokenBucket({ capacity: 5, refillRate: 10 });
const tenants = new KeyedBuckets<string>({ capacity: 2, refillRate: 4 }, { maxKeys: 100 });
const plans: Record<string, string> = { acme: 'gold', globex: 'free', initech: 'free' };
const handles = [
  instrumentLimiter(api, { meter, name: 'api' }),
  instrumentLimiter(tenants, { meter, name: 'tenants', perKeyAttribute: (tenant: string) => plans[tenant] ?? 'other' }),
];

const ticks = RUN_MS / TICK_MS;
const subscriptions: Subscription[] = [
  interval(TICK_MS)
    .pipe(take(ticks), throttleByTokens(api, { cost: (n) => (n % 10 === 0 ? 3 : 1), maxQueue: 10, overflow: 'drop' }))
    .subscribe(),
  interval(TICK_MS)
    .pipe(
      take(ticks),
      map((n) => Object.keys(plans)[n % 3]!),
      perKey((tenant) => tenant, tenants, { maxQueue: 4, overflow: 'drop' }),
    )
    .subscribe(),
];

console.log(`otel-console: ${RUN_MS / 1000} s of two rate-limited streams, metrics printed by ConsoleMetricExporter\n`);
await new Promise((resolve) => setTimeout(resolve, RUN_MS + 200));
for (const subscription of subscriptions) subscription.unsubscribe();
const finalStats = { api: api.stats(), tenants: tenants.stats() };
await provider.shutdown(); // the final export, to the console and to memory
for (const handle of handles) handle.unregister();

/** The exported value of `rate_limiting.requests` for a limiter and result (0 if none). */
function exportedRequests(limiter: string, result: string): number {
  const points = memory
    .getMetrics()
    .at(-1)!
    .scopeMetrics.flatMap((scope) => scope.metrics)
    .filter((metric) => metric.descriptor.name === RATE_LIMITING_METRICS.requests)
    .flatMap((metric) => metric.dataPoints as DataPoint<number>[]);
  return points
    .filter((point) => point.attributes['rate_limiting.limiter'] === limiter && point.attributes['rate_limiting.result'] === result)
    .reduce((sum, point) => sum + point.value, 0);
}

const failures: string[] = [];
for (const [name, stats] of Object.entries(finalStats)) {
  for (const result of ['granted', 'dropped', 'cancelled'] as const) {
    const exported = exportedRequests(name, result);
    if (exported !== stats[result]) failures.push(`${name} ${result}: exported ${exported}, stats() ${stats[result]}`);
  }
  console.log(`${name}: granted ${stats.granted}, dropped ${stats.dropped}, cancelled ${stats.cancelled}`);
}
if (failures.length === 0) console.log('the exported rate_limiting.requests agree with stats()');
else {
  console.error(`otel-console: exported metrics disagree with stats():\n  ${failures.join('\n  ')}`);
  process.exitCode = 1;
}
