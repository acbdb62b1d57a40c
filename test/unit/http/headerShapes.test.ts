import { once } from 'node:events';
import { createServer, get, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRateLimitHeaders, parseRateLimitHeadersDetailed } from '../../../src/http/parseRateLimitHeaders';

const NOW = Date.UTC(2025, 7, 21, 12, 41, 0);
const GITHUB = { name: 'x-ratelimit', limit: 60, remaining: 7, resetAfter: 30_000, refill: 'at-reset' };

describe('each headers-like shape gives the same answer', () => {
  const reset = String(NOW / 1000 + 30);

  it('fetch Headers (read with .get / forEach, names case-insensitive)', () => {
    const headers = new Headers({ 'X-RateLimit-Limit': '60', 'x-ratelimit-remaining': '7', 'X-RATELIMIT-RESET': reset });
    expect(parseRateLimitHeaders(headers, NOW)).toEqual(GITHUB);
  });

  it('a fetch Response’s headers, with a repeated field joined by ", "', () => {
    const headers = new Headers([
      ['x-ratelimit-limit', '60'],
      ['x-ratelimit-remaining', '9'],
      ['x-ratelimit-remaining', '7'],
      ['x-ratelimit-reset', reset],
    ]);
    expect(headers.get('x-ratelimit-remaining')).toBe('9, 7');
    expect(parseRateLimitHeaders(new Response(null, { headers }).headers, NOW)).toEqual(GITHUB);
  });

  it("Node's IncomingHttpHeaders: lower-case keys, string[] for repeated fields", () => {
    const headers = { 'x-ratelimit-limit': '60', 'x-ratelimit-remaining': ['7', '7'], 'x-ratelimit-reset': reset, 'set-cookie': ['a=b'] };
    expect(parseRateLimitHeaders(headers, NOW)).toEqual(GITHUB);
  });

  it('a Map, any key case', () => {
    const headers = new Map<string, string | string[]>([
      ['X-RateLimit-Limit', '60'],
      ['X-Ratelimit-Remaining', ['7']],
      ['x-ratelimit-reset', reset],
    ]);
    expect(parseRateLimitHeaders(headers, NOW)).toEqual(GITHUB);
  });

  it('a plain object with mixed key case and number values (as some SDKs give them)', () => {
    expect(parseRateLimitHeaders({ 'X-RateLimit-Limit': 60, 'X-RATELIMIT-REMAINING': 7, 'x-RateLimit-Reset': reset }, NOW)).toEqual(GITHUB);
  });

  it('the same header under two key cases in one object counts as repeated', () => {
    const detailed = parseRateLimitHeadersDetailed({ 'X-RateLimit-Remaining': '9', 'x-ratelimit-remaining': '7' }, NOW);
    expect(detailed.info?.remaining).toBe(7);
    expect(detailed.problems).toHaveLength(1);
  });

  it('[name, value] pairs', () => {
    const pairs = [
      ['X-RateLimit-Limit', '60'],
      ['X-RateLimit-Remaining', '7'],
      ['X-RateLimit-Reset', reset],
    ] as const;
    expect(parseRateLimitHeaders(pairs, NOW)).toEqual(GITHUB);
  });

  it('a get-only headers class with no enumerable fields is asked for the names it knows', () => {
    const values = new Map([
      ['x-ratelimit-limit', '60'],
      ['x-ratelimit-remaining', '7'],
      ['x-ratelimit-reset', reset],
    ]);
    class GetOnlyHeaders {
      get(name: string): string | null {
        return values.get(name.toLowerCase()) ?? null;
      }
    }
    expect(parseRateLimitHeaders(new GetOnlyHeaders() as unknown as Record<string, unknown>, NOW)).toEqual(GITHUB);
  });

  it('values that are neither strings nor numbers are reported and skipped', () => {
    const detailed = parseRateLimitHeadersDetailed(
      { 'x-ratelimit-limit': { value: 60 }, 'x-ratelimit-remaining': true, 'retry-after': Number.NaN, 'x-other': {} },
      NOW,
    );
    expect(detailed.info).toBeUndefined();
    expect(detailed.problems.map((problem) => problem.header).sort()).toEqual([
      'retry-after',
      'x-ratelimit-limit',
      'x-ratelimit-remaining',
    ]);
  });

  it('not a headers object at all: undefined, never a throw', () => {
    for (const junk of [undefined, null, 42, 'x-ratelimit-limit: 5', Symbol('h')]) {
      expect(() => parseRateLimitHeadersDetailed(junk as never, NOW)).not.toThrow();
      expect(parseRateLimitHeaders(junk as never, NOW)).toBeUndefined();
    }
  });

  it('a hostile object whose getters throw: reported, never a throw', () => {
    const hostile = new Proxy(
      {},
      {
        ownKeys: () => {
          throw new Error('boom');
        },
      },
    );
    const detailed = parseRateLimitHeadersDetailed(hostile, NOW);
    expect(detailed.info).toBeUndefined();
    expect(detailed.problems[0]?.issue).toContain('boom');
  });
});

describe('a response passed instead of its headers: its `headers` are read', () => {
  const reset = String(NOW / 1000 + 30);
  const fields = { 'x-ratelimit-limit': '60', 'x-ratelimit-remaining': '7', 'x-ratelimit-reset': reset };

  it('a fetch Response (headers behind a prototype getter)', () => {
    const response = new Response(null, { status: 429, headers: fields });
    expect(Object.keys(response)).toEqual([]); // nothing of its own to read as headers
    expect(parseRateLimitHeaders(response, NOW)).toEqual(GITHUB);
    expect(parseRateLimitHeadersDetailed(response, NOW).problems).toEqual([]);
  });

  it('a plain response object (axios, undici request, got) with a record, a Map or a Headers inside', () => {
    expect(parseRateLimitHeaders({ status: 200, data: {}, headers: fields }, NOW)).toEqual(GITHUB);
    expect(parseRateLimitHeaders({ statusCode: 429, headers: new Map(Object.entries(fields)) }, NOW)).toEqual(GITHUB);
    expect(parseRateLimitHeaders({ headers: new Headers(fields) }, NOW)).toEqual(GITHUB);
  });

  it('a header that is itself named "headers" (a string or field lines) is still a header', () => {
    expect(parseRateLimitHeaders({ ...fields, headers: 'x' }, NOW)).toEqual(GITHUB);
    expect(parseRateLimitHeaders({ ...fields, headers: ['x', 'y'] }, NOW)).toEqual(GITHUB);
  });

  it('a Headers or Map holding a "headers" field is read as headers, not unwrapped', () => {
    expect(parseRateLimitHeaders(new Headers({ ...fields, headers: 'x' }), NOW)).toEqual(GITHUB);
    expect(parseRateLimitHeaders(new Map(Object.entries({ ...fields, headers: 'x' })), NOW)).toEqual(GITHUB);
  });
});

describe('headers from a real HTTP response on loopback', () => {
  let server: Server;
  let origin: string;

  beforeAll(async () => {
    server = createServer((_request, response) => {
      // Node adds the Date header itself; the reset is 30 s after the second it names.
      const serverSecond = Math.floor(Date.now() / 1000);
      response.sendDate = false;
      response.setHeader('Date', new Date(serverSecond * 1000).toUTCString());
      response.setHeader('X-RateLimit-Limit', '60');
      response.setHeader('X-RateLimit-Remaining', ['9', '7']); // two fields, as behind a proxy
      response.setHeader('X-RateLimit-Reset', String(serverSecond + 30));
      response.setHeader('RateLimit-Policy', ['"burst";q=100;w=60', '"daily";q=1000;w=86400']);
      response.setHeader('RateLimit', '"burst";r=40;t=12');
      response.end('ok');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.close();
    await once(server, 'close');
  });

  function expectParsed(headers: Parameters<typeof parseRateLimitHeaders>[0]): void {
    // A client clock ten minutes fast: the Date header keeps the epoch reset right.
    const info = parseRateLimitHeaders(headers, Date.now() + 600_000);
    expect(info?.budgets?.map((budget) => budget.name)).toEqual(['burst', 'daily', 'x-ratelimit']);
    const github = info?.budgets?.find((budget) => budget.name === 'x-ratelimit');
    expect(github).toEqual({ name: 'x-ratelimit', limit: 60, remaining: 7, resetAfter: 30_000, refill: 'at-reset' });
    expect(info).toMatchObject({ name: 'x-ratelimit', remaining: 7 }); // 7/60 left beats 40/100
  }

  it('fetch (undici Headers), from the headers or from the Response itself', async () => {
    const response = await fetch(origin);
    await response.text();
    expectParsed(response.headers);
    expectParsed(response);
  });

  it('node:http IncomingMessage.headers (joined) and .headersDistinct (arrays)', async () => {
    const message = await new Promise<IncomingMessage>((resolve, reject) => get(origin, resolve).on('error', reject));
    message.resume();
    await once(message, 'end');
    expect(message.headers['x-ratelimit-remaining']).toBe('9, 7');
    expectParsed(message.headers);
    expectParsed(message);
    expect(message.headersDistinct['x-ratelimit-remaining']).toEqual(['9', '7']);
    expectParsed(message.headersDistinct);
  });
});
