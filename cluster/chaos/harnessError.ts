// A chaos run that could not judge the cluster: a process did not start, the route mesh
// bypassed the proxies, the run was interrupted. It is not a verdict on Engram, so the
// command exits 2 for it rather than 1. Kept here rather than in src/errors.ts so that
// cluster/ depends on src/ only where it drives a node (cluster/check does the same).

export class ChaosHarnessError extends Error {
  override readonly name = 'ChaosHarnessError';

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
  }
}
