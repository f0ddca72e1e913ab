// Second half of the npm test sweep of whole-cluster simulation seeds (see clusterSweep.ts).
import { describe } from 'vitest';
import { sweep } from './clusterSweep.js';

describe('whole-cluster simulation sweep, second half', () => sweep(1101, 30));
