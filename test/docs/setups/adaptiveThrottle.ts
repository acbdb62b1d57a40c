import { map, of, pipe, timer } from 'rxjs';
import { adaptiveThrottle } from '../../../src/operators/adaptiveThrottle';
import type { DiagramSetup } from '../diagramSetup';

/** The fake server: every request answered 2 ms later, its headers stating a limit of 1 per 2 ms. */
const request = (letter: string) => timer(2).pipe(map(() => ({ status: 200, letter, headers: { 'RateLimit-Policy': '1;w=0.002' } })));

const setups: DiagramSetup[] = [
  {
    header: 'server: 1 per 2 ms in RateLimit-Policy, answers after 2 ms; start guess 1 per 4 ms, safetyFactor 1',
    operator: () =>
      pipe(
        adaptiveThrottle(request, { bucket: { capacity: 1, refillRate: 1, interval: 4 }, safetyFactor: 1 }),
        map((response) => response.letter),
      ),
  },
];
export default setups;

/**
 * The `actualCost` diagram (a named export: the default export's diagram is also checked word
 * for word by test/marbles/adaptiveThrottle.test.ts). Each answer, at once, reports 3 tokens used.
 */
export const actualCostDiagram: DiagramSetup = {
  header: 'adapt: false, capacity 3, refill 1 token / ms; each request takes 1 up front, actualCost 3; instant answers',
  operator: () =>
    pipe(
      adaptiveThrottle((letter: string) => of({ letter, usage: 3 }), {
        bucket: { capacity: 3, refillRate: 1, interval: 1 },
        cost: 1,
        actualCost: (answer) => answer.usage,
        adapt: false,
      }),
      map((answer) => answer.letter),
    ),
};
