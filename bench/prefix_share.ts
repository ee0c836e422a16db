/**
 * `node dist/bench/prefix_share.js TEXT [--threads N] [--batch N]` — how many steps the shared-prefix forward
 * (src/models/prefix_steps.ts) takes when `recur evaluate` scores TEXT with the Keras recipe's windows (40 characters
 * every 3): each batch of windows (sorted alike-together, as evaluate serves them, or in text order) cut into the
 * pool's shards as the worker pool cuts it, against N·T for the sequence forward.
 */
import { readFileSync } from 'node:fs';
import type { IndexTensor } from '../src/core/tensor.js';
import { prefixStepRows } from '../src/models/prefix_steps.js';
import { TextCorpus } from '../src/text/corpus.js';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: node dist/bench/prefix_share.js TEXT [--threads N] [--batch N]\n');
  process.exit(2);
}
const args = new Map<string, string>();
for (let i = 3; i < process.argv.length; i += 2)
  args.set(process.argv[i].replace(/^--/, ''), process.argv[i + 1]);
const threads = Number(args.get('threads') ?? 2);
const batchSize = Number(args.get('batch') ?? 512);
const maxlen = 40;
const corpus = TextCorpus.fromText(readFileSync(file, 'utf8'));
for (const alikeTogether of [false, true]) {
  const data = corpus.windows({ maxlen, step: 3, batchSize, shuffle: false, alikeTogether });
  let stepped = 0;
  let all = 0;
  for (const { xs } of data.batches(0) as Iterable<{ xs: IndexTensor }>) {
    const N = xs.shape[0];
    // The pool's shards (src/parallel/pool.ts shardBounds): contiguous runs of rows, as even as they come.
    for (let w = 0; w < threads; w++) {
      const from = Math.round((N * w) / threads);
      const to = Math.round((N * (w + 1)) / threads);
      if (to > from) stepped += prefixStepRows(xs.sliceRows(from, to) as IndexTensor);
    }
    all += N * maxlen;
  }
  console.log(
    `${alikeTogether ? 'alike together' : 'text order   '}: ${data.samplesPerEpoch} windows, steps taken ${(stepped / all).toFixed(3)} of N·T ` +
      `(batches of ${batchSize}, ${threads} shard${threads > 1 ? 's' : ''} each)`,
  );
}
