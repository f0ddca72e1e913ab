// k6 has a global console, which @types/k6 does not declare and lib es2020 lacks. Kept out of
// load/*.ts on purpose: the root tsconfig.json (Node types) includes that glob.
declare var console: {
  log(...data: unknown[]): void;
  info(...data: unknown[]): void;
  warn(...data: unknown[]): void;
  error(...data: unknown[]): void;
  debug(...data: unknown[]): void;
};
