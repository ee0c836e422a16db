/**
 * `seq2seq eval` and `predict` decoding on the inference pool: this thread reads the model's settings and tokenizers
 * only, the pool's workers build the networks; decoding on this thread builds them here.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it, mock } from 'node:test';
import { seq2seqEval, seq2seqPredict } from '../src/cli/seq2seq.js';
import { makeOutput } from '../src/cli/output.js';
import { Functional } from '../src/models/functional.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
const root = mkdtempSync(join(tmpdir(), 'recur-s2s-pool-load-'));
after(() => rmSync(root, { recursive: true, force: true }));

const stems = ['cat', 'dog', 'bird', 'fish', 'tree'];
const words = stems.flatMap((a) => stems.map((b) => a + b));
const pairs = join(root, 'pairs.tsv');
writeFileSync(pairs, words.map((w) => `${w}\t${[...w].reverse().join('')}`).join('\n') + '\n');
const dir = join(root, 'model');
const trained = spawnSync(
  process.execPath,
  [CLI, 'seq2seq', 'train', pairs, '--out', dir, '--epochs', '1', '--units', '8', '--embedding-dim', '4'],
  { encoding: 'utf8', timeout: 120_000 },
);
assert.equal(trained.status, 0, trained.stderr);

/** Runs `fn` counting the networks this thread builds, with its stdout captured. */
async function onThisThread(fn: () => Promise<number>): Promise<{ builds: number; stdout: string }> {
  const build = mock.method(Functional.prototype, 'build');
  let stdout = '';
  const original = process.stdout.write.bind(process.stdout) as (chunk: Uint8Array) => boolean;
  const write = mock.method(process.stdout, 'write', (chunk: string | Uint8Array) => {
    // The test runner reports to its parent on stdout too, in bytes: those pass through.
    if (typeof chunk !== 'string') return original(chunk);
    stdout += chunk;
    return true;
  });
  try {
    assert.equal(await fn(), 0);
  } finally {
    write.mock.restore();
    build.mock.restore();
  }
  return { builds: build.mock.callCount(), stdout };
}

describe('seq2seq eval and predict on the pool', () => {
  const decode = { beam: 2, batchSize: 1, json: true };
  it('predict builds no network on this thread when the pool decodes', async () => {
    const predict = (threads: number) => () =>
      seq2seqPredict(dir, words.slice(0, 4), { ...decode, threads }, makeOutput({ json: true }));
    const pooled = await onThisThread(predict(2));
    assert.equal(pooled.builds, 0);
    const outputs = pooled.stdout.trim().split('\n');
    assert.deepEqual(
      outputs.map((l) => (JSON.parse(l) as { source: string }).source),
      words.slice(0, 4),
    );
    // The hook sees a build: on one thread the model is built here.
    assert.ok((await onThisThread(predict(1))).builds > 0);
  });

  it('eval builds no network on this thread when the pool decodes', async () => {
    const evaluate = (threads: number) => () =>
      seq2seqEval(
        dir,
        pairs,
        { ...decode, bleu: false, skipBad: false, threads },
        makeOutput({ quiet: true }),
        true,
      );
    const pooled = await onThisThread(evaluate(2));
    assert.equal(pooled.builds, 0);
    assert.equal((JSON.parse(pooled.stdout) as { n: number }).n, words.length);
    assert.ok((await onThisThread(evaluate(1))).builds > 0);
  });
});
