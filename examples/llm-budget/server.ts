/**
 * A completion API on loopback that rate-limits as OpenAI does: a budget of requests and a
 * budget of tokens per window ("per minute"), each refilling continuously, full at the start.
 * Written out here with its own arithmetic, independently of the library under demonstration.
 *
 * `POST /v1/chat/completions` with `{ "id": n, "prompt": "...", "max_tokens": m }`. The server
 * counts the prompt with its own tokenizer and "generates" a completion whose length it draws
 * from the seed and the id (so a run is reproducible, and the client cannot know it in
 * advance). It admits a call when both budgets cover it — one request, and the call's real
 * usage, prompt + completion tokens, charged at admission — and answers after a latency that
 * grows with the completion, with `usage.total_tokens` in the body. Otherwise 429 with
 * `Retry-After` (seconds) and `retry-after-ms`; a call refused for its tokens is not charged
 * them, but its request counts (OpenAI: "unsuccessful requests contribute to your per-minute limit"). Every answer carries
 * `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`, the resets as Go durations (`6m0s`,
 * `1.5s`, `20ms`): the time until that budget is full again.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { completionTokens, serverPromptTokens } from './prompts';

export interface LlmApiOptions {
  /** The budgets' window, ms: 60 000 for "per minute". */
  readonly windowMs: number;
  readonly tokensPerWindow: number;
  readonly requestsPerWindow: number;
  /** Draws each completion's length. */
  readonly seed: number;
  /** Answer time: this much, plus `msPerToken` per generated token. */
  readonly baseLatencyMs: number;
  readonly msPerToken: number;
}

/** One admitted call: when (server clock, ms since start) and its real usage. */
export interface Admission {
  readonly at: number;
  readonly tokens: number;
}

export interface LlmApi {
  readonly url: string;
  /** Admitted calls, in order. */
  readonly admissions: Admission[];
  /** Calls answered 429, by the budget that refused them. */
  readonly refused: { requests: number; tokens: number };
  /** When a request was charged to the request budget: every admitted call, and every refused one it could still count. */
  readonly requestsCharged: number[];
  /** Malformed calls (400): there should be none. */
  readonly malformed: number;
  close(): Promise<void>;
}

/** A continuously refilling budget: `limit` units per `windowMs`, at most `limit` held, full at the start. */
class Budget {
  private units: number;
  private updatedAt = 0;
  private readonly perMs: number;

  constructor(
    readonly limit: number,
    windowMs: number,
  ) {
    this.units = limit;
    this.perMs = limit / windowMs;
  }

  /** Units held at `now` (ms since start). */
  at(now: number): number {
    if (now > this.updatedAt) {
      this.units = Math.min(this.limit, this.units + (now - this.updatedAt) * this.perMs);
      this.updatedAt = now;
    }
    return this.units;
  }

  /** Ms from `now` until `amount` units are held (0 if they are). */
  waitFor(amount: number, now: number): number {
    return Math.max(0, (amount - this.at(now)) / this.perMs);
  }

  take(amount: number, now: number): void {
    this.units = this.at(now) - amount;
  }

  /** Ms until the budget is full again. */
  untilFull(now: number): number {
    return (this.limit - this.at(now)) / this.perMs;
  }
}

/**
 * A Go `time.Duration` string of `ms`, as OpenAI sends resets: `6m0s`, `1.5s`, `20ms`, `0s`.
 * Below a millisecond `400us` (Go's other spelling): Go prints `µs`, but Node writes header
 * text as UTF-8 and fetch reads it as Latin-1, so a `µ` would arrive as `Âµ`.
 */
export function goDuration(ms: number): string {
  const micros = Math.round(ms * 1000);
  if (micros <= 0) return '0s';
  if (micros < 1000) return `${micros}us`;
  if (micros < 1_000_000) return `${decimal(micros / 1000)}ms`;
  const hours = Math.floor(micros / 3_600_000_000);
  const minutes = Math.floor((micros % 3_600_000_000) / 60_000_000);
  const seconds = (micros % 60_000_000) / 1_000_000;
  return `${hours > 0 ? `${hours}h` : ''}${hours > 0 || minutes > 0 ? `${minutes}m` : ''}${decimal(seconds)}s`;
}

/** Up to 6 decimals, trailing zeros dropped, never an exponent. */
function decimal(value: number): string {
  return value.toFixed(6).replace(/\.?0+$/, '');
}

interface CompletionRequest {
  id: number;
  prompt: string;
  max_tokens: number;
}

function parseCall(text: string): CompletionRequest | undefined {
  try {
    const body = JSON.parse(text) as Partial<CompletionRequest>;
    const { id, prompt, max_tokens: maxTokens } = body;
    if (!Number.isSafeInteger(id) || typeof prompt !== 'string' || !Number.isSafeInteger(maxTokens) || (maxTokens as number) < 1)
      return undefined;
    return body as CompletionRequest;
  } catch {
    return undefined;
  }
}

export async function startLlmApi(options: LlmApiOptions): Promise<LlmApi> {
  const started = performance.now();
  const clock = (): number => performance.now() - started;
  const requests = new Budget(options.requestsPerWindow, options.windowMs);
  const tokens = new Budget(options.tokensPerWindow, options.windowMs);
  const admissions: Admission[] = [];
  const refused = { requests: 0, tokens: 0 };
  const requestsCharged: number[] = [];
  let malformed = 0;

  function limitHeaders(response: ServerResponse, now: number): void {
    for (const [name, budget] of [
      ['requests', requests],
      ['tokens', tokens],
    ] as const) {
      response.setHeader(`x-ratelimit-limit-${name}`, String(budget.limit));
      response.setHeader(`x-ratelimit-remaining-${name}`, String(Math.max(0, Math.floor(budget.at(now)))));
      response.setHeader(`x-ratelimit-reset-${name}`, goDuration(budget.untilFull(now)));
    }
  }

  function answer(response: ServerResponse, status: number, body: unknown): void {
    limitHeaders(response, clock());
    response.setHeader('content-type', 'application/json');
    response.statusCode = status;
    response.end(`${JSON.stringify(body)}\n`);
  }

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const call = request.method === 'POST' ? parseCall(Buffer.concat(chunks).toString('utf8')) : undefined;
      if (call === undefined) {
        malformed++;
        answer(response, 400, { error: { message: 'expected POST { id, prompt, max_tokens }' } });
        return;
      }
      const now = clock();
      const promptTokens = serverPromptTokens(call.prompt);
      const generated = completionTokens(options.seed, call.id, call.max_tokens);
      const total = promptTokens + generated;
      const wait = Math.max(requests.waitFor(1, now), tokens.waitFor(total, now));
      if (wait > 0) {
        if (requests.waitFor(1, now) > 0) refused.requests++;
        else {
          // Refused for its tokens, which are not charged; the request still counts, as OpenAI counts unsuccessful ones.
          refused.tokens++;
          requests.take(1, now);
          requestsCharged.push(now);
        }
        response.setHeader('retry-after', String(Math.max(1, Math.ceil(wait / 1000))));
        response.setHeader('retry-after-ms', String(Math.ceil(wait)));
        answer(response, 429, { error: { type: 'rate_limit_exceeded', message: `Rate limit reached; try again in ${goDuration(wait)}.` } });
        return;
      }
      requests.take(1, now);
      tokens.take(total, now);
      admissions.push({ at: now, tokens: total });
      requestsCharged.push(now);
      setTimeout(
        () =>
          answer(response, 200, {
            id: `cmpl-${call.id}`,
            object: 'chat.completion',
            choices: [{ index: 0, message: { role: 'assistant', content: `(${generated} tokens)` }, finish_reason: 'stop' }],
            usage: { prompt_tokens: promptTokens, completion_tokens: generated, total_tokens: total },
          }),
        options.baseLatencyMs + generated * options.msPerToken,
      );
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    admissions,
    refused,
    requestsCharged,
    get malformed() {
      return malformed;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
