import { perKey } from '../../../src/operators/perKey';
import type { DiagramSetup } from '../diagramSetup';

/** The diagram of `perKey`'s doc comment (src/operators/perKey.ts). */
const setups: DiagramSetup[] = [
  {
    header: 'keyOf = the letter, case ignored (a and A share key a); every key: capacity 1, refill 1 token / 10 ms',
    operator: () => perKey((letter: string) => letter.toLowerCase(), { capacity: 1, refillRate: 1, interval: 10 }),
  },
];
export default setups;
