/**
 * `node dist/bench/ab.js OLD_ROOT NEW_ROOT [rounds]` — an A/B of two builds of recur on this machine, for changes that
 * must not lose speed. Each round runs one child process per build, alternating A and B so that the VM's drift hits
 * both alike; every child measures the seed recipe's training samples/s (LSTM(128) → Dense softmax, RMSprop, batch
 * 128, 40-char windows; 2 threads) and stateful generation chars/s, through the public API only (`recur`,
 * `recur/node` from each root's dist/), so any two commits compare. Prints medians and the ratio new/old.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

interface Probe {
  trainSamplesPerSec: number;
  generateCharsPerSec: number;
}

const SHERLOCK = resolve('..', 'shared', 'data', 'sherlock.txt');

/** The child: measures one build. */
async function probe(root: string): Promise<Probe> {
  const lib = (await import(
    pathToFileURL(join(root, 'dist/src/index.js')).href
  )) as typeof import('../src/index.js');
  const node = (await import(
    pathToFileURL(join(root, 'dist/src/node/index.js')).href
  )) as typeof import('../src/node/index.js');
  const text = existsSync(SHERLOCK) ? node.readTextFile(SHERLOCK) : node.mobyDick();
  const corpus = lib.TextCorpus.fromText(text);
  const V = corpus.vocabulary.size;
  const batches = [
    ...corpus.windows({ maxlen: 40, step: 3, batchSize: 128, seed: 1, maxBatches: 30 }).batches(0),
  ];
  const model = lib.sequential({ seed: 1 });
  model.add(lib.layers.lstm({ units: 128, inputShape: [40, V] }));
  model.add(lib.layers.dense({ units: V, activation: 'softmax' }));
  model.compile({ optimizer: new lib.RMSprop({ learningRate: 0.01 }), loss: 'categoricalCrossentropy' });
  model.threads = 2;
  const data = (n: number) => ({
    batchesPerEpoch: n,
    *batches() {
      for (let i = 0; i < n; i++) yield batches[i % batches.length];
    },
  });
  await model.fitDataset(data(3), { epochs: 1 }); // warm-up: workers started, code tiered up
  const t0 = performance.now();
  await model.fitDataset(data(30), { epochs: 1 });
  const trainSamplesPerSec = (30 * 128) / ((performance.now() - t0) / 1000);

  const gen = new lib.TextGenerator(model, corpus.vocabulary, true);
  const prime = corpus.windowText(0, 40, 3);
  gen.generate({ prime, length: 5000, temperature: 0.5, seed: 1 });
  const t1 = performance.now();
  gen.generate({ prime, length: 50_000, temperature: 0.5, seed: 1 });
  const generateCharsPerSec = 50_000 / ((performance.now() - t1) / 1000);
  await node.shutdownWorkerPool();
  return { trainSamplesPerSec, generateCharsPerSec };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  if (process.argv[2] === '--probe') {
    process.stdout.write(JSON.stringify(await probe(resolve(process.argv[3]))) + '\n');
    return;
  }
  const [oldRoot, newRoot] = [process.argv[2], process.argv[3]].map((p) => p && resolve(p));
  const rounds = Number(process.argv[4] ?? 5);
  if (!oldRoot || !newRoot) {
    console.error(
      'usage: node dist/bench/ab.js OLD_ROOT NEW_ROOT [rounds]   (both roots built with npm run build)',
    );
    process.exit(2);
  }
  const results: Record<'old' | 'new', Probe[]> = { old: [], new: [] };
  for (let r = 0; r < rounds; r++) {
    for (const [key, root] of (r % 2 === 0
      ? [
          ['old', oldRoot],
          ['new', newRoot],
        ]
      : [
          ['new', newRoot],
          ['old', oldRoot],
        ]) as ['old' | 'new', string][]) {
      const child = spawnSync(process.execPath, [process.argv[1], '--probe', root], { encoding: 'utf8' });
      if (child.status !== 0) throw new Error(`probe of ${root} failed:\n${child.stderr}`);
      results[key].push(JSON.parse(child.stdout.trim().split('\n').pop()!) as Probe);
      process.stderr.write(`round ${r + 1} ${key}: ${child.stdout.trim()}\n`);
    }
  }
  for (const metric of ['trainSamplesPerSec', 'generateCharsPerSec'] as const) {
    const a = median(results.old.map((p) => p[metric]));
    const b = median(results.new.map((p) => p[metric]));
    console.log(
      `${metric}: old ${a.toFixed(0)} (${results.old.map((p) => p[metric].toFixed(0)).join(' / ')}), ` +
        `new ${b.toFixed(0)} (${results.new.map((p) => p[metric].toFixed(0)).join(' / ')}), new/old ${(b / a).toFixed(3)}`,
    );
  }
}

await main();
