/**
 * `recur classify train --ensemble N`: a seed ensemble — N classifiers trained one after the other on ONE split (the
 * run's --seed draws the train / validation / test split), each from its own member seed (initial weights, batch
 * order, dropout; src/classify/ensemble.ts memberSeed), each exactly as a single model is trained (early stopping,
 * best checkpoint, class weights, resume). The ensemble's prediction averages the members' per-class probabilities.
 *
 * Directory layout:
 *   DIR/ensemble.json            size, seeds, the finished members, and the training flags (for --resume)
 *   DIR/members/K/               member K: a normal classifier directory (model.json + weights, checkpoint/, log.csv
 *                                with member/members columns), loadable on its own by every classify command
 *
 * Resume: a member with a checkpoint continues from it (a finished one is not trained again), one without starts
 * afresh (a kill before its first checkpoint), so an interrupted run resumed gives exactly the uninterrupted ensemble.
 * A time budget (--time-limit / --cpu-time-limit) covers the whole run: when it runs out, the ensemble is the members
 * finished by then (the member it cut short keeps its checkpoint for --resume), or — none finished — member 1 with
 * its best model so far, as a single model would end.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidInputError } from '../core/errors.js';
import { encodeLabelSets, encodeLabels, type LabelledTexts } from '../classify/dataset.js';
import { ensembleProbabilities } from '../classify/ensemble.js';
import { memberPath } from '../models/seed_ensemble.js';
import {
  baselineScores,
  multiLabelBaselineScores,
  multiLabelNetworkReport,
  multiLabelProbabilityReport,
  networkReport,
  probabilityReport,
  type EvaluationReport,
  type MultiLabelEvaluationReport,
} from '../classify/evaluate.js';
import { parseClassifierMetadata, type ClassifierMetadata } from '../classify/metadata.js';
import { resetLayerNames } from '../layers/layer.js';
import type { Sequential } from '../models/sequential.js';
import { loadClassifierDir, type LoadedClassifier } from '../node/classifier_dir.js';
import { dataName, loadLabelledTexts } from '../node/classify_data.js';
import { isModelDir, loadModel } from '../node/model_io.js';
import {
  CHECKPOINT_DIR,
  removeEnsembleFiles,
  removeRunFiles,
  removeStagedEnsemble,
} from '../node/run_files.js';
import {
  checkResumedClassifierFlags,
  columnsOf,
  testColumnsOf,
  finishedState,
  multiLabelTable,
  prepare,
  reportTable,
  splitOf,
  trainClassifier,
  trainingDataOf,
  type ClassifyTrainOptions,
} from './classify.js';
import type { Output } from './output.js';
import {
  memberOutput,
  openEnsembleRecord,
  prepareEnsembleRunDir,
  trainingRecordReader,
  tidyFinishedMember,
  trainingOptionsOf,
  ensembleThreads,
  writeEnsembleRecord,
} from './seed_ensemble.js';
import { TrainingBudget, refuseChangedFlags, refuseFewerEpochs } from './run_dir.js';
import { defaultThreads } from '../node/pool.js';

/** The metadata of member `dir`'s checkpoint; undefined when it has none. */
function memberCheckpoint(dir: string): ClassifierMetadata | undefined {
  const ckpt = join(dir, CHECKPOINT_DIR);
  return isModelDir(ckpt) ? parseClassifierMetadata(loadModel(ckpt).metadata, ckpt) : undefined;
}

/** Whether member `dir` has finished training: its checkpoint is that of a finished run, and its model is saved. */
function memberFinished(dir: string, epochs: number | undefined): boolean {
  const meta = isModelDir(dir) ? memberCheckpoint(dir) : undefined;
  if (!meta?.state) return false;
  return finishedState(meta.state, { ...meta.settings, ...(epochs !== undefined ? { epochs } : {}) });
}

export async function classifyTrainEnsemble(
  file: string | undefined,
  o: ClassifyTrainOptions,
  out: Output,
): Promise<number> {
  const outDir = o.out ?? join('runs', dataName(file));
  // --overwrite of a model or ensemble: the new ensemble is trained beside it, which stays loadable until the new
  // one has a finished member.
  const staged = prepareEnsembleRunDir(outDir, { ...o, task: 'classify', output: out }, true, [file, o.test]);
  const seed = o.seed ?? (Math.random() * 2 ** 31) >>> 0;
  let rec = openEnsembleRecord(outDir, o, file, {
    format: 'recur-classifier-ensemble',
    read: trainingRecordReader('recur-classifier-ensemble'),
    staged,
    defaultData: 'the SpamAssassin corpus',
    seed,
    // The threads the members train on: a resume without --threads uses them again (the same bits).
    options: { ...trainingOptionsOf(o, seed, ['test']), threads: o.threads ?? defaultThreads() },
  });
  const N = rec.size;
  // The members keep the first command's settings: a flag given with --resume that differs from a trained member's
  // is refused; before any member has a checkpoint, from those the stored flags give (once the data says how many
  // classes there are: in the member's run, resumeFlags).
  let resumeFlags: ClassifyTrainOptions | undefined;
  // The text normalisation of the members trained so far: a run an older recur started reads text as it is, and
  // the members trained now must too, or the ensemble's tokenizers would differ.
  let normalization: 'none' | 'NFC' | undefined;
  if (o.resume) {
    // Members not yet started take the stored cap, resumed ones their checkpoint's: another one would be ignored.
    const cap = rec.training.options.stepsPerEpoch;
    refuseChangedFlags([['--steps-per-epoch', o.stepsPerEpoch, typeof cap === 'number' ? cap : 'no cap']]);
    // Every member trains to --epochs: fewer than one has trained would count it finished at once.
    if (o.epochs !== undefined)
      for (let k = 1; k <= N; k++) {
        const meta = memberCheckpoint(join(outDir, memberPath(rec, k)));
        if (meta?.state) refuseFewerEpochs(o.epochs, meta.state, meta.settings.epochs, `member ${k}`);
      }
    const trained = Array.from({ length: N }, (_, i) => join(outDir, memberPath(rec, i + 1)))
      .flatMap((d) => [join(d, CHECKPOINT_DIR), d])
      .find((d) => isModelDir(d));
    if (trained) {
      const meta = parseClassifierMetadata(loadModel(trained).metadata, trained);
      checkResumedClassifierFlags(o, meta.settings, meta.data);
      normalization = meta.tokenizer.options.normalization;
    } else resumeFlags = o;
  }
  const ran = ensembleThreads(outDir, rec, o.threads, out);
  rec = ran.rec;
  const runtime = {
    out: outDir,
    overwrite: false,
    ...(o.json !== undefined ? { json: o.json } : {}),
    ...(o.quiet !== undefined ? { quiet: o.quiet } : {}),
    threads: ran.threads,
  };
  const budget = new TrainingBudget(o);
  const batchCounter = { n: 0 };
  const finished: number[] = [];
  let cutShort: number | null = null;
  const started = Date.now();
  const cpuStarted = process.cpuUsage();
  for (let k = 1; k <= N; k++) {
    const dir = join(outDir, memberPath(rec, k));
    const resumeMember = isModelDir(join(dir, CHECKPOINT_DIR));
    if (resumeMember && memberFinished(dir, o.epochs)) {
      tidyFinishedMember(dir, memberCheckpoint(dir)?.state?.history);
      finished.push(k);
      continue;
    }
    if (budget.check()) {
      cutShort = k;
      break;
    }
    // A member killed before its first checkpoint starts over: only recur's own files go.
    if (!resumeMember && existsSync(dir)) removeRunFiles(dir);
    const seed = rec.memberSeeds[k - 1];
    out.info(`Member ${k}/${N} (seed ${seed})${resumeMember ? ': resuming' : ''}`);
    const mo: ClassifyTrainOptions = resumeMember
      ? { ...runtime, resume: true, ...(o.epochs !== undefined ? { epochs: o.epochs } : {}) }
      : {
          ...(rec.training.options as Partial<ClassifyTrainOptions>),
          ...(o.resume && o.epochs !== undefined ? { epochs: o.epochs } : {}),
          ...runtime,
          seed: rec.seed,
          resume: false,
        };
    const data = resumeMember ? undefined : (rec.training.data ?? undefined);
    resetLayerNames();
    let r: Awaited<ReturnType<typeof trainClassifier>>;
    try {
      r = await trainClassifier(data, mo, memberOutput(out, k, N), {
        index: k,
        count: N,
        seed,
        dir,
        budget,
        batchCounter,
        ...(resumeFlags ? { resumeFlags } : {}),
        ...(normalization !== undefined ? { normalization } : {}),
      });
    } catch (e) {
      // A new run that failed before anything was trained (bad data, bad flags) leaves no ensemble behind.
      // An --overwrite run's leaves the model it was to replace.
      if (!o.resume && k === 1 && !isModelDir(join(dir, CHECKPOINT_DIR))) {
        if (staged) removeStagedEnsemble(outDir);
        else removeEnsembleFiles(outDir);
      }
      throw e;
    }
    if (typeof r === 'number') return r;
    if (r === 'budget') {
      // The member cut short joins only an ensemble that would otherwise be empty (as a single model would end).
      if (finished.length === 0) finished.push(k);
      cutShort = k;
      break;
    }
    finished.push(k);
    rec = { ...rec, members: finished.map((m) => memberPath(rec, m)) };
    writeEnsembleRecord(outDir, rec);
  }
  rec = { ...rec, members: finished.map((m) => memberPath(rec, m)) };
  writeEnsembleRecord(outDir, rec);
  const trainSeconds = (Date.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStarted);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  if (cutShort !== null) {
    out.info(
      `Time limit reached: the ensemble is members ${finished.join(', ')} of ${N}. ` +
        `Continue with: recur classify train --out ${outDir} --resume`,
    );
    out.json({ event: 'time_limit', members_finished: finished, members: N });
  }
  await scoreEnsemble(outDir, o, out, trainSeconds, cpuSeconds);
  out.info(
    `Done in ${trainSeconds.toFixed(0)} s. Ensemble of ${finished.length}: ${outDir}. Classify with: recur classify predict ${outDir} "some text"`,
  );
  return 0;
}

/** The ensemble on its test split (and each member, to show what averaging bought), next to the baselines. */
async function scoreEnsemble(
  outDir: string,
  o: ClassifyTrainOptions,
  out: Output,
  trainSeconds: number,
  cpuSeconds: number,
): Promise<void> {
  const c = loadClassifierDir(outDir);
  const meta = c.meta;
  const members = Array.isArray(c.models) ? c.models : [c.models];
  const { data: source, why } = trainingDataOf(meta);
  if (!source) throw new InvalidInputError(`${outDir}: ${why}`);
  const split = splitOf(meta, source);
  let testData: LabelledTexts = split.test;
  if (meta.data.testSource !== null)
    testData = loadLabelledTexts(meta.data.testSource, testColumnsOf(meta) ?? columnsOf(meta));
  if (testData.texts.length === 0) return;
  const test = prepare(testData, meta.classes, c.tokenizer, meta.settings);
  const title = `Test set (${test.texts.length} texts${meta.data.testSource ? `, ${meta.data.testSource}` : ''}), ensemble of ${members.length} (best model of each member by ${meta.settings.monitor}):`;
  const times = { train_seconds: trainSeconds, train_cpu_seconds: cpuSeconds };
  if (test.targets) {
    const trainTargets = encodeLabelSets(split.train, meta.classes);
    const report: MultiLabelEvaluationReport = {
      ...multiLabelNetworkReport(c.models, meta.classes, test.sequences, test.targets),
      baselines: multiLabelBaselineScores(
        meta.classes,
        split.train.texts,
        trainTargets,
        test.texts,
        test.targets,
      ),
    };
    const each = await memberFigures(c, test.sequences, { targets: test.targets });
    if (!o.json && !o.quiet) {
      process.stdout.write(multiLabelTable(report, meta.classes, title) + '\n');
      process.stdout.write(memberTable(each) + '\n');
    }
    out.json({ event: 'test', ...times, ...report, members: each });
    return;
  }
  const report: EvaluationReport = {
    ...networkReport(c.models, meta.classes, test.sequences, test.labels),
    baselines: baselineScores(
      split.train.texts,
      encodeLabels(split.train, meta.classes),
      test.texts,
      test.labels,
      meta.classes.length,
    ),
  };
  const each = await memberFigures(c, test.sequences, { labels: test.labels });
  if (!o.json && !o.quiet) {
    process.stdout.write(reportTable(report, meta.classes, title) + '\n');
    process.stdout.write(memberTable(each) + '\n');
  }
  out.json({ event: 'test', ...times, ...report, members: each });
}

/** One member's own figures on the evaluation set: what averaging bought over it. */
export interface MemberFigures {
  member: number;
  seed: number | undefined;
  accuracy?: number;
  micro_f1?: number;
  macro_f1: number;
}

/**
 * Each member of a loaded ensemble alone on the same sequences: accuracy and macro-F1 (single-label) or micro- and
 * macro-F1 (multi-label, at `threshold`). `probabilities` computes a member's (default: at once, here); `classify
 * eval` passes its own, with a progress bar.
 */
export async function memberFigures(
  c: LoadedClassifier,
  sequences: readonly Int32Array[],
  truth: { labels: Int32Array } | { targets: Uint8Array },
  threshold = 0.5,
  batchSize?: number,
  probabilities: (member: Sequential, index: number, of: number) => Promise<Float32Array> = (m) =>
    Promise.resolve(ensembleProbabilities(m, sequences, c.meta.classes.length, batchSize)),
): Promise<MemberFigures[]> {
  const members = Array.isArray(c.models) ? c.models : [c.models];
  const seeds = c.ensemble?.memberSeeds ?? [];
  const classes = c.meta.classes;
  const out: MemberFigures[] = [];
  for (const [i, m] of members.entries()) {
    const d = c.memberDirs[i];
    const member = Number(d.slice(d.lastIndexOf('/') + 1));
    const seed = seeds[member - 1];
    const p = await probabilities(m, i, members.length);
    if ('targets' in truth) {
      const r = multiLabelProbabilityReport(classes, truth.targets, p, threshold);
      out.push({ member, seed, micro_f1: r.micro_f1, macro_f1: r.macro_f1 });
    } else {
      const r = probabilityReport(classes, truth.labels, p);
      out.push({ member, seed, accuracy: r.accuracy, macro_f1: r.macro_f1 });
    }
  }
  return out;
}

/** The members' own figures, one row each, after the ensemble's table. */
export function memberTable(each: readonly MemberFigures[]): string {
  const multiLabel = each.length > 0 && each[0].micro_f1 !== undefined;
  const columns = multiLabel ? ['micro-F1', 'macro-F1'] : ['accuracy', 'macro-F1'];
  const lines = [
    '',
    'each member alone:',
    ['member', 'seed', ...columns].map((c, i) => (i === 0 ? c.padEnd(8) : c.padStart(12))).join('  '),
  ];
  for (const e of each) {
    const first = multiLabel ? e.micro_f1!.toFixed(4) : `${(e.accuracy! * 100).toFixed(1)}%`;
    const r = [String(e.member), String(e.seed ?? ''), first, e.macro_f1.toFixed(4)];
    lines.push(r.map((c, i) => (i === 0 ? c.padEnd(8) : c.padStart(12))).join('  '));
  }
  return lines.join('\n');
}
