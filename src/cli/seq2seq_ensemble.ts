/**
 * `recur seq2seq train --ensemble N`: a seed ensemble — N encoder–decoders trained one after the other on ONE split
 * (the run's --seed draws the train / validation / test split), each from its own member seed (initial weights,
 * batch order, dropout: the member's settings.initSeed; src/models/seed_ensemble.ts memberSeed), each exactly as a
 * single model is trained (best checkpoint by val_wer, learning-rate schedule, resume). Decoding the ensemble reads
 * the log of the members' mean next-token probabilities, greedy or beam search (src/seq2seq/decode.ts).
 *
 * Directory layout (the classifier ensembles' own, src/cli/classify_ensemble.ts):
 *   DIR/ensemble.json            size, seeds, the finished members, and the training flags (for --resume)
 *   DIR/members/K/               member K: a normal seq2seq run directory (model.json + weights, checkpoint/, log.csv),
 *                                usable on its own by every seq2seq command
 *   (members-<hex>/K/ and, until its first member is finished, ensemble-next.json: an --overwrite run's, beside the
 *   model it replaces; src/node/run_files.ts)
 *
 * Budget: --cpu-time-limit / --time-limit are the whole run's, split evenly between the members it trains (each
 * member's share ends that member, which then joins the ensemble as it is, and the next starts). Resume: a member
 * trained to its epochs is kept, one with a checkpoint continues from it exactly — stopped by Ctrl-C, a kill or its
 * share of the budget, as a single run's time limit is continued — and one without starts afresh; a resumed run's
 * budget, if given, is split between the members it trains. So a run cut by its budget, resumed without one, ends
 * exactly where the run without a budget ends.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { memberNumber, memberPath, type EnsembleRecord } from '../models/seed_ensemble.js';
import { JOINT_NGRAM_DEFAULTS, JOINT_NGRAM_FILE } from '../seq2seq/joint_ngram.js';
import { isModelDir, loadFunctionalModel } from '../node/model_io.js';
import {
  CHECKPOINT_DIR,
  removeEnsembleFiles,
  removeRunFiles,
  removeStagedEnsemble,
} from '../node/run_files.js';
import { loadSeq2SeqDir } from '../node/seq2seq_dir.js';
import { Seq2SeqSettingsSchema } from '../seq2seq/model.js';
import { CMUDICT_DATA, parseSeq2SeqMetadata, type Seq2SeqScores } from '../seq2seq/seq2seq.js';
import type { Normalization } from '../seq2seq/tokenizer.js';
import type { TrainingState } from '../text/metadata.js';
import { UsageError, type Output } from './output.js';
import { evaluateHere } from './seq2seq_decoding.js';
import { TrainingBudget, continueWith, refuseFewerEpochs } from './run_dir.js';
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
import {
  checkResumedFlags,
  count,
  heldOutExamples,
  readingFor,
  settingsFrom,
  seq2seqOutDir,
  trainSeq2Seq,
  type Seq2SeqTrainOptions,
} from './seq2seq.js';
import { defaultThreads } from '../node/pool.js';

/** The training state of member `dir`'s checkpoint; undefined when it has none. */
function memberState(dir: string): TrainingState | undefined {
  const ckpt = join(dir, CHECKPOINT_DIR);
  if (!isModelDir(ckpt)) return undefined;
  return parseSeq2SeqMetadata(loadFunctionalModel(ckpt).metadata, ckpt).state;
}

/** Whether member `dir`'s checkpoint is that of a run that trained all its epochs (and its model is saved). */
function memberFinished(dir: string, epochs: number): boolean {
  if (!isModelDir(dir)) return false;
  const state = memberState(dir);
  return state !== undefined && state.batch === 0 && state.epoch >= epochs;
}

/**
 * The text normalisation of the members already trained or started in `outDir` (the first found), or undefined when
 * there are none. A run started by a recur before normalisation has members that read text as it is ('none'): the
 * members trained on resume must read it alike, or the ensemble could not decode together.
 */
function trainedNormalization(outDir: string, rec: EnsembleRecord): Normalization | undefined {
  for (let k = 1; k <= rec.size; k++)
    for (const dir of [join(outDir, memberPath(rec, k)), join(outDir, memberPath(rec, k), CHECKPOINT_DIR)]) {
      if (!isModelDir(dir)) continue;
      const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as {
        userDefinedMetadata?: { settings?: { normalization?: unknown } };
      };
      const r = Seq2SeqSettingsSchema.shape.normalization.safeParse(
        json.userDefinedMetadata?.settings?.normalization,
      );
      // A damaged file is left for the member's own loading to name.
      if (r.success) return r.data;
    }
  return undefined;
}

export async function seq2seqTrainEnsemble(
  file: string | undefined,
  o: Seq2SeqTrainOptions,
  out: Output,
): Promise<number> {
  const outDir = seq2seqOutDir(file, o);
  // (A resume is refused below, once the record says what the directory holds: the user may have given no --ensemble.)
  if (o.initSeed !== undefined && !o.resume)
    throw new UsageError(
      '--init-seed with --ensemble: each member takes its own seed, drawn from --seed; leave --init-seed out',
    );
  // --overwrite of a model or ensemble: the new ensemble is trained beside it, which stays loadable until the new one
  // has a finished member. Its joint n-gram too: fitted as joint-ngram-<hex>.json (the hex of its members-<hex>/),
  // which its record names, so that the record's switch to ensemble.json switches the n-gram with it.
  const staged = prepareEnsembleRunDir(outDir, { ...o, task: 'seq2seq', output: out }, true, [file]);
  const seed = o.seed ?? 1;
  const order = o.jointNgram ?? (file ? 0 : JOINT_NGRAM_DEFAULTS.order);
  let rec = openEnsembleRecord(outDir, o, file, {
    format: 'recur-seq2seq-ensemble',
    read: trainingRecordReader('recur-seq2seq-ensemble'),
    staged,
    defaultData: 'CMUdict',
    seed,
    // The threads the members train on: a resume without --threads uses them again (the same bits).
    options: { ...trainingOptionsOf(o, seed), threads: o.threads ?? defaultThreads() },
    jointNgram: (membersDir) =>
      order === 0 ? null : `joint-ngram-${membersDir.slice(membersDir.indexOf('-') + 1)}.json`,
  });
  const ngramFile = rec.jointNgram === null ? null : join(outDir, rec.jointNgram ?? JOINT_NGRAM_FILE);
  const N = rec.size;
  const data = rec.training.data ?? undefined;
  if (o.resume) {
    // The members train with the first command's flags: a model or schedule flag saying otherwise is refused, as a
    // single run's resume refuses it (the settings are those the stored flags give, the order the stored one).
    const first = rec.training.options as Partial<Seq2SeqTrainOptions>;
    if (o.initSeed !== undefined)
      throw new UsageError(
        `--init-seed ${o.initSeed} with --resume: ${outDir} holds a seed ensemble of ${N} members, each with its own seed drawn from the run's --seed ${rec.seed} (${rec.memberSeeds.join(', ')}); leave the flag out`,
      );
    // Its pairs are read as the first command read them (the members and the test split alike): another --format or
    // column is refused by name here, not left to fail reading the file after the members have trained.
    readingFor({ ...first, skipBad: first.skipBad ?? false }, o, data ?? CMUDICT_DATA, true);
    checkResumedFlags(
      { ...o, targetOrder: undefined },
      // The stored epochs: a cosine schedule anneals over them.
      settingsFrom(
        { ...first, epochs: first.epochs ?? o.epochs, resume: false, overwrite: false, skipBad: false },
        !data,
      ),
    );
    const targetOrder = first.targetOrder ?? 'forward';
    if (o.targetOrder !== undefined && o.targetOrder !== targetOrder)
      throw new UsageError(
        `--target-order ${o.targetOrder} with --resume: the ensemble's members were planned with ${targetOrder}; leave the flag out`,
      );
    // The joint n-gram: the order the first command gave (or its data's default), which members resumed after it
    // was written keep.
    const ngram = first.jointNgram ?? (data ? 0 : JOINT_NGRAM_DEFAULTS.order);
    if (o.jointNgram !== undefined && o.jointNgram !== ngram)
      throw new UsageError(
        `--joint-ngram ${o.jointNgram} with --resume: the ensemble was started with ${ngram}; leave the flag out`,
      );
  }
  // A resumed run trains the epochs of the first command (whose members were planned with them) unless --epochs is
  // given, as a single run's resume: then every member trains to them, and a later resume keeps them. A cosine
  // schedule anneals over the epochs it started with, so its members keep those.
  const stored = rec.training.options.epochs;
  const cosine = (rec.training.options.lrSchedule ?? 'plateau') === 'cosine';
  const epochs = o.resume && typeof stored === 'number' && (!o.epochsGiven || cosine) ? stored : o.epochs;
  // Every member trains to them: fewer than one has trained would count it finished at once.
  if (o.resume && o.epochsGiven)
    for (let k = 1; k <= N; k++) {
      const state = memberState(join(outDir, memberPath(rec, k)));
      if (state)
        refuseFewerEpochs(epochs, state, typeof stored === 'number' ? stored : epochs, `member ${k}`);
    }
  if (o.resume && epochs !== stored) {
    rec = { ...rec, training: { ...rec.training, options: { ...rec.training.options, epochs } } };
    writeEnsembleRecord(outDir, rec);
  }
  const ran = ensembleThreads(outDir, rec, o.threads, out);
  rec = ran.rec;
  const runtime = { out: outDir, overwrite: false, threads: ran.threads };
  const memberDir = (k: number): string => join(outDir, memberPath(rec, k));
  // The members of the ensemble now: a member in it that trains again stays in it (its best model is there).
  const listed = new Set(rec.members.map(memberNumber));
  // Trained to its epochs, or in the ensemble without a checkpoint to continue from (kept as it is).
  const done = (k: number): boolean =>
    memberFinished(memberDir(k), epochs) ||
    (listed.has(k) && !isModelDir(join(memberDir(k), CHECKPOINT_DIR)));
  const toTrain = Array.from({ length: N }, (_, i) => i + 1).filter((k) => !done(k));
  if (o.resume && toTrain.length === 0)
    out.info(
      `Every member of ${outDir} is trained to its ${epochs} epochs: nothing to resume${cosine ? '' : ' (give more --epochs to train on)'}; scoring the ensemble.`,
    );
  const batchCounter = { n: 0 };
  const normalization = o.resume ? trainedNormalization(outDir, rec) : undefined;
  const record = (): void => {
    rec = { ...rec, members: [...listed].sort((a, b) => a - b).map((m) => memberPath(rec, m)) };
    writeEnsembleRecord(outDir, rec);
  };
  // The members whose share of the budget ran out before their epochs: a --resume continues them.
  const cutShort: number[] = [];
  const started = Date.now();
  const cpuStarted = process.cpuUsage();
  for (let k = 1; k <= N; k++) {
    const dir = memberDir(k);
    if (!toTrain.includes(k)) {
      tidyFinishedMember(dir, memberState(dir)?.history);
      listed.add(k);
      continue;
    }
    const resumeMember = isModelDir(join(dir, CHECKPOINT_DIR));
    // A member killed before its first checkpoint starts over: only recur's own files go.
    if (!resumeMember && existsSync(dir)) removeRunFiles(dir);
    const seed = rec.memberSeeds[k - 1];
    out.info(`Member ${k}/${N} (seed ${seed})${resumeMember ? ': resuming' : ''}`);
    const mo: Seq2SeqTrainOptions = resumeMember
      ? { ...runtime, resume: true, epochs, skipBad: o.skipBad }
      : {
          ...(rec.training.options as Partial<Seq2SeqTrainOptions>),
          epochs,
          ...runtime,
          seed: rec.seed,
          resume: false,
          skipBad: (rec.training.options.skipBad as boolean | undefined) ?? false,
        };
    // This member's even share of what is left of the budget.
    const share = toTrain.length;
    const budget = new TrainingBudget({
      ...(o.timeLimit !== undefined ? { timeLimit: o.timeLimit / share } : {}),
      ...(o.cpuTimeLimit !== undefined ? { cpuTimeLimit: o.cpuTimeLimit / share } : {}),
    });
    let r: Awaited<ReturnType<typeof trainSeq2Seq>>;
    try {
      r = await trainSeq2Seq(data, mo, memberOutput(out, k, N), {
        index: k,
        count: N,
        seed,
        dir,
        ensembleDir: outDir,
        budget,
        batchCounter,
        ngramFile,
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
    // (A budget that ran out on the last batch cut nothing short.)
    if (budget.exhausted && !memberFinished(dir, epochs)) cutShort.push(k);
    listed.add(k);
    record();
  }
  record();
  const cpu = process.cpuUsage(cpuStarted);
  if (cutShort.length > 0) {
    out.info(
      `Time limit reached: member(s) ${cutShort.join(', ')} of ${N} joined the ensemble before their ${epochs} epochs. ` +
        continueWith('seq2seq train', undefined, outDir, { threads: runtime.threads }),
    );
    out.json({ event: 'time_limit', members_cut_short: cutShort, members: N });
  }
  await scoreEnsemble(outDir, o, out, (Date.now() - started) / 1000, (cpu.user + cpu.system) / 1e6);
  out.info(
    `Done. Ensemble of ${listed.size}: ${outDir}. Try: recur seq2seq predict ${outDir} ${data === undefined ? 'hello' : '"some text"'}`,
  );
  return 0;
}

function pct(x: number): string {
  return `${(100 * x).toFixed(2)}%`;
}

/** The ensemble on the test split, greedy (and each member alone, to show what averaging and the n-gram bought). */
async function scoreEnsemble(
  outDir: string,
  o: Seq2SeqTrainOptions,
  out: Output,
  trainSeconds: number,
  cpuSeconds: number,
): Promise<void> {
  const { app, memberDirs, meta } = loadSeq2SeqDir(outDir);
  const test = heldOutExamples(outDir, app, 'test', o, out, meta.reading);
  if (test.length === 0) return;
  const ensemble = await evaluateHere(app, test, out.progress);
  const each: (Seq2SeqScores & { member: string })[] = [];
  for (let i = 0; i < app.members.length; i++)
    each.push({ member: memberDirs[i], ...(await evaluateHere(app.member(i), test, out.progress)) });
  out.info(
    `Test (${count(ensemble.n)} held-out sources, greedy), ensemble of ${app.members.length}${app.jointNgram ? ' with its joint n-gram' : ''}: sequence error ${pct(ensemble.wer)}, token error ${pct(ensemble.ter)}` +
      (ensemble.bleu !== undefined
        ? `, BLEU ${ensemble.bleu.toFixed(2)}, chrF ${ensemble.chrf!.toFixed(2)}`
        : '') +
      `; each member alone: ${each.map((e) => pct(e.wer)).join(', ')}`,
  );
  out.json({
    event: 'test',
    train_seconds: trainSeconds,
    train_cpu_seconds: cpuSeconds,
    ...ensemble,
    members: each.map(({ member, wer, ter }) => ({ member, wer, ter })),
  });
}
