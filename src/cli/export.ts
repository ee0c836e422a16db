/**
 * `recur export pytorch <model-dir> <out>` — hands a recur model and its recipe to PyTorch: writes a small Python
 * project into a new directory (src/export/pytorch_project.ts: model.py, data.py, recur_io.py, optim.py, run.py,
 * train.py, README.md) and the model it starts from as `<out>/start/`, a recur model directory (weights, vocabulary or
 * tokenizer, recipe). Its train.py trains on one CPU or under torchrun (DistributedDataParallel) and writes recur model
 * directories back. Two kinds of model: recur's character models (recur train), whose train.py reads the text itself,
 * and text classifiers (recur classify train), whose training and validation texts are encoded and split here, with
 * recur's own tokenizer and split, into classify_data.json — so PyTorch trains on exactly what recur would.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { classWeightsFor } from '../classify/model.js';
import {
  checkClassifierFits,
  parseClassifierMetadata,
  type ClassifierMetadata,
} from '../classify/metadata.js';
import { Tokenizer } from '../classify/tokenizer.js';
import { pytorchProjectFiles, type PytorchProjectKind } from '../export/pytorch_project.js';
import { pytorchExportProblem, pytorchGraphProblem, type ExportLayerJson } from '../export/pytorch_layout.js';
import type { Functional } from '../models/functional.js';
import type { Sequential } from '../models/sequential.js';
import { layerToKeras } from '../models/serialization.js';
import { makeDirectories, writeFileAtomic } from '../node/atomic.js';
import {
  EXPORT_MANIFEST,
  EXPORT_START_DIR,
  beginExport,
  foreignExportFile,
  removeStaleExportFiles,
  writeExportManifest,
} from '../node/export_files.js';
import { isEnsembleDir } from '../node/classifier_dir.js';
import { ensembleMembersDir, isModelDir, loadModel, recordedTask, saveModel } from '../node/model_io.js';
import { jointNgramPath } from '../node/run_files.js';
import { CMUDICT_DATA } from '../seq2seq/seq2seq.js';
import { examplePairs, trainingExamples } from '../seq2seq/pairs.js';
import { prepare, splitOf, trainingDataOf, type Split } from './classify.js';
import { UsageError, type Output } from './output.js';
import { checkTrainingData, loadApp, loadExamples, readingFor, splitsOf, withinLimits } from './seq2seq.js';
import { loadModelInput, loadTextModel } from './text_model.js';

export const EXPORT_FORMATS = ['pytorch'] as const;

/** A model to export: the model, its metadata without training state, what the project needs beside it. */
interface ExportSource {
  kind: PytorchProjectKind;
  model: Sequential | Functional;
  metadata: Record<string, unknown>;
  notes: string[];
  /** Extra project files (name → contents). */
  extra: Record<string, string>;
  /** What start/ holds, and how to train, for the closing message. */
  what: string;
  train: string;
}

/**
 * The metadata start/ gets: the model's, without its training state, nor the name of the joint n-gram file beside
 * the model (a seq2seq model's jointNgram): the n-gram is not exported, so start/ and the directories train.py writes
 * from it decode without one, as a new model does (`recur seq2seq ngram DIR` fits one as joint-ngram.json).
 */
function startMetadata(meta: object): Record<string, unknown> {
  const metadata: Record<string, unknown> = { ...meta };
  delete metadata.state;
  delete metadata.jointNgram;
  return metadata;
}

function textSource(dir: string, outDir: string): ExportSource {
  const { model, meta, notes } = loadTextModel(dir);
  return {
    kind: 'text',
    model,
    metadata: startMetadata(meta),
    notes,
    extra: {},
    what: `the ${meta.settings.recipe} recipe's model`,
    train: `python ${join(outDir, 'train.py')} --text ${meta.settings.source || 'book.txt'} --epochs 10 --out run`,
  };
}

/** One split as classify_data.json holds it: token ids per text, and class indices or 0/1 rows per label. */
function encodedSplit(split: Split, labels: number): { ids: number[][]; labels: number[] | number[][] } {
  const ids = split.sequences.map((s) => Array.from(s));
  if (split.targets) {
    const t = split.targets;
    return { ids, labels: ids.map((_, i) => Array.from(t.subarray(i * labels, (i + 1) * labels))) };
  }
  return { ids, labels: Array.from(split.labels) };
}

/**
 * A classifier and its training data, encoded and split as `recur classify train` did (the saved tokenizer, the
 * recipe's seed); the data must still be what the model was trained on (its fingerprint).
 */
function classifySource(
  dir: string,
  outDir: string,
  meta: ClassifierMetadata,
  loaded: ReturnType<typeof loadModel>,
): ExportSource {
  const { data, why } = trainingDataOf(meta);
  if (!data)
    throw new UsageError(`${dir}: its training data is needed to export the classify recipe, but ${why}`);
  const tokenizer = Tokenizer.fromJSON(meta.tokenizer);
  const { train, validation } = splitOf(meta, data);
  const trainSplit = prepare(train, meta.classes, tokenizer, meta.settings);
  const valSplit = prepare(validation, meta.classes, tokenizer, meta.settings);
  const classWeights = meta.settings.multiLabel
    ? null
    : classWeightsFor(meta.settings.classWeight, meta.classes, trainSplit.labels);
  const K = meta.classes.length;
  const encoded = {
    source: meta.data.source,
    classes: meta.classes,
    multiLabel: meta.settings.multiLabel,
    classWeights: classWeights ? Array.from(classWeights) : null,
    train: encodedSplit(trainSplit, K),
    validation: encodedSplit(valSplit, K),
  };
  return {
    kind: 'classify',
    model: loaded.model,
    metadata: startMetadata(meta),
    notes: loaded.notes,
    extra: { 'classify_data.json': JSON.stringify(encoded) + '\n' },
    what: `the classifier; classify_data.json: ${trainSplit.sequences.length} training and ${valSplit.sequences.length} validation texts`,
    train: `python ${join(outDir, 'train.py')} --out run`,
  };
}

/**
 * An encoder–decoder and its pairs, encoded and split as `recur seq2seq train` did (the saved vocabularies, the
 * recipe's seed; validation tokens the training never saw read as <unk>, as recur validates).
 */
function seq2seqSource(dir: string, outDir: string, out: Output): ExportSource {
  const { app, meta } = loadApp(dir);
  const ngramFile = jointNgramPath(dir);
  const file = app.data === CMUDICT_DATA ? undefined : app.data;
  if (file !== undefined && !existsSync(file))
    throw new UsageError(
      `${dir}: its training pairs are needed to export the seq2seq recipe, but ${file} is not there`,
    );
  // Read as training read it (a CSV's columns); lines a --skip-bad run skipped are skipped again (a run without it
  // had none: it would have stopped; CMUdict has no pairs file to skip lines of).
  const read = readingFor(meta.reading, { skipBad: file !== undefined }, app.data);
  const within = withinLimits(loadExamples(file, read, app.settings, out), app.settings);
  if (file !== undefined)
    checkTrainingData(within, meta.reading, file, 'the recipe needs the pairs the model trained on');
  const splits = splitsOf(within, app.settings.seed, app.data);
  // A --train-on-validation run trained on the validation split too: train.py does the same and validates nothing.
  const refit = app.settings.trainOnValidation;
  const train = app.encodePairs(examplePairs(trainingExamples(splits, refit)));
  const validation = app.encodePairs(examplePairs(refit ? [] : splits.validation), 'unk');
  const list = (xs: Int32Array[]): number[][] => xs.map((x) => Array.from(x));
  const encoded = {
    source: app.data,
    train: { sources: list(train.sources), targets: list(train.targets) },
    validation: { sources: list(validation.sources), targets: list(validation.targets) },
  };
  return {
    kind: 'seq2seq',
    model: app.model,
    metadata: startMetadata(meta),
    notes: [
      ...(app.settings.ema !== null
        ? [
            `the run's weight average (--ema ${app.settings.ema}) is not exported: train.py trains, validates and saves the raw weights`,
          ]
        : []),
      ...(refit
        ? [
            'the run trained on its validation split too (--train-on-validation): so does train.py, which validates nothing and saves every epoch',
          ]
        : []),
      ...(ngramFile !== null
        ? [
            `the joint n-gram (${basename(ngramFile)}) is not exported: train.py trains the encoder–decoder alone, which recur decodes without it at --ngram-weight 0`,
          ]
        : []),
    ],
    extra: { 'seq2seq_data.json': JSON.stringify(encoded) + '\n' },
    what: `the encoder–decoder; seq2seq_data.json: ${train.sources.length} training and ${validation.sources.length} validation pairs`,
    // A cosine run's rate reaches 0 at its own epochs: train.py would train on at rate 0 past them.
    train: `python ${join(outDir, 'train.py')} --epochs ${app.settings.lrDecayEpochs ?? 20} --out run`,
  };
}

/** The layers PyTorch cannot compute the same way: model.json's graph for a functional model. */
function exportProblem(src: ExportSource, dir: string): string | null {
  if (src.kind !== 'seq2seq') return pytorchExportProblem((src.model as Sequential).layers.map(layerToKeras));
  const topology = (
    JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as {
      modelTopology: { config: { layers: ExportLayerJson[] } };
    }
  ).modelTopology.config;
  return pytorchGraphProblem(topology.layers);
}

function sourceOf(dir: string, outDir: string, out: Output): ExportSource {
  if (isEnsembleDir(dir))
    throw new UsageError(
      `${dir} is a seed ensemble; a PyTorch project trains one model: export one member, e.g. ${join(dir, ensembleMembersDir(dir), '1')}`,
    );
  // A Keras file (or any other file) would be read as a model.json and fail as bad JSON: say what export takes.
  if (existsSync(dir) && statSync(dir).isFile() && !dir.endsWith('.json'))
    throw new UsageError(
      `${dir} is a file; export takes a recur model directory` +
        (/\.(h5|hdf5|keras)$/i.test(dir)
          ? ` (for a Keras character model: recur train TEXT --from ${dir} --out DIR, then export DIR)`
          : ''),
    );
  if (!isModelDir(dir)) return textSource(dir, outDir); // its error names what is missing
  if (recordedTask(dir) === 'seq2seq') return seq2seqSource(dir, outDir, out);
  const loaded = loadModelInput(dir);
  if ((loaded.metadata as { task?: unknown }).task === 'classify') {
    const meta = parseClassifierMetadata(loaded.metadata, dir);
    checkClassifierFits(loaded.model, meta, dir);
    return classifySource(dir, outDir, meta, loaded);
  }
  return textSource(dir, outDir);
}

/** Every name an export of any kind writes directly in its directory, for the refusal of an occupied one. */
function projectNames(): string[] {
  const kinds: PytorchProjectKind[] = ['text', 'classify', 'seq2seq'];
  return [
    ...new Set([
      ...kinds.flatMap((k) => Object.keys(pytorchProjectFiles(k))),
      'classify_data.json',
      'seq2seq_data.json',
      EXPORT_START_DIR,
      EXPORT_MANIFEST,
    ]),
  ];
}

export function exportModel(
  format: string,
  dir: string,
  outDir: string,
  out: Output,
  o: { overwrite?: boolean } = {},
): number {
  if (!(EXPORT_FORMATS as readonly string[]).includes(format))
    throw new UsageError(`export: the format must be ${EXPORT_FORMATS.join(' or ')}, got '${format}'`);
  const exists = existsSync(outDir);
  if (exists) {
    if (!statSync(outDir).isDirectory()) throw new UsageError(`${outDir} is a file; give a new directory`);
    const entries = readdirSync(outDir);
    if (entries.length > 0 && !o.overwrite) {
      const taken = projectNames().find((n) => entries.includes(n));
      throw new UsageError(
        taken !== undefined
          ? `${join(outDir, taken)} already exists; add --overwrite to replace the project exported there (recur replaces only the files it wrote), or give a new directory`
          : `${outDir} is not empty; give a new (or empty) directory for the project`,
      );
    }
  }
  const src = sourceOf(dir, outDir, out);
  for (const n of src.notes) out.note(n);
  const problem = exportProblem(src, dir);
  if (problem) throw new UsageError(`${dir}: cannot be exported to PyTorch: ${problem}`);
  const files = { ...pytorchProjectFiles(src.kind), ...src.extra };
  const names = Object.keys(files);
  // Before anything is written: every file the export would replace or delete must be one recur wrote, unchanged.
  const foreign = exists ? foreignExportFile(outDir, names) : null;
  if (foreign !== null)
    throw new UsageError(
      `--overwrite: ${join(outDir, foreign)} was not written by recur export, or has changed since; recur replaces only the files it wrote: move it away, or give a new directory`,
    );

  makeDirectories(outDir);
  // First: the names about to be written are recur's from now on, so a stopped export can be redone with --overwrite.
  beginExport(outDir, names);
  // The starting model: the weights without optimizer slots, the recipe without a training state.
  saveModel(src.model, join(outDir, EXPORT_START_DIR), { includeOptimizer: false, metadata: src.metadata });
  for (const [name, text] of Object.entries(files)) writeFileAtomic(join(outDir, name), text);
  // An earlier export of another kind left its data file: recur's, and now misleading.
  removeStaleExportFiles(outDir, names);
  // Last: the files with their hashes; a file the user changes after this is theirs.
  writeExportManifest(outDir, names);
  out.info(
    `Wrote ${outDir}: ${Object.keys(files).join(', ')} and start/ (${src.what}). Train with: ${src.train}`,
  );
  out.json({
    event: 'exported',
    format,
    kind: src.kind,
    out: outDir,
    files: [...Object.keys(files), 'start'],
  });
  return 0;
}
