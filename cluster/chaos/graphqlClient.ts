// The chaos run's client: GraphQL over real HTTP, with a timeout, and an answer sorted by
// what it says about the operation's fate. A refused connection sent nothing, so the
// operation certainly did not happen; a timeout or a connection lost mid-request may have
// reached the node, so its fate is unknown; an error response carries the GraphQL code.

/** What one request came to. */
export type CallOutcome<T> =
  | { kind: 'ok'; data: T }
  | { kind: 'error'; code: string; message: string }
  | { kind: 'refused'; message: string }
  | { kind: 'unknown'; message: string };

interface GraphqlBody<T> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string }; path?: (string | number)[] }[];
}

/** Answer with per-field errors kept, for batched reads where some aliases may fail. */
export interface PartialAnswer<T> {
  data: T | null;
  /** Top-level field (alias) -> error code of the errors on it. */
  fieldErrors: Map<string, string>;
  /** Errors not tied to one field. */
  errors: string[];
}

export async function callGraphql<T>(url: string, query: string, variables: Record<string, unknown>, timeoutMs: number): Promise<CallOutcome<T>> {
  const answer = await post<T>(url, query, variables, timeoutMs);
  if ('kind' in answer) return answer;
  const first = answer.body.errors?.[0];
  if (first !== undefined) return { kind: 'error', code: first.extensions?.code ?? 'UNKNOWN', message: first.message };
  if (answer.body.data == null) return { kind: 'unknown', message: `no data in a ${answer.status} response` };
  return { kind: 'ok', data: answer.body.data };
}

/** Like callGraphql, but a response with data and errors on some fields is an answer, not an error. */
export async function callGraphqlPartial<T>(url: string, query: string, variables: Record<string, unknown>, timeoutMs: number): Promise<PartialAnswer<T> | { kind: 'refused' | 'unknown'; message: string }> {
  const answer = await post<T>(url, query, variables, timeoutMs);
  if ('kind' in answer) return answer;
  const fieldErrors = new Map<string, string>();
  const errors: string[] = [];
  for (const error of answer.body.errors ?? []) {
    const field = error.path?.[0];
    if (typeof field === 'string') fieldErrors.set(field, error.extensions?.code ?? 'UNKNOWN');
    else errors.push(`${error.extensions?.code ?? 'UNKNOWN'}: ${error.message}`);
  }
  return { data: answer.body.data ?? null, fieldErrors, errors };
}

async function post<T>(url: string, query: string, variables: Record<string, unknown>, timeoutMs: number): Promise<{ status: number; body: GraphqlBody<T> } | { kind: 'refused' | 'unknown'; message: string }> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    return failure(error);
  }
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    return { kind: 'unknown', message: `the response was cut off: ${describe(error)}` };
  }
  try {
    return { status: response.status, body: JSON.parse(text) as GraphqlBody<T> };
  } catch {
    return { kind: 'unknown', message: `a non-JSON ${response.status} response: ${text.slice(0, 200)}` };
  }
}

/** A request that failed before an answer: refused when nothing can have reached the node. */
function failure(error: unknown): { kind: 'refused' | 'unknown'; message: string } {
  const code = causeCode(error);
  if (code === 'ECONNREFUSED') return { kind: 'refused', message: 'connection refused' };
  return { kind: 'unknown', message: describe(error) };
}

function causeCode(error: unknown): string | undefined {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 4; current = current.cause, depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('E')) return code;
  }
  return undefined;
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.name === 'TimeoutError') return 'timed out';
  const code = causeCode(error);
  return code === undefined ? error.message : `${error.message} (${code})`;
}
