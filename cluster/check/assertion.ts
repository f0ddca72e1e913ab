// Invariant checks for the history recorder. A misuse (completing an operation twice, time
// running backwards) means the harness that records is wrong, and a wrong history makes
// every verdict worthless, so it crashes the simulation or the test loudly. Kept local
// rather than imported from src/errors.ts so that cluster/check depends on nothing outside
// cluster/ (the architecture review lists such crossings as debts to pay off).

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`Assertion failed: ${message}`);
}
