// Command-line flags shared by every entry point (server, benchmarks, load runner,
// simulations): `--name value` and `--name=value`, walked in order.

/** Calls `handle` for each argument; `value()` takes the flag's value (inline, or the next argument). */
export function walkFlags(argv: readonly string[], handle: (flag: string, value: () => string | undefined, argument: string) => void): void {
  for (let i = 0; i < argv.length; i++) {
    const argument = argv[i]!;
    const [flag, inline] = argument.split(/=(.*)/s, 2) as [string, string | undefined];
    handle(flag, () => inline ?? argv[++i], argument);
  }
}

/** A finite number above zero, or an error naming the flag and the usage. */
export function positiveNumber(flag: string, raw: string | undefined, usage: string): number {
  const value = Number(raw);
  if (raw === undefined || raw.trim() === '' || !Number.isFinite(value) || value <= 0) throw new Error(`${flag} needs a positive number\n${usage}`);
  return value;
}

/** A finite number, or an error naming the flag and the usage. */
export function numberFlag(flag: string, raw: string | undefined, usage: string): number {
  const value = Number(raw);
  if (raw === undefined || raw.trim() === '' || !Number.isFinite(value)) throw new Error(`${flag} needs a number\n${usage}`);
  return value;
}

/** One of `choices`, or an error listing them. */
export function choiceFlag<T extends string>(flag: string, raw: string | undefined, choices: readonly T[]): T {
  if (!choices.includes(raw as T)) throw new Error(`${flag} must be one of ${choices.join(', ')}`);
  return raw as T;
}
