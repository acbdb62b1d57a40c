/**
 * A rate-limited API as pure arithmetic over virtual time, for the scenarios of issue 11: a
 * hidden limit (a token bucket, or a fixed window) that may step during the run, answered in
 * one of four header styles, with response latency drawn from a seeded distribution, and the
 * outcome of every request counted by client in 250 ms bins. Written independently of the
 * library (its bucket is not `TokenLedger`), so a client is measured against a referee.
 *
 * The server decides at the instant a request arrives (the client's send instant) and the
 * answer reaches the client `latency()` ms later.
 */

import { settleTimes as judgedSettleTimes } from '../../examples/demo/targets';

export type HeaderStyle = 'github' | 'ietf' | 'retry-after-only' | 'none';
export const HEADER_STYLES: readonly HeaderStyle[] = ['github', 'ietf', 'retry-after-only', 'none'];
export const HEADERLESS_STYLES: readonly HeaderStyle[] = ['retry-after-only', 'none'];

/** One limit in force from `fromMs` on: `rate` per second, `capacity` admitted at once after a quiet spell. */
export interface LimitPhase {
  readonly fromMs: number;
  readonly rate: number;
  readonly capacity: number;
}

/** Response times: uniform in [min, max] ms, or log-normal through a median and a 99th percentile. */
export type LatencySpec =
  | { readonly kind: 'uniform'; readonly min: number; readonly max: number }
  | { readonly kind: 'lognormal'; readonly p50: number; readonly p99: number };

export interface SimulatedApiOptions {
  readonly style: HeaderStyle;
  readonly phases: readonly LimitPhase[];
  /** `'token-bucket'` (default) refills continuously; `'fixed-window'` admits rate × window per window of `windowMs`. */
  readonly limit?: 'token-bucket' | 'fixed-window';
  readonly windowMs?: number;
  readonly latency: LatencySpec;
  readonly seed?: number;
}

export interface SimulatedResponse {
  readonly status: 200 | 429;
  readonly headers: Readonly<Record<string, string>>;
}

/** The wall clock of virtual time 0 (epoch ms): headers with epoch resets read it, so must the client's `wallClock`. */
export const SIMULATED_EPOCH_MS = Date.UTC(2026, 0, 1);
/** Outcomes are counted in bins of this many ms. */
export const BIN_MS = 250;
const Z99 = 2.3263478740408408;
/** A heavy tail is still cut somewhere: no simulated answer takes longer than this. */
const MAX_LATENCY_MS = 10_000;

/** A small seeded generator (mulberry32), so every run of a scenario is the same run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class SimulatedApi {
  private readonly random: () => number;
  private phaseIndex = 0;
  private tokens: number;
  private updatedAt = 0;
  private windowStart = 0;
  private windowUsed = 0;
  /** ok[client][bin] and refused[client][bin]. */
  private readonly ok: number[][] = [];
  private readonly refused: number[][] = [];

  constructor(private readonly options: SimulatedApiOptions) {
    if (options.phases.length === 0 || options.phases[0]!.fromMs !== 0)
      throw new RangeError('SimulatedApi: the first phase must start at 0');
    this.random = seededRandom(options.seed ?? 1);
    this.tokens = options.phases[0]!.capacity;
  }

  get phases(): readonly LimitPhase[] {
    return this.options.phases;
  }

  /** The answer to a request `client` sends at `now` (virtual ms). */
  answer(now: number, client = 0): SimulatedResponse {
    this.advance(now);
    const phase = this.options.phases[this.phaseIndex]!;
    const admitted = this.isWindowed() ? this.windowUsed < this.windowLimit(phase) : this.tokens >= 1;
    if (admitted) {
      if (this.isWindowed()) this.windowUsed++;
      else this.tokens -= 1;
    }
    this.count(admitted ? this.ok : this.refused, client, now);
    return { status: admitted ? 200 : 429, headers: this.headers(now, phase, admitted) };
  }

  /** A response time in ms. */
  latency(): number {
    const spec = this.options.latency;
    if (spec.kind === 'uniform') return spec.min + this.random() * (spec.max - spec.min);
    // Box–Muller: a standard normal from two uniforms (1 − u keeps the log finite).
    const normal = Math.sqrt(-2 * Math.log(1 - this.random())) * Math.cos(2 * Math.PI * this.random());
    const sigma = Math.log(spec.p99 / spec.p50) / Z99;
    return Math.min(MAX_LATENCY_MS, spec.p50 * Math.exp(sigma * normal));
  }

  /** Counts of admitted and refused requests in [fromMs, toMs), of one client or (default) all. */
  counts(fromMs: number, toMs: number, client?: number): { ok: number; refused: number } {
    const sum = (table: number[][]): number => {
      let total = 0;
      const rows = client === undefined ? table : [table[client] ?? []];
      for (const row of rows) {
        for (let bin = Math.floor(fromMs / BIN_MS); bin < Math.ceil(toMs / BIN_MS); bin++) total += row[bin] ?? 0;
      }
      return total;
    };
    return { ok: sum(this.ok), refused: sum(this.refused) };
  }

  /** The most the server can admit in [0, endMs): its first burst, then each phase's rate for its time. */
  mostAdmitted(endMs: number): number {
    const { phases } = this.options;
    let most = phases[0]!.capacity;
    phases.forEach((phase, i) => {
      const until = Math.min(endMs, phases[i + 1]?.fromMs ?? endMs);
      most += (phase.rate * Math.max(0, until - phase.fromMs)) / 1000;
    });
    return most;
  }

  private isWindowed(): boolean {
    return this.options.limit === 'fixed-window';
  }

  private windowMs(): number {
    return this.options.windowMs ?? 1000;
  }

  private windowLimit(phase: LimitPhase): number {
    return Math.round((phase.rate * this.windowMs()) / 1000);
  }

  /** Refills up to `now`, crossing phase boundaries at their own instants. */
  private advance(now: number): void {
    const { phases } = this.options;
    while (this.phaseIndex + 1 < phases.length && phases[this.phaseIndex + 1]!.fromMs <= now) {
      const next = phases[this.phaseIndex + 1]!;
      this.refill(next.fromMs);
      this.phaseIndex++;
      this.tokens = Math.min(this.tokens, next.capacity);
    }
    this.refill(now);
    if (this.isWindowed() && now >= this.windowStart + this.windowMs()) {
      this.windowStart = Math.floor(now / this.windowMs()) * this.windowMs();
      this.windowUsed = 0;
    }
  }

  private refill(now: number): void {
    const phase = this.options.phases[this.phaseIndex]!;
    if (now > this.updatedAt) this.tokens = Math.min(phase.capacity, this.tokens + ((now - this.updatedAt) * phase.rate) / 1000);
    this.updatedAt = Math.max(this.updatedAt, now);
  }

  private count(table: number[][], client: number, now: number): void {
    const row = (table[client] ??= []);
    const bin = Math.floor(now / BIN_MS);
    row[bin] = (row[bin] ?? 0) + 1;
  }

  private headers(now: number, phase: LimitPhase, admitted: boolean): Record<string, string> {
    const { style } = this.options;
    const headers: Record<string, string> = {};
    // Until the next unit, and until the budget is whole again (the reset), in ms.
    let msToNext: number;
    let msToReset: number;
    let limit: number;
    let remaining: number;
    let windowSeconds: number;
    if (this.isWindowed()) {
      limit = this.windowLimit(phase);
      remaining = Math.max(0, limit - this.windowUsed);
      msToReset = this.windowStart + this.windowMs() - now;
      msToNext = remaining > 0 ? 0 : msToReset;
      windowSeconds = this.windowMs() / 1000;
    } else {
      limit = phase.capacity;
      remaining = Math.floor(this.tokens);
      msToReset = ((phase.capacity - this.tokens) / phase.rate) * 1000;
      msToNext = this.tokens >= 1 ? 0 : ((1 - this.tokens) / phase.rate) * 1000;
      windowSeconds = Math.max(1, Math.round(phase.capacity / phase.rate));
    }
    if (!admitted && style !== 'none') headers['retry-after'] = String(Math.max(1, Math.ceil(msToNext / 1000)));
    if (style === 'github') {
      headers['x-ratelimit-limit'] = String(limit);
      headers['x-ratelimit-remaining'] = String(remaining);
      headers['x-ratelimit-used'] = String(limit - remaining);
      headers['x-ratelimit-reset'] = String(Math.ceil((SIMULATED_EPOCH_MS + now + msToReset) / 1000));
      headers['x-ratelimit-resource'] = 'core';
    } else if (style === 'ietf') {
      headers['ratelimit-policy'] = `"default";q=${limit};w=${windowSeconds}`;
      headers['ratelimit'] = `"default";r=${remaining};t=${Math.ceil(msToReset / 1000)}`;
    }
    return headers;
  }
}

/** Jain's fairness index of shares: 1 when all are equal, 1/n when one takes everything. */
export function jainIndex(shares: readonly number[]): number {
  const sum = shares.reduce((total, share) => total + share, 0);
  const squares = shares.reduce((total, share) => total + share * share, 0);
  return squares === 0 ? 1 : (sum * sum) / (shares.length * squares);
}

/** Each phase's time to settle (ms, Infinity: never), judged as the demo judges it (examples/demo/targets). */
export function settleTimes(api: SimulatedApi, endMs: number): number[] {
  const bins = Array.from({ length: Math.ceil(endMs / BIN_MS) }, (_, bin) => api.counts(bin * BIN_MS, (bin + 1) * BIN_MS));
  return judgedSettleTimes({ binMs: BIN_MS, ok: bins.map((bin) => bin.ok), refused: bins.map((bin) => bin.refused) }, api.phases, endMs);
}

/** The figures of one run. */
export interface ScenarioFigures {
  /** Admitted ÷ the most the server admits in the run. */
  goodput: number;
  /** Refused ÷ all requests the server saw. */
  refusedShare: number;
  requests: number;
  refused: number;
  /** Per phase, ms until settled (Infinity: never). */
  settleMs: number[];
  /** 429s per phase. */
  refusedByPhase: number[];
  /** Jain's index of the clients' admitted counts. */
  fairness: number;
}

export function figuresOf(api: SimulatedApi, endMs: number, clients: number): ScenarioFigures {
  const { ok, refused } = api.counts(0, endMs);
  const { phases } = api;
  const perClient = Array.from({ length: clients }, (_, client) => api.counts(0, endMs, client).ok);
  return {
    goodput: ok / api.mostAdmitted(endMs),
    refusedShare: refused / Math.max(1, ok + refused),
    requests: ok + refused,
    refused,
    settleMs: settleTimes(api, endMs),
    refusedByPhase: phases.map((phase, i) => api.counts(phase.fromMs, Math.min(endMs, phases[i + 1]?.fromMs ?? endMs)).refused),
    fairness: jainIndex(perClient),
  };
}
