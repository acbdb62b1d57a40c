/**
 * The work of a run, reproducible from a seed: prompts of 400–2400 characters, each asking
 * for at most 100–400 tokens; and what the "model" does with one — the server's token count
 * of a prompt and the length of the completion it generates, which the client cannot know
 * before the answer.
 */

import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { mersenne } from 'pure-rand/generator/mersenne';

/** Floats in [0, 1), the same sequence for the same seed (pure-rand's Mersenne Twister). */
export function random(seed: number): () => number {
  const generator = mersenne(seed);
  return () => uniformFloat64(generator);
}

export interface Prompt {
  readonly id: number;
  readonly text: string;
  readonly maxTokens: number;
}

const WORDS = [
  'rate',
  'limit',
  'token',
  'bucket',
  'budget',
  'minute',
  'request',
  'answer',
  'stream',
  'model',
  'summarise',
  'the',
  'of',
  'a',
];

/** `count` prompts of 400–2400 characters asking for 100–400 tokens each. */
export function makePrompts(count: number, seed: number): Prompt[] {
  const next = random(seed);
  return Array.from({ length: count }, (_, id) => {
    const length = 400 + Math.floor(next() * 2000);
    let text = `Prompt ${id}:`;
    while (text.length < length) text += ` ${WORDS[Math.floor(next() * WORDS.length)]}`;
    return { id, text: text.slice(0, length), maxTokens: 100 + Math.floor(next() * 301) };
  });
}

/**
 * The server's tokenizer: a token per 3.6 characters, plus 7 for the message's framing. Not
 * what the client assumes (4 characters a token): its estimates are off from the start.
 */
export function serverPromptTokens(text: string): number {
  return Math.ceil(text.length / 3.6) + 7;
}

/** Tokens the "model" generates for call `id`: 15–100 % of `maxTokens`, drawn from the seed and the id. */
export function completionTokens(seed: number, id: number, maxTokens: number): number {
  const share = 0.15 + 0.85 * random(seed * 7919 + id * 104_729 + 1)();
  return Math.max(1, Math.round(maxTokens * share));
}

/** The fewest tokens any call can really use: a 400-character prompt and 15 % of 100 tokens. */
export const FEWEST_TOKENS_PER_CALL = serverPromptTokens('x'.repeat(400)) + Math.round(100 * 0.15);
