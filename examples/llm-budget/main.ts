/**
 * A token budget, as LLM APIs have: a completion API on loopback enforces requests per minute
 * and tokens per minute (both refilling continuously, as OpenAI's do), counting each call's
 * real usage — prompt plus generated tokens, which the client can only estimate — and answers
 * with OpenAI's `x-ratelimit-*` headers, or 429 with `Retry-After` when a budget is exceeded.
 * The client sends every prompt through `adaptiveThrottle` with `cost` = the estimate and
 * `actualCost` = the response's `usage.total_tokens`, starting from a guess 2.5× too generous.
 *
 *   npx tsx examples/llm-budget/main.ts                         # budgets per real minute, ~1 min
 *   npx tsx examples/llm-budget/main.ts --quick                 # "a minute" is 2 s, ~4 s (CI)
 *   npx tsx examples/llm-budget/main.ts --seed 7                # other prompts and completions
 *   npx tsx examples/llm-budget/main.ts --without-actual-cost   # the same client pacing estimates only
 *
 * Exit code 1 unless every prompt completes with zero 429s and the tokens (and requests) the
 * server admitted stayed within its budget: for every two admissions a ≤ b, what was admitted
 * from a to b is at most limit + limit × (t_b − t_a) / window — the budget, full at the start,
 * never overdrawn (see budgetCheck.ts). 2 for bad arguments.
 */
import { parseArgs } from 'node:util';
import { checkBudget, type BudgetVerdict } from './budgetCheck';
import { estimateTokens, runClient, type ClientOutcome } from './client';
import { FEWEST_TOKENS_PER_CALL, makePrompts } from './prompts';
import { startLlmApi, type LlmApi } from './server';

interface Profile {
  /** The budgets' "minute". */
  readonly windowMs: number;
  readonly tokensPerWindow: number;
  readonly requestsPerWindow: number;
  readonly prompts: number;
  /** Give up (and fail) after this long. */
  readonly deadlineMs: number;
}

const FULL: Profile = { windowMs: 60_000, tokensPerWindow: 90_000, requestsPerWindow: 700, prompts: 300, deadlineMs: 240_000 };
const QUICK: Profile = { windowMs: 2_000, tokensPerWindow: 24_000, requestsPerWindow: 200, prompts: 100, deadlineMs: 60_000 };
const CONCURRENCY = 8;
/** The client's first guess: 2.5× the budget's rate, and a burst of 2.5 budgets. */
const GUESS_FACTOR = 2.5;

const say = (line = ''): void => void process.stdout.write(`${line}\n`);
const n = (value: number): string => Math.round(value).toLocaleString('en-US');
const pct = (share: number): string => `${(share * 100).toFixed(1)} %`;

function options(): { quick: boolean; seed: number; actualCost: boolean } {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      seed: { type: 'string', default: '42' },
      'without-actual-cost': { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const seed = Number(values.seed);
  if (!Number.isSafeInteger(seed)) throw new RangeError(`--seed must be an integer, got ${values.seed}`);
  return { quick: values.quick === true, seed, actualCost: values['without-actual-cost'] !== true };
}

async function run(profile: Profile, seed: number, actualCost: boolean): Promise<{ api: LlmApi; client: ClientOutcome; seconds: number }> {
  const api = await startLlmApi({
    windowMs: profile.windowMs,
    tokensPerWindow: profile.tokensPerWindow,
    requestsPerWindow: profile.requestsPerWindow,
    seed,
    baseLatencyMs: 20,
    msPerToken: 0.08,
  });
  const rate = (profile.tokensPerWindow / profile.windowMs) * 1000; // tokens per second
  const started = performance.now();
  let deadline: ReturnType<typeof setTimeout> | undefined;
  // A line every 10 s on long runs: what the server admitted so far.
  const progress =
    profile.windowMs >= 10_000
      ? setInterval(() => {
          const tokens = api.admissions.reduce((sum, admission) => sum + admission.tokens, 0);
          const refused = api.refused.tokens + api.refused.requests;
          say(
            `  ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s  ${api.admissions.length} calls admitted, ${n(tokens)} tokens, ${refused} × 429`,
          );
        }, 10_000)
      : undefined;
  try {
    const client = await Promise.race([
      runClient({
        url: api.url,
        prompts: makePrompts(profile.prompts, seed),
        guess: { capacity: profile.tokensPerWindow * GUESS_FACTOR, refillRate: rate * GUESS_FACTOR },
        concurrency: CONCURRENCY,
        actualCost,
      }),
      new Promise<never>((_, reject) => {
        deadline = setTimeout(() => reject(new Error(`not done after ${profile.deadlineMs / 1000} s`)), profile.deadlineMs);
      }),
    ]);
    return { api, client, seconds: (performance.now() - started) / 1000 };
  } finally {
    clearTimeout(deadline);
    clearInterval(progress);
    await api.close();
  }
}

function report(profile: Profile, api: LlmApi, client: ClientOutcome, seconds: number, actualCost: boolean): string[] {
  const problems: string[] = [];
  const tokens: BudgetVerdict = checkBudget(
    api.admissions.map(({ at, tokens: units }) => ({ at, units })),
    profile.tokensPerWindow,
    profile.windowMs,
  );
  const requests = checkBudget(
    api.requestsCharged.map((at) => ({ at, units: 1 })),
    profile.requestsPerWindow,
    profile.windowMs,
  );
  const throttled = api.refused.tokens + api.refused.requests;
  const admittedTokens = api.admissions.reduce((sum, admission) => sum + admission.tokens, 0);
  const perMs = profile.tokensPerWindow / profile.windowMs;
  const window = `${profile.windowMs / 1000} s`;
  const most = profile.tokensPerWindow + perMs * seconds * 1000;

  say(
    `  completions     ${client.completed} of ${profile.prompts} ok, ${throttled} answered 429 (${api.refused.tokens} tokens, ${api.refused.requests} requests)`,
  );
  say(
    `  tokens          ${n(admittedTokens)} used, ${n(client.estimated)} estimated (the real usage ${pct(admittedTokens / client.estimated - 1)} off in all)`,
  );
  say(
    `  the bucket took ${n(client.taken)} (estimates granted, ${client.debits} debits, ${client.refunds} refunds; debt at most ${n(client.mostDebt)}): ` +
      `${Math.abs(client.taken - admittedTokens) < 1e-6 ? 'the real usage, exactly' : `${pct(client.taken / admittedTokens - 1)} off the real usage`}`,
  );
  say(
    `  token budget    ${tokens.held ? 'held' : 'BROKEN'}: tightest stretch used ${n(tokens.used)} of its ${n(tokens.bound)} ` +
      `(${pct(tokens.tightest)}, ${(tokens.from / 1000).toFixed(2)}–${(tokens.to / 1000).toFixed(2)} s); busiest sliding ${window}: ${n(tokens.busiestWindow)} tokens ` +
      `(it allows ${n(2 * profile.tokensPerWindow)} in one: full, plus a window's refill)`,
  );
  say(
    `  request budget  ${requests.held ? 'held' : 'BROKEN'}: tightest ${pct(requests.tightest)}; busiest sliding ${window}: ${requests.busiestWindow} requests ` +
      `(every call uses >= ${FEWEST_TOKENS_PER_CALL} tokens: the token budget runs out first)`,
  );
  say(
    `  duration        ${seconds.toFixed(2)} s; ${pct(admittedTokens / most)} of the most the budget allowed in that time ` +
      `(${n(profile.tokensPerWindow)} + ${n(perMs * 1000)}/s × ${seconds.toFixed(2)} s)`,
  );
  say(`  final rate      ${n(client.finalRate)} tokens/s (the budget refills ${n(perMs * 1000)}/s; safetyFactor 0.9)`);

  if (client.error !== undefined)
    problems.push(`the stream failed: ${client.error instanceof Error ? client.error.message : String(client.error)}`);
  if (client.completed !== profile.prompts) problems.push(`${profile.prompts - client.completed} prompts never completed`);
  if (throttled > 0) problems.push(`${throttled} calls were answered 429`);
  if (!tokens.held) problems.push('the token budget was overdrawn');
  if (!requests.held) problems.push('the request budget was overdrawn');
  if (api.malformed > 0) problems.push(`${api.malformed} malformed calls`);
  if (client.used !== admittedTokens) problems.push(`the client saw ${client.used} tokens used, the server ${admittedTokens}`);
  if (actualCost && Math.abs(client.taken - admittedTokens) > 1e-6)
    problems.push(`the bucket took ${client.taken} tokens, not the ${admittedTokens} really used`);
  return problems;
}

async function main(): Promise<void> {
  let args: ReturnType<typeof options>;
  try {
    args = options();
  } catch (error) {
    console.error(`llm-budget: ${(error as Error).message} (options: --quick, --seed <integer>, --without-actual-cost)`);
    process.exitCode = 2;
    return;
  }
  const profile = args.quick ? QUICK : FULL;
  const perSecond = (profile.tokensPerWindow / profile.windowMs) * 1000;
  const prompts = makePrompts(profile.prompts, args.seed);
  say(
    `llm-budget: an API on loopback allowing ${n(profile.tokensPerWindow)} tokens and ${profile.requestsPerWindow} requests per ${profile.windowMs / 1000} s ` +
      `("a minute"${args.quick ? ', scaled down' : ''}), refilled continuously, counting real usage;`,
  );
  say(
    `  ${profile.prompts} prompts (seed ${args.seed}) estimated at ${n(prompts.reduce((sum, prompt) => sum + estimateTokens(prompt), 0))} tokens; ` +
      `adaptiveThrottle, concurrency ${CONCURRENCY}, first guess ${n(perSecond * GUESS_FACTOR)} tokens/s (${GUESS_FACTOR}× too fast), ` +
      `${args.actualCost ? 'actualCost = usage.total_tokens' : 'WITHOUT actualCost (estimates only)'}`,
  );
  const { api, client, seconds } = await run(profile, args.seed, args.actualCost);
  const problems = report(profile, api, client, seconds, args.actualCost);
  say(problems.length === 0 ? '  all checks passed' : `  FAILED: ${problems.join('; ')}`);
  if (problems.length > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(`llm-budget failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
