/**
 * The browser page (examples/browser) in real headless Chromium: built with vite's JS API into
 * examples/browser/dist, served from a loopback HTTP server, opened with `?check` (the
 * generated stream run once in virtual time). What the page computed is compared with the
 * schedule a token-bucket model written here computes from the same input (not the library's
 * arithmetic); the canvases must have drawn (pixels other than the background, emitted dots
 * among them); a screenshot is saved as examples/browser/dist/screenshot.png.
 *
 * Without Chromium (`CHROMIUM_PATH`, else /usr/bin/chromium) the test is skipped with a
 * message, except under `CI=true`, where it fails.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Browser } from 'puppeteer-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckResult } from '../../examples/browser/check';
import type { LaneName, Outcome } from '../../examples/browser/lanes';
import { generatedStream, KEY_LIMITS, LANE_LIMITS, MAX_QUEUE, USER_KEYS, type Arrival } from '../../examples/browser/scenario';

const pageDir = fileURLToPath(new URL('../../examples/browser/', import.meta.url));
const outDir = path.join(pageDir, 'dist');
const chromium = process.env['CHROMIUM_PATH'] || '/usr/bin/chromium';
const haveChromium = existsSync(chromium);
if (!haveChromium && process.env['CI'] === 'true') {
  throw new Error(
    `browser test cannot run: no Chromium at ${chromium}. CI must install the Debian package chromium (or set CHROMIUM_PATH).`,
  );
}
if (!haveChromium) console.warn(`\n!!!! BROWSER TEST SKIPPED: no Chromium at ${chromium}; install chromium or set CHROMIUM_PATH.\n`);

// ---- the reference model: a token bucket with continuous refill, written from its definition ----

interface Limits {
  readonly capacity: number;
  readonly refillRate: number;
  readonly interval: number;
}

/** What the model expects of one value, with how close its decision was (tokens minus cost; 0 would be a tie). */
type Expected = Outcome & { readonly margin: number };

/** Tokens held: full at 0, refilled linearly since `last`, never above capacity. */
class ModelBucket {
  private tokens: number;
  private last = 0;
  constructor(private readonly limits: Limits) {
    this.tokens = limits.capacity;
  }
  at(t: number): number {
    return Math.min(this.limits.capacity, this.tokens + ((t - this.last) * this.limits.refillRate) / this.limits.interval);
  }
  take(cost: number, t: number): void {
    this.tokens = this.at(t) - cost;
    this.last = t;
  }
  /** When `cost` is covered, waiting from `t`. */
  coveredAt(cost: number, t: number): number {
    const have = this.at(t);
    return have >= cost ? t : t + ((cost - have) * this.limits.interval) / this.limits.refillRate;
  }
}

/** 'delay': FIFO, each value at the first instant its cost is covered, not before the one ahead of it. */
function delaySchedule(arrivals: readonly Arrival[], limits: Limits): { outcomes: Expected[]; mostWaiting: number } {
  const bucket = new ModelBucket(limits);
  const outcomes: Expected[] = [];
  let previous = -Infinity;
  let mostWaiting = 0;
  for (const arrival of arrivals) {
    const waiting = outcomes.filter((outcome) => outcome.at > arrival.at).length;
    mostWaiting = Math.max(mostWaiting, waiting);
    const from = Math.max(arrival.at, previous);
    const at = bucket.coveredAt(arrival.cost, from);
    // A wait only counts as a close call when the value was not queued behind another.
    const margin = at === arrival.at ? bucket.at(arrival.at) - arrival.cost : Infinity;
    bucket.take(arrival.cost, at);
    previous = at;
    outcomes.push({ id: arrival.id, kind: 'emitted', at, margin });
  }
  return { outcomes, mostWaiting };
}

/** 'drop' / 'error': the value passes at arrival if its cost is there, otherwise it is refused then. */
function refuseSchedule(arrivals: readonly Arrival[], limits: Limits, refused: 'dropped' | 'rejected'): Expected[] {
  const bucket = new ModelBucket(limits);
  return arrivals.map((arrival) => {
    const margin = bucket.at(arrival.at) - arrival.cost;
    if (margin < 0) return { id: arrival.id, kind: refused, at: arrival.at, margin };
    bucket.take(arrival.cost, arrival.at);
    return { id: arrival.id, kind: 'emitted', at: arrival.at, margin };
  });
}

function expectedSchedule(arrivals: readonly Arrival[]): { lanes: Record<LaneName, Expected[]>; mostWaiting: number } {
  const delay = delaySchedule(arrivals, LANE_LIMITS);
  let mostWaiting = delay.mostWaiting;
  const perKey: Expected[] = [];
  for (const key of USER_KEYS) {
    const own = delaySchedule(
      arrivals.filter((arrival) => arrival.key === key),
      KEY_LIMITS,
    );
    mostWaiting = Math.max(mostWaiting, own.mostWaiting);
    perKey.push(...own.outcomes);
  }
  return {
    lanes: {
      delay: delay.outcomes,
      drop: refuseSchedule(arrivals, LANE_LIMITS, 'dropped'),
      reject: refuseSchedule(arrivals, LANE_LIMITS, 'rejected'),
      perKey,
    },
    mostWaiting,
  };
}

// ---- serving the build ----

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.png': 'image/png' };

function serve(root: string): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    const pathname = new URL(request.url ?? '/', 'http://localhost').pathname;
    const file = path.join(root, pathname === '/' ? 'index.html' : pathname);
    if (!file.startsWith(root) || !existsSync(file)) {
      response.writeHead(404).end('not found');
      return;
    }
    response.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve({ server, url: `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/` });
    });
  });
}

describe.skipIf(!haveChromium)(`the browser page in headless Chromium${haveChromium ? '' : ' [SKIPPED: no Chromium]'}`, () => {
  let browser: Browser | undefined;
  let server: Server | undefined;
  let url = '';

  beforeAll(async () => {
    await build({ configFile: path.join(pageDir, 'vite.config.ts'), logLevel: 'warn' });
    ({ server, url } = await serve(outDir));
    browser = await puppeteer.launch({ executablePath: chromium, headless: true, args: ['--no-sandbox', '--headless=new'] });
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
  });

  it('computes the schedule the model expects, draws it, and is saved as a screenshot', async () => {
    const page = await browser!.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(String(error)));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    await page.setViewport({ width: 1280, height: 900 });
    await page.goto(`${url}?check`, { waitUntil: 'load' });
    await page.waitForFunction(() => window.__rtbCheck !== undefined, { timeout: 10_000 });
    const result = (await page.evaluate(() => window.__rtbCheck)) as CheckResult;
    expect(problems).toEqual([]);

    const arrivals = generatedStream();
    expect(result.arrivals).toEqual(arrivals);
    const expected = expectedSchedule(arrivals);
    // The model ignores maxQueue: the stream must never reach it.
    expect(expected.mostWaiting).toBeLessThan(MAX_QUEUE);
    for (const lane of ['delay', 'drop', 'reject', 'perKey'] as const) {
      const closeCalls = expected.lanes[lane].filter((outcome) => Math.abs(outcome.margin) < 1e-6);
      expect(closeCalls, `${lane}: a decision within float noise of a tie; change the scenario's seed`).toEqual([]);
      const byId = new Map(result.outcomes[lane].map((outcome) => [outcome.id, outcome]));
      expect(byId.size, `${lane}: one outcome per value`).toBe(result.outcomes[lane].length);
      for (const want of expected.lanes[lane]) {
        const got = byId.get(want.id);
        expect(got?.kind, `${lane} value ${want.id}`).toBe(want.kind);
        expect(got!.at, `${lane} value ${want.id} at`).toBeCloseTo(want.at, 3);
      }
      expect(byId.size).toBe(arrivals.length);
    }
    // The scenario shows what each strategy does: values wait, are dropped, are rejected.
    expect(expected.lanes.delay.some((outcome, i) => outcome.at > arrivals[i]!.at)).toBe(true);
    expect(expected.lanes.drop.some((outcome) => outcome.kind === 'dropped')).toBe(true);
    expect(expected.lanes.reject.some((outcome) => outcome.kind === 'rejected')).toBe(true);

    const drawn = await page.evaluate(() =>
      Array.from(document.querySelectorAll('canvas')).map((canvas) => {
        const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
        let painted = 0;
        let green = 0;
        for (let i = 0; i < data.length; i += 4) {
          const [r, g, b] = [data[i]!, data[i + 1]!, data[i + 2]!];
          if (Math.abs(r - 0x0f) + Math.abs(g - 0x17) + Math.abs(b - 0x20) > 24) painted++;
          if (Math.abs(r - 0x3f) + Math.abs(g - 0xbf) + Math.abs(b - 0x6f) < 30) green++;
        }
        return { id: canvas.id, share: painted / (data.length / 4), green };
      }),
    );
    expect(drawn.map((canvas) => canvas.id)).toEqual(['lane-delay', 'lane-drop', 'lane-reject', 'lane-perKey']);
    for (const canvas of drawn) {
      expect(canvas.share, `${canvas.id} drew`).toBeGreaterThan(0.02);
      expect(canvas.green, `${canvas.id} drew emitted values`).toBeGreaterThan(50);
    }

    const screenshot = path.join(outDir, 'screenshot.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    expect(readFileSync(screenshot).subarray(1, 4).toString()).toBe('PNG');
    await page.close();
  }, 20_000);

  it('runs live without errors: the generated stream arrives, a click sends a burst', async () => {
    const page = await browser!.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(String(error)));
    await page.goto(url, { waitUntil: 'load' });
    const arrived = (): Promise<number> =>
      page.$eval('#counts-delay', (element) => Number(/arrived (\d+)/.exec(element.textContent ?? '')?.[1] ?? NaN));
    // The stream's first value is due 100 ms in; no timing is asserted beyond "it comes".
    await page.waitForFunction(() => /arrived [1-9]/.test(document.getElementById('counts-delay')?.textContent ?? ''), {
      timeout: 5_000,
    });
    await page.click('#auto'); // the generated stream off, so the count moves only by the click
    const before = await arrived();
    await page.click('#send-burst');
    await page.waitForFunction(
      (count) => new RegExp(`arrived ${count}\\b`).test(document.getElementById('counts-delay')?.textContent ?? ''),
      { timeout: 5_000 },
      before + 5,
    );
    expect(problems).toEqual([]);
    await page.close();
  }, 15_000);
});
