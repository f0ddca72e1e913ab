// The typed example client: examples/generated must match what codegen.ts produces from
// schema/ today, and the example must run against a real node. Type errors in examples/ are
// caught by the typecheck, which includes examples/ (tsconfig.json).
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { generate } from '@graphql-codegen/cli';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import codegenConfig from '../../codegen.js';
import { EXAMPLE_SPACE, main } from '../../examples/client.js';
import { Harness, repoRoot, type TestNode } from '../support/node.js';

const generatedDir = resolve(repoRoot, 'examples/generated');
const STALE_HINT = 'examples/generated is out of date with schema/ or the documents in examples/: run npm run codegen';

describe('typed example client', () => {
  const harness = new Harness();
  let node: TestNode;

  beforeAll(async () => {
    node = await harness.startNode();
  });
  afterAll(() => harness.cleanup());

  it('generatedClient_isUpToDateWithTheSchema', async () => {
    // saveToFile = false: outputs come back in memory and nothing is written into the repo.
    const outputs = (await generate({ ...codegenConfig, cwd: repoRoot, silent: true }, false)) as { filename: string; content: string }[];
    const generated = new Map(outputs.map((o) => [relative(generatedDir, resolve(repoRoot, o.filename)), o.content]));
    expect(generated.size, 'codegen produced no files').toBeGreaterThan(0);

    const committed = existsSync(generatedDir) ? readdirSync(generatedDir).sort() : [];
    expect(committed, `${STALE_HINT} (file set differs)`).toEqual([...generated.keys()].sort());
    for (const [file, content] of generated) {
      expect(readFileSync(resolve(generatedDir, file), 'utf8') === content, `${STALE_HINT} (${file} differs)`).toBe(true);
    }
  });

  it('exampleClient_compilesAndRunsAgainstALiveServer', async () => {
    const lines: string[] = [];
    const result = await main(node.url, (line) => lines.push(line));

    expect(result.space).toMatchObject({ id: EXAMPLE_SPACE, dimension: 4 });
    // DateTime maps to string because the server sends ISO 8601 text.
    expectTypeOf(result.space.createdAt).toEqualTypeOf<string>();
    expect(result.space.createdAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(result.remembered.map((r) => r.id)).toEqual(['espresso', 'standup', 'freeze']);

    expectTypeOf(result.byEmbedding.memories[0]!.memory.content).toEqualTypeOf<string | null>();
    expect(result.byEmbedding.partial).toBe(false);
    expect(result.byEmbedding.memories[0]?.memory).toEqual({ id: 'espresso', content: 'The espresso machine is on the third floor' });
    const top = result.byEmbedding.memories[0]!.confidence;
    expect(top.lower).toBeLessThanOrEqual(top.point);
    expect(top.point).toBeLessThanOrEqual(top.upper);
    expect(result.byText.memories[0]?.memory.id).toBe('standup');
    expect(lines.some((line) => line.includes('espresso'))).toBe(true);

    // The documented command line: run directly it must find main and exit 0.
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'examples/client.ts', node.url], { cwd: repoRoot, timeout: 30_000 });
    expect(stdout).toContain('recall by text');
    expect(stdout).toContain('Standup moves to 9:30 on Tuesdays');
  });
});
