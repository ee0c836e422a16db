/**
 * `recur train TEXT --from MODEL` — fine-tuning: the text recipe continues from a trained character model instead of
 * fresh weights. MODEL is a recur model directory (its vocabulary and settings come from its metadata), or a Keras
 * .h5/.keras character model (or a recur/tfjs directory without recur's text metadata): the vocabulary is then rebuilt
 * the tutorial's way from the training text (as `recur generate --corpus` does, and said on stderr), the recipe's
 * shape (window or sequence length, stateful batch) is read from the model, and the optimizer, learning rate and
 * clipping are compiled from the file's training_config / compile_config. What recur cannot reproduce is a note and the
 * recipe's default, never a silent change; flags (--optimizer, --lr, --clipnorm) win over the file, also with a note.
 */
import { InvalidInputError } from '../core/errors.js';
import { kerasCompileConfig } from '../keras/training_config.js';
import { chainAsSequential } from '../keras/chain.js';
import { tutorialVocabulary } from '../keras/vocabulary.js';
import { Embedding } from '../layers/embedding.js';
import { GRU } from '../layers/gru.js';
import { RNN } from '../layers/recurrent.js';
import { cellTypeOf } from '../layers/recurrent_factory.js';
import { createOptimizer } from '../models/optimizers.js';
import { Sequential } from '../models/sequential.js';
import { loadAnyModel, type LoadedAnyModel } from '../node/keras_io.js';
import { parseTextModelMetadata, vocabularyOf, type TextSettings } from '../text/metadata.js';
import { compileTextModel, textSettings } from '../text/recipes.js';
import { Vocabulary } from '../text/vocabulary.js';
import { UsageError, type Output } from './output.js';

/** The flags of `recur train` that --from reads (the model decides the rest). */
export interface FromFlags {
  batchSize?: number;
  maxlen?: number;
  seqLength?: number;
  units?: number;
  layers?: number;
  cell?: string;
  dropout?: number;
  init?: string;
  optimizer?: string;
  lr?: number;
  clipnorm?: number;
  step?: number;
  validationSplit?: number;
}

export interface FineTuneStart {
  model: Sequential;
  settings: TextSettings;
  /** The training text as the vocabulary was built from it (a Keras model: read the tutorial's way). */
  text: string;
  vocabulary: Vocabulary;
}

/** Flags that describe a new model's structure: the model given by --from has one already. */
function refuseStructureFlags(o: FromFlags): void {
  const given = (
    [
      ['--units', o.units],
      ['--layers', o.layers],
      ['--cell', o.cell],
      ['--dropout', o.dropout],
      ['--init', o.init],
    ] as const
  )
    .filter(([, v]) => v !== undefined)
    .map(([f]) => f);
  if (given.length > 0)
    throw new UsageError(
      `${given.join(', ')}: --from continues a trained model, whose structure is fixed; leave ${given.length > 1 ? 'them' : 'it'} out`,
    );
}

/**
 * The recipe's shape from the model, checked against what the text recipe trains: a Sequential model over one-hot
 * characters ([T, V]) or character ids (Embedding with V rows), with LSTM/GRU/SimpleRNN layers and a softmax over the
 * V characters — after a window (the keras recipe) or at every step (the char-rnn recipe, stateful or not).
 */
function shapeSettings(
  model: Sequential,
  base: TextSettings,
  o: FromFlags,
  where: string,
): { settings: TextSettings; size: number } {
  const rnns = model.layers.filter((l): l is RNN => l instanceof RNN);
  if (rnns.length === 0)
    throw new UsageError(
      `${where}: no LSTM, GRU or SimpleRNN layer (it has ${model.layers.map((l) => l.className).join(', ')}); recur train fine-tunes character models`,
    );
  const last = model.layers[model.layers.length - 1];
  if (last.outputActivation() !== 'softmax')
    throw new UsageError(
      `${where}: its last layer '${last.name}' (${last.className}) is not a softmax; a character model ends in a softmax over its characters`,
    );
  const input = model.inputShape();
  const output = model.outputShape();
  const size = output[output.length - 1];
  if (!input || typeof size !== 'number')
    throw new UsageError(`${where}: the model has no fixed input shape`);
  const first = model.layers[0];
  const T = input[0];
  if (first instanceof Embedding) {
    if (input.length !== 1 || first.inputDim !== size || first.maskZero)
      throw new UsageError(
        `${where}: its Embedding has ${first.inputDim} rows${first.maskZero ? ' with id 0 as padding (mask_zero)' : ''} but it predicts ${size} characters; the text recipe feeds character ids 0…${size - 1}`,
      );
  } else if (input.length !== 2 || input[1] !== size) {
    throw new UsageError(
      `${where}: its input is [${input.map((d) => d ?? 'None').join(', ')}] per sample but it predicts ${size} characters; the text recipe feeds one-hot characters [steps, ${size}]`,
    );
  }
  const stateful = rnns.some((l) => l.stateful);
  const sequence = output.length === 2;
  if (stateful && !sequence)
    throw new UsageError(
      `${where}: stateful, but it predicts one character per sample; the char-rnn recipe needs a prediction at every step (return_sequences=True)`,
    );
  const fixed = (flag: string, given: number | undefined, model: number | null, fallback: number): number => {
    if (model === null) return given ?? fallback;
    if (given !== undefined && given !== model)
      throw new UsageError(`${flag} ${given}: the model given by --from takes ${model}`);
    return model;
  };
  const s: TextSettings = {
    ...base,
    recipe: sequence ? 'char-rnn' : 'keras',
    cell: cellTypeOf(rnns[0]),
    units: rnns[0].units,
    layers: rnns.length,
    dropout: 0,
  };
  delete s.gruResetAfter;
  if (rnns[0] instanceof GRU) s.gruResetAfter = rnns[0].resetAfter;
  if (sequence) {
    s.seqLength = fixed('--seq-length', o.seqLength, T, s.seqLength);
    if (stateful) s.batchSize = fixed('--batch-size', o.batchSize, first.declaredBatchSize, s.batchSize);
  } else {
    s.maxlen = fixed('--maxlen', o.maxlen, T, s.maxlen);
  }
  return { settings: s, size };
}

/**
 * The text recipe's settings a character model without text metadata was trained with, as far as its shape tells
 * them (window, or sequence length and stateful batch; the rest the recipe's defaults): `recur evaluate` scores such a
 * model as `train --from` would continue it.
 */
export function settingsOfModel(model: Sequential, lowercase: boolean, where: string): TextSettings {
  const sequence = model.outputShape().length === 2;
  const base = textSettings(sequence ? 'char-rnn' : 'keras', { lowercase, seed: 0 }, where);
  return shapeSettings(model, base, {}, where).settings;
}

/** Compiles `model` as the file says (optimizer, learning rate, clipping), flags first; notes on what differs. */
function compileFromFile(
  model: Sequential,
  loaded: LoadedAnyModel,
  s: TextSettings,
  o: FromFlags,
  where: string,
  out: Output,
): TextSettings {
  const cc = kerasCompileConfig(loaded.trainingConfig, loaded.kerasVersion ?? 'unknown', where);
  const notes = [...(cc?.notes ?? [])];
  const fileOptimizer = cc?.optimizer ?? null;
  if (!cc) notes.push(`${where}: no training configuration in the file`);
  else out.info(`the file was compiled with ${cc.described}`);
  const optimizer = o.optimizer ?? fileOptimizer ?? s.optimizer;
  if (o.optimizer !== undefined && fileOptimizer !== null && o.optimizer !== fileOptimizer)
    notes.push(`--optimizer ${o.optimizer} replaces the file's ${fileOptimizer}`);
  const fromFile = optimizer === fileOptimizer;
  const fileLr = fromFile ? (cc?.learningRate ?? null) : null;
  const learningRate = o.lr ?? fileLr ?? s.learningRate;
  if (o.lr !== undefined && fileLr !== null && o.lr !== fileLr)
    notes.push(`--lr ${o.lr} replaces the file's learning rate ${fileLr}`);
  const args: Record<string, number | boolean> = fromFile ? { ...cc!.optimizerArgs } : {};
  if (!fromFile && optimizer === 'rmsprop' && s.rmspropEpsilon === 'outside') args.epsilonOutside = true;
  if (o.clipnorm !== undefined) args.globalClipnorm = o.clipnorm;
  if (!fromFile && o.optimizer === undefined)
    notes.push(`${where}: trained with the recipe's default optimizer ${optimizer}`);
  if (o.lr === undefined && fileLr === null)
    notes.push(`${where}: trained with the recipe's default learning rate ${learningRate}`);
  if (cc && (cc.fromLogits || (cc.loss !== null && !/ategoricalCrossentropy$/.test(cc.loss))))
    notes.push(
      `${where}: the text recipe trains with categorical cross-entropy on the softmax output, not the file's ${cc.fromLogits ? 'from_logits ' : ''}${cc.loss ?? 'loss'}`,
    );
  if (cc && cc.labelSmoothing > 0)
    notes.push(
      `${where}: the file's loss smooths labels by ${cc.labelSmoothing}; the text recipe trains on the plain targets`,
    );
  for (const n of notes) out.note(n);
  model.compile({
    optimizer: createOptimizer(optimizer, { ...args, learningRate }),
    loss: 'categoricalCrossentropy',
  });
  return {
    ...s,
    optimizer,
    learningRate,
    clipnorm: typeof args.globalClipnorm === 'number' ? args.globalClipnorm : null,
    rmspropEpsilon: args.epsilonOutside === true ? 'outside' : 'inside',
  };
}

/**
 * The model, settings, text and vocabulary a fine-tuning run starts from. `base` is the recipe's settings with the
 * flags applied (what a fresh run would use); `text` the training text as read; `textFile` names it in messages.
 */
export async function fineTuneStart(
  from: string,
  text: string,
  textFile: string,
  base: TextSettings,
  o: FromFlags,
  out: Output,
): Promise<FineTuneStart> {
  refuseStructureFlags(o);
  const loaded = await loadAnyModel(from);
  for (const n of loaded.notes) out.note(n);
  // A functional model that is one chain of layers trains as the Sequential model it is (same layers and weights).
  const model = loaded.model instanceof Sequential ? loaded.model : chainAsSequential(loaded.model);
  if (!model)
    throw new UsageError(
      `${from}: a functional model with branches, several inputs or outputs, or returned states; recur train fine-tunes character models that are one chain of layers (LSTM/GRU/SimpleRNN layers, then a softmax)`,
    );
  if (loaded.metadata.task === 'text') {
    // A recur text model (or a Keras file recur wrote from one, which keeps its metadata): its own vocabulary and
    // settings; the flags given change the training, not the model.
    const meta = parseTextModelMetadata(model, loaded.metadata, from);
    const s = meta.settings;
    const settings: TextSettings = {
      ...s,
      batchSize:
        s.recipe === 'char-rnn' && o.batchSize !== undefined && o.batchSize !== s.batchSize
          ? (() => {
              throw new UsageError(
                `--batch-size ${o.batchSize}: the model given by --from takes ${s.batchSize}`,
              );
            })()
          : (o.batchSize ?? s.batchSize),
      step: o.step ?? s.step,
      optimizer: o.optimizer ?? s.optimizer,
      learningRate: o.lr ?? s.learningRate,
      clipnorm: o.clipnorm ?? s.clipnorm,
      validationSplit: o.validationSplit ?? s.validationSplit,
      seed: base.seed,
      source: base.source,
    };
    if (o.maxlen !== undefined && o.maxlen !== s.maxlen && s.recipe === 'keras')
      throw new UsageError(`--maxlen ${o.maxlen}: the model given by --from takes ${s.maxlen}`);
    compileTextModel(model, settings);
    out.info(
      `continuing ${from}: its vocabulary (${meta.vocabulary.length} characters) and recipe (${s.recipe})`,
    );
    return { model, settings, text, vocabulary: vocabularyOf(meta) };
  }
  const { settings: shaped, size } = shapeSettings(model, base, o, from);
  let vocab;
  try {
    vocab = tutorialVocabulary(text, size, textFile, '', from);
  } catch (e) {
    if (e instanceof InvalidInputError) throw new UsageError(e.message);
    throw e;
  }
  out.info(
    `vocabulary: ${size} characters, ${vocab.how} (${loaded.format === 'recur' ? 'the model' : 'a Keras file'} carries none)`,
  );
  const settings = compileFromFile(model, loaded, { ...shaped, lowercase: vocab.lowercase }, o, from, out);
  return { model, settings, text: vocab.text, vocabulary: Vocabulary.fromJSON(vocab.chars) };
}
