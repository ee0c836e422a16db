/**
 * `node dist/bench/translate.js [--pairs FILE] [--minutes M] [--work DIR] [--max-source-length N]
 * [--max-target-length N]` — the README's translation recipe against the same model in PyTorch, trained side by side
 * for the same CPU time, each on its own core, and scored by the same code (issue #13: translation, against a peer).
 *
 *   data:     FILE (default ../shared/data/fra-eng.txt) read, filtered and split exactly as `recur seq2seq train`
 *             does with the recipe's flags; recur's own tokenizers (the 6,000 most frequent words a side) turn every
 *             pair into ids, which both trainers get: DIR/data.json for PyTorch;
 *   training: `recur seq2seq train FILE --threads 1 --cpu-time-limit M` pinned to core 0 and bench/translate_torch.py
 *             (torch.set_num_threads(1), stops at M CPU-minutes) pinned to core 1, at the same time;
 *   scoring:  the best epoch of each (recur: its saved model; PyTorch: by the same validation rule) decodes the
 *             test split's sources greedily, and Seq2Seq.score gives both BLEU, chrF, exact sentences and token error
 *             against every accepted translation; recur's beam 5 beside them.
 *
 * Needs /usr/bin/python3 with torch and `taskset`. Prints human lines on stderr and one JSON object on stdout.
 */
import '../src/node/install.js';
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSeq2SeqDir } from '../src/node/seq2seq_dir.js';
import { examplePairs } from '../src/seq2seq/pairs.js';
import { fitPairTokenizers, type Seq2SeqScores, type Translation } from '../src/seq2seq/seq2seq.js';
import { PYTHON, hasTorch } from './torch_splits.js';
import { translationFlags, translationSettings, translationSplits } from './translate_recipe.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const pairsFile = arg('--pairs') ?? join(root, '..', 'shared', 'data', 'fra-eng.txt');
const minutes = Number(arg('--minutes') ?? 30);
const work = arg('--work') ?? join(tmpdir(), `recur-translate-${process.pid}`);
const maxSource = Number(arg('--max-source-length') ?? 6);
const maxTarget = Number(arg('--max-target-length') ?? 8);
const log = (s: string): void => void process.stderr.write(s + '\n');

if (!existsSync(pairsFile)) {
  log(`${pairsFile} is not here: nothing to measure`);
  process.exit(0);
}
if (!hasTorch()) throw new Error(`${PYTHON} has no torch: apt-get install python3-torch (as .ci/run does)`);

const settings = translationSettings(maxSource, maxTarget);
const splits = translationSplits(pairsFile, settings);
const trainPairs = examplePairs(splits.train);
// recur's own tokenizers, and its decoding limit (the longest training target in tokens + 10) for PyTorch too.
const { source: src, target: tgt, longestTarget } = fitPairTokenizers(trainPairs, settings);
const ids = (a: Int32Array): number[] => Array.from(a);
mkdirSync(work, { recursive: true });
const dataFile = join(work, 'data.json');
writeFileSync(
  dataFile,
  JSON.stringify({
    sourceVocab: src.size,
    targetVocab: tgt.size,
    maxTargetLength: longestTarget,
    train: trainPairs.map((p) => [ids(src.encode(p.source)), ids(tgt.encode(p.target))]),
    validation: splits.validation.map((e) => [
      ids(src.encode(e.source)),
      e.targets.map((t) => ids(tgt.encode(t))),
    ]),
    test: splits.test.map((e) => ids(src.encode(e.source))),
  }),
);
log(
  `${pairsFile}: ${trainPairs.length} training pairs, ${splits.validation.length} validation and ` +
    `${splits.test.length} test sources; vocabularies ${src.size} / ${tgt.size}; ${minutes} CPU-minutes each, one core each`,
);

/** Runs a trainer with its stdout and stderr written to `logFile` as they come (`tail -f` shows its epochs). */
function run(cmd: string, args: string[], logFile: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const logStream = createWriteStream(logFile);
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(logStream, { end: false });
    child.stderr.pipe(logStream, { end: false });
    child.on('error', reject);
    child.on('close', (code) => logStream.end(() => resolve(code ?? 1)));
  });
}

const recurDir = join(work, 'recur');
const torchOut = join(work, 'torch.json');
const started = Date.now();
const [recurCode, torchCode] = await Promise.all([
  run(
    'taskset',
    [
      '-c',
      '0',
      process.execPath,
      join(root, 'dist', 'src', 'cli', 'main.js'),
      'seq2seq',
      'train',
      pairsFile,
      '--out',
      recurDir,
      ...translationFlags(settings),
      '--epochs',
      '100',
      '--cpu-time-limit',
      String(minutes),
      '--threads',
      '1',
      '--json',
    ],
    join(work, 'recur.log'),
  ),
  run(
    'taskset',
    [
      '-c',
      '1',
      PYTHON,
      join(root, 'bench', 'translate_torch.py'),
      dataFile,
      torchOut,
      '--minutes',
      String(minutes),
    ],
    join(work, 'torch.log'),
  ),
]);
if (recurCode !== 0 || torchCode !== 0)
  throw new Error(`training failed (recur ${recurCode}, PyTorch ${torchCode}): see ${work}/*.log`);
log(`both trained in ${((Date.now() - started) / 60000).toFixed(1)} min of wall time; logs in ${work}`);

const { app } = loadSeq2SeqDir(recurDir);
// The same ids for both: recur's saved tokenizers are the ones this bench fitted.
if (
  app.source.tokens.join('\n') !== src.tokens.join('\n') ||
  app.target.tokens.join('\n') !== tgt.tokens.join('\n')
)
  throw new Error(
    "recur's run fitted other vocabularies than the bench: the comparison would not be like for like",
  );

interface TorchResult {
  torch: string;
  epochs: { epoch: number; val_loss: number; val_wer: number; cpu_seconds: number }[];
  bestEpoch: number;
  trainCpuSeconds: number;
  targetTokens: number;
  outputs: number[][];
  decodeSeconds: number;
}
const torch = JSON.parse(readFileSync(torchOut, 'utf8')) as TorchResult;
const torchTranslations: Translation[] = torch.outputs.map((out, i) => {
  const tokens = app.target.decodeTokens(Int32Array.from(out));
  return { source: splits.test[i].source, output: app.target.join(tokens), tokens, score: 0 };
});
const recurEpochs = readFileSync(join(work, 'recur.log'), 'utf8')
  .split('\n')
  .filter((l) => l.startsWith('{') && l.includes('"val_loss"'))
  .map(
    (l) =>
      JSON.parse(l) as {
        epoch: number;
        val_loss: number;
        val_wer: number;
        seconds: number;
        target_tokens_per_sec: number;
      },
  );
// Training speed per CPU-second on one core each: recur's epochs report target tokens/s of wall time on a core of
// its own; PyTorch's count over its CPU time.
const recurTokensPerSec =
  recurEpochs.reduce((s, e) => s + e.target_tokens_per_sec * e.seconds, 0) /
  Math.max(
    recurEpochs.reduce((s, e) => s + e.seconds, 0),
    1e-9,
  );
const torchTokensPerSec = torch.targetTokens / torch.trainCpuSeconds;
log(
  `training target tokens/s: recur ${Math.round(recurTokensPerSec)}, PyTorch ${Math.round(torchTokensPerSec)} ` +
    `(${(recurTokensPerSec / torchTokensPerSec).toFixed(2)}×)`,
);

const rows: { who: string; epochs: number; scores: Seq2SeqScores; decodeSeconds: number }[] = [];
const timed = (beam: number): { scores: Seq2SeqScores; seconds: number } => {
  const t = Date.now();
  const scores = app.evaluate(splits.test, { beam });
  return { scores, seconds: (Date.now() - t) / 1000 };
};
const greedy = timed(1);
rows.push({
  who: 'recur, greedy',
  epochs: recurEpochs.length,
  scores: greedy.scores,
  decodeSeconds: greedy.seconds,
});
const beam = timed(5);
rows.push({
  who: 'recur, beam 5',
  epochs: recurEpochs.length,
  scores: beam.scores,
  decodeSeconds: beam.seconds,
});
rows.push({
  who: `PyTorch ${torch.torch}, greedy`,
  epochs: torch.epochs.length,
  scores: app.score(splits.test, torchTranslations),
  decodeSeconds: torch.decodeSeconds,
});
for (const r of rows)
  log(
    `${r.who}: ${r.epochs} epochs; BLEU ${r.scores.bleu?.toFixed(1)}, chrF ${r.scores.chrf?.toFixed(1)}, ` +
      `${(100 * (1 - r.scores.wer)).toFixed(1)} % exactly right, token error ${(100 * r.scores.ter).toFixed(1)} %, ` +
      `decoding ${r.decodeSeconds.toFixed(1)} s`,
  );
console.log(
  JSON.stringify({
    pairs: pairsFile,
    minutes,
    train: trainPairs.length,
    test: splits.test.length,
    recurEpochs,
    torchEpochs: torch.epochs,
    torchBestEpoch: torch.bestEpoch,
    recurTokensPerSec,
    torchTokensPerSec,
    rows: rows.map((r) => ({ who: r.who, epochs: r.epochs, ...r.scores, decodeSeconds: r.decodeSeconds })),
  }),
);
