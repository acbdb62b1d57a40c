import { map, pipe, timer } from 'rxjs';
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
