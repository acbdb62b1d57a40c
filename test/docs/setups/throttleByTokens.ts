import { throttleByTokens } from '../../../src/operators/throttleByTokens';
import type { DiagramSetup } from '../diagramSetup';

/** The diagram of `throttleByTokens`' doc comment (src/operators/throttleByTokens.ts). */
const setups: DiagramSetup[] = [
  {
    header: 'capacity 3, refill 1 token / 10 ms, cost 1',
    operator: () => throttleByTokens({ capacity: 3, refillRate: 1, interval: 10 }),
  },
];
export default setups;
