/**
 * The client: every prompt through `adaptiveThrottle` over a tokens-per-minute budget. A call
 * takes its estimated tokens when it starts (`cost`: characters / 4 plus half of `max_tokens`
 * for the answer), and the response's `usage.total_tokens` settles the real cost
 * (`actualCost`); the `x-ratelimit-*-tokens` headers of every response drive the rate, from a
 * starting guess that is wrong.
 */
import { from, Observable } from 'rxjs';
import { adaptiveThrottle, parseRateLimitHeaders, type RateLimitInfo, TokenBucket } from 'rxjs-token-bucket';
import type { Prompt } from './prompts';

/** What the client knows of a prompt's cost before the call. */
export function estimateTokens(prompt: Prompt): number {
  return Math.ceil(prompt.text.length / 4) + Math.ceil(prompt.maxTokens / 2);
}

export interface Completion {
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

export interface Reply {
  status: number;
  headers: Headers;
  body: Completion | undefined;
}

/** One completion call through fetch, as a cancellable Observable: unsubscribing aborts it. */
export function complete(url: string, prompt: Prompt): Observable<Reply> {
  return new Observable<Reply>((subscriber) => {
    const controller = new AbortController();
    fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: prompt.id, prompt: prompt.text, max_tokens: prompt.maxTokens }),
      signal: controller.signal,
    })
      .then(async (response) => {
        const body = (await response.json()) as Completion | { error: unknown };
        subscriber.next({ status: response.status, headers: response.headers, body: 'usage' in body ? body : undefined });
        subscriber.complete();
      })
      .catch((error: unknown) => subscriber.error(error));
    return () => controller.abort();
  });
}

/**
 * The feedback to pace by: the `tokens` budget of the headers (the bucket counts tokens; the
 * top level is whichever budget runs out first, which may be `requests`), and Retry-After.
 */
export function tokenBudget(reply: Reply): RateLimitInfo | undefined {
  const info = parseRateLimitHeaders(reply.headers);
  const tokens = info?.budgets?.find((budget) => budget.name === 'tokens');
  if (tokens === undefined) return info?.retryAfter === undefined ? undefined : { retryAfter: info.retryAfter };
  const { limit, remaining, resetAfter, window, refill } = tokens;
  return { limit, remaining, resetAfter, window, refill, retryAfter: info?.retryAfter };
}

export interface ClientOptions {
  readonly url: string;
  readonly prompts: readonly Prompt[];
  /** The starting guess, in tokens (per 1000 ms). */
  readonly guess: { readonly capacity: number; readonly refillRate: number };
  readonly concurrency: number;
  /** Settle each call's real usage (the point of the example); off only to compare. */
  readonly actualCost: boolean;
}

export interface ClientOutcome {
  readonly completed: number;
  readonly estimated: number;
  readonly used: number;
  readonly debits: number;
  readonly refunds: number;
  /** What the bucket took in all: the estimates it granted, plus what was debited, minus what was refunded. */
  readonly taken: number;
  readonly mostDebt: number;
  readonly finalRate: number;
  readonly error: unknown;
}

export function runClient(options: ClientOptions): Promise<ClientOutcome> {
  const bucket = new TokenBucket({ ...options.guess, interval: 1000 });
  let debits = 0;
  let refunds = 0;
  let adjusted = 0;
  let mostDebt = 0;
  const watching = bucket.events$.subscribe((event) => {
    if (event.type !== 'adjusted') return;
    if (event.cause === 'debit') debits++;
    else refunds++;
    adjusted += event.cause === 'debit' ? event.amount : -event.amount;
    mostDebt = Math.max(mostDebt, event.debt);
  });
  let completed = 0;
  let used = 0;
  const estimated = options.prompts.reduce((sum, prompt) => sum + estimateTokens(prompt), 0);
  return new Promise((resolve) => {
    const finish = (error: unknown): void => {
      watching.unsubscribe();
      const taken = bucket.stats().grantedCost + adjusted;
      resolve({ completed, estimated, used, debits, refunds, taken, mostDebt, finalRate: bucket.refillRate, error });
    };
    from(options.prompts)
      .pipe(
        adaptiveThrottle((prompt: Prompt) => complete(options.url, prompt), {
          bucket,
          cost: estimateTokens,
          ...(options.actualCost ? { actualCost: (reply: Reply) => reply.body!.usage.total_tokens } : {}),
          feedback: tokenBudget,
          concurrency: options.concurrency,
          retry: 5,
        }),
      )
      .subscribe({
        next: (reply) => {
          completed++;
          used += reply.body?.usage.total_tokens ?? 0;
        },
        error: (error: unknown) => finish(error),
        complete: () => finish(undefined),
      });
  });
}
