// Shared assertion for code that must reject input with a BadInputError.
import { expect } from 'vitest';

export type BadInput = Error & { code: string; details: Record<string, unknown> };

/** Runs `fn`, expects it to throw a BadInputError (code BAD_USER_INPUT), and returns the error. */
export function expectBadInput(fn: () => unknown): BadInput {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected a BadInputError').toBeInstanceOf(Error);
  expect((caught as { code?: string }).code).toBe('BAD_USER_INPUT');
  expect((caught as Error).name).toBe('BadInputError');
  return caught as BadInput;
}
