/**
 * `npm run bench:serve` (`node dist/bench/serve.js [--no-browser]`) — two figures for BENCHMARKS.md:
 *
 * 1. `recur serve` throughput: characters per second over all streams with 1, 8 and 32 concurrent streaming
 *    /v1/generate requests on 127.0.0.1, for the keras recipe's LSTM(128) on a 63-character vocabulary (random
 *    weights: speed does not depend on them). Concurrent streams share batched steps (src/text/batch_generation.ts).
 *    Measured twice in the same run: `--threads 1` (the streams are stepped on the server's event loop) and
 *    `--threads 2` (on the inference pool's worker threads), alternating; plus how long GET /v1/models takes to
 *    answer while 32 streams generate (the event loop's freedom).
 * 1b. (`--inference`) classify predict sequences/s and seq2seq greedy decoding words/s, one thread (the library call)
 *    vs the inference pool on 2 threads, on models of the default recipes' shapes trained for one step.
 * 2. Training samples/s of the keras recipe (LSTM(128), batch 128, windows of 40) on the page's Moby Dick sample, in
 *    Chromium (the page, driven by Playwright, its engine worker + Web Worker pool) and in Node (the same library
 *    calls, worker threads), same thread count, same machine, one after the other. Needs /usr/bin/chromium (or
 *    CHROMIUM=…) and dist/web (npm run build).
 *
 * Prints one JSON line per figure. The machine may be shared: compare the ratios within one run.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import '../src/node/index.js';
import { kernels } from '../src/core/backend.js';
import { LambdaCallback } from '../src/models/callbacks.js';
import { parseClassifierMetadata } from '../src/classify/metadata.js';
import { classifyTexts } from '../src/classify/predict.js';
import { Random } from '../src/core/random.js';
import { createInferencePool, readModelPayload } from '../src/node/inference_pool.js';
import { loadFunctionalModel, loadModel, saveModel } from '../src/node/model_io.js';
import { Seq2Seq, parseSeq2SeqMetadata } from '../src/seq2seq/seq2seq.js';
import { shutdownWorkerPool } from '../src/node/pool.js';
import { TextCorpus } from '../src/text/corpus.js';
import { textMetadata } from '../src/text/metadata.js';
import { buildTextModel, compileTextModel, textDatasets, textSettings } from '../src/text/recipes.js';
import { Vocabulary } from '../src/text/vocabulary.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(root, 'dist', 'src', 'cli', 'main.js');
const STEPS = 40;

/** The address a `recur serve --json` child prints once it listens. */
function listening(server: ChildProcess): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let out = '';
    server.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /"address":"([^"]+)"/.exec(out);
      if (m) resolve(m[1]);
    });
    server.on('exit', (code) => reject(new Error(`recur serve exited with ${code}`)));
  });
}

async function serveThroughput(threads: number): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'recur-bench-serve-'));
  try {
    const V = 63;
    const vocabulary = new Vocabulary(Array.from({ length: V }, (_, i) => String.fromCharCode(48 + i)));
    const settings = textSettings('keras', { seed: 1, lowercase: false }, 'bench');
    const model = buildTextModel(settings, V);
    model.build();
    saveModel(model, join(dir, 'm'), {
      includeOptimizer: false,
      metadata: { ...textMetadata(vocabulary, settings, vocabulary.chars.slice(0, 40).join('')) },
    });
    // The server in its own process, as in use: the client's parsing does not share its event loop.
    const args = [CLI, 'serve', join(dir, 'm'), '--port', '0', '--json', '--threads', String(threads)];
    const server = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const base = await listening(server);
    const stream = async (seed: number, length: number): Promise<number> => {
      const r = await fetch(base + '/v1/generate', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ length, seed, temperature: 1, stream: true }),
      });
      const body = await r.text();
      if (!body.includes('event: done'))
        throw new Error(`stream ${seed} did not finish: ${body.slice(-200)}`);
      return length;
    };
    const result: Record<string, number> = {};
    await stream(0, 2000); // warm-up
    for (const c of [1, 8, 32]) {
      const length = 2000;
      const rounds = c === 1 ? 4 : c === 8 ? 2 : 1;
      const t0 = performance.now();
      let chars = 0;
      for (let r = 0; r < rounds; r++)
        chars += (
          await Promise.all(Array.from({ length: c }, (_, i) => stream(1 + r * c + i, length)))
        ).reduce((a, b) => a + b);
      result[`chars_per_sec_${c}`] = Math.round(chars / ((performance.now() - t0) / 1000));
    }
    // GET /v1/models while 32 streams generate: the median of 10 answers' times, in ms.
    const running = Promise.all(Array.from({ length: 32 }, (_, i) => stream(500 + i, 2000)));
    await new Promise((r) => setTimeout(r, 200));
    const times: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      await (await fetch(base + '/v1/models')).json();
      times.push(performance.now() - t0);
    }
    await running;
    times.sort((a, b) => a - b);
    result.models_ms_during_32 = Number(((times[4] + times[5]) / 2).toFixed(1));
    server.kill('SIGTERM');
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Samples/s of the first epoch's STEPS batches, measured as the page measures it (onEpochBegin → onEpochEnd). */
async function nodeTraining(text: string, threads: number): Promise<number> {
  const settings = textSettings('keras', { seed: 1 }, 'moby-dick');
  const corpus = TextCorpus.fromText(text, { lowercase: true });
  const model = buildTextModel(settings, corpus.vocabulary.size);
  model.build();
  compileTextModel(model, settings);
  const data = textDatasets(model, settings, corpus, null, { maxBatches: STEPS });
  let t0 = 0;
  let rate = 0;
  let samples = 0;
  await model.fitDataset(data.train, {
    epochs: 1,
    threads,
    callbacks: [
      new LambdaCallback({
        onEpochBegin: () => void (t0 = performance.now()),
        onBatchEnd: (_b, logs) => void (samples += logs.size ?? 0),
        onEpochEnd: () => void (rate = samples / ((performance.now() - t0) / 1000)),
      }),
    ],
  });
  await shutdownWorkerPool();
  return Math.round(rate);
}

async function chromiumTraining(): Promise<{ rate: number; threads: number; kernels: string }> {
  const browserPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(browserPath)) throw new Error(`no Chromium at ${browserPath}`);
  const server = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--json'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const base = await listening(server);
    const browser = await chromium.launch({ executablePath: browserPath });
    try {
      const page = await browser.newPage();
      await page.goto(base + '/');
      await page.waitForSelector('body[data-ready]');
      await page.waitForFunction(
        () => (document.querySelector('#text') as HTMLTextAreaElement).value.length > 1000,
      );
      await page.fill('#units', '128');
      await page.fill('#epochs', '1');
      await page.fill('#steps', String(STEPS));
      await page.fill('#seed', '1');
      await page.click('#train');
      await page.waitForSelector('body[data-trained="1"]', { timeout: 600_000 });
      const rate = Number(
        await page.$eval('#epoch-log tbody tr', (r) => (r as HTMLElement).dataset.samplesPerSec),
      );
      const env = (await page.textContent('#env')) ?? '';
      const threads = /(\d+) Web Worker thread\(s\), (\S+) kernels/.exec(env);
      if (!threads) throw new Error(`the page did not start its worker pool: ${env}`);
      return { rate: Math.round(rate), threads: Number(threads[1]), kernels: threads[2] };
    } finally {
      await browser.close();
    }
  } finally {
    server.kill('SIGTERM');
  }
}

/** Classify predict sequences/s and seq2seq greedy words/s: one thread vs the inference pool on 2 threads. */
async function inferenceThroughput(): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'recur-bench-infer-'));
  const cli = (args: string[]): void => {
    const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`recur ${args.join(' ')}: ${r.stderr}`);
  };
  try {
    const rng = new Random(1);
    const words = [
      'the',
      'film',
      'was',
      'a',
      'plot',
      'and',
      'very',
      'story',
      'great',
      'dull',
      'actor',
      'scene',
    ];
    const sentence = (): string =>
      Array.from({ length: 5 + rng.int(30) }, () => words[rng.int(words.length)]).join(' ');
    const texts = Array.from({ length: 4096 }, sentence);
    writeFileSync(
      join(dir, 'reviews.csv'),
      'sentence,label\n' +
        texts
          .slice(0, 512)
          .map((t, i) => `${t},${i % 2 ? 'pos' : 'neg'}`)
          .join('\n') +
        '\n',
    );
    const letters = 'abcdefghijklmnopqrstuvwxyz';
    const word = (): string => Array.from({ length: 3 + rng.int(8) }, () => letters[rng.int(26)]).join('');
    const sources = Array.from({ length: 1024 }, word);
    writeFileSync(
      join(dir, 'pairs.tsv'),
      sources
        .slice(0, 64)
        .map((w) => `${w}\t${[...w].reverse().join(' ')}`)
        .join('\n') + '\n',
    );
    // The default recipes' shapes, trained briefly (speed does not depend on the weights).
    cli([
      'classify',
      'train',
      join(dir, 'reviews.csv'),
      '--out',
      join(dir, 'c'),
      '--epochs',
      '1',
      '--steps-per-epoch',
      '1',
      '--quiet',
    ]);
    cli(['seq2seq', 'train', join(dir, 'pairs.tsv'), '--out', join(dir, 's'), '--epochs', '1', '--quiet']);
    const c = loadModel(join(dir, 'c'));
    const meta = parseClassifierMetadata(c.metadata, dir);
    const f = loadFunctionalModel(join(dir, 's'));
    const app = Seq2Seq.fromMetadata(f.model, parseSeq2SeqMetadata(f.metadata, dir));
    const pool = createInferencePool(2);
    const cm = await pool.load(readModelPayload(join(dir, 'c'), 'classify'));
    const sm = await pool.load(readModelPayload(join(dir, 's'), 'seq2seq'));
    const rate = async (n: number, run: () => unknown): Promise<number> => {
      const t0 = performance.now();
      await run();
      return Math.round(n / ((performance.now() - t0) / 1000));
    };
    const out: Record<string, number> = {};
    // Alternated twice; the better of two of each.
    for (let round = 0; round < 2; round++) {
      const best = (k: string, v: number): void => void (out[k] = Math.max(out[k] ?? 0, v));
      best(
        'classify_seq_per_sec_1',
        await rate(texts.length, () => classifyTexts(c.model, meta, texts, 128)),
      );
      best('classify_seq_per_sec_2', await rate(texts.length, () => pool.classify(cm, texts, 128)));
      best(
        'seq2seq_greedy_words_per_sec_1',
        await rate(sources.length, () => app.predict(sources, { batchSize: 64 })),
      );
      best(
        'seq2seq_greedy_words_per_sec_2',
        await rate(sources.length, () => pool.decode(sm, sources, { batchSize: 64 })),
      );
    }
    await pool.terminate();
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--inference')) {
  console.log(JSON.stringify({ inference: await inferenceThroughput(), load: loadavg() }));
  process.exit(0);
}
// Alternated: the event loop (--threads 1) and the inference pool (--threads 2), twice each.
for (let round = 0; round < 2; round++)
  for (const threads of [1, 2])
    console.log(JSON.stringify({ serve: await serveThroughput(threads), threads, round, load: loadavg() }));
if (!process.argv.includes('--no-browser')) {
  const text = readFileSync(join(root, 'dist', 'web', 'moby-dick.txt'), 'utf8');
  // The same thread count in both (the page's: its cores, at most 4), alternated twice so that a change in the
  // machine's load shows as a spread rather than as a bias.
  const chromiumRates: number[] = [];
  const nodeRates: number[] = [];
  let page = { threads: 0, kernels: '' };
  for (let round = 0; round < 2; round++) {
    const b = await chromiumTraining();
    page = b;
    chromiumRates.push(b.rate);
    nodeRates.push(await nodeTraining(text, b.threads));
  }
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
  console.log(
    JSON.stringify({
      training_samples_per_sec: {
        node: nodeRates,
        chromium: chromiumRates,
        ratio: Number((sum(chromiumRates) / sum(nodeRates)).toFixed(3)),
      },
      threads: page.threads,
      node_kernels: kernels().name,
      chromium_kernels: page.kernels,
      batches: STEPS,
    }),
  );
}
process.exit(0);
