/**
 * A trained sequence-to-sequence model with what it needs around it: its settings and its two tokenizers, all kept
 * in the model file's metadata (`task: 'seq2seq'`, checked by a zod schema on load), plus translation (greedy or beam
 * search) and evaluation with the metrics of src/seq2seq/metrics.ts.
 */
import { z } from 'zod';
import { InvalidInputError } from '../core/errors.js';
import type { Functional } from '../models/functional.js';
import { JOINT_NGRAM_NAME_RE } from '../models/seed_ensemble.js';
import { checkTrainingState, type TrainingState } from '../text/metadata.js';
import { encodePairs, type EncodedPairs } from './data.js';
import {
  beamDecode,
  greedyDecode,
  rescoreDecode,
  type CandidateScorer,
  type Decoded,
  type StepperCache,
} from './decode.js';
import type { WeightedJointNgram } from './joint_ngram.js';
import { bleu, chrF, sequenceErrorRate, tokenErrorRate, withoutStress } from './metrics.js';
import {
  MAX_PAIR_LENGTH,
  MAX_WORD_LENGTH,
  Seq2SeqSettingsSchema,
  type Seq2SeqSettings,
  type TargetOrder,
} from './model.js';
import { longWordProblem, type Example } from './pairs.js';
import { isWordMode, normalizeText, Tokenizer, type Normalization, type TokenMode } from './tokenizer.js';
import { isBlankText } from '../text/blank.js';

/** The `data` of a model trained on the CMU Pronouncing Dictionary (G2P: it reads lowercase letters). */
export const CMUDICT_DATA = 'cmudict';

/** Output tokens allowed beyond the longest target seen in training before decoding stops. */
export const DECODE_MARGIN = 10;

const TokensSchema = z.array(z.string()).min(4);
const Seq2SeqMetadataSchema = z.looseObject({
  task: z.literal('seq2seq'),
  settings: Seq2SeqSettingsSchema,
  sourceTokens: TokensSchema,
  targetTokens: TokensSchema,
  /** Longest target of the training data (decoding's default limit adds DECODE_MARGIN). */
  longestTarget: z.number().int().min(1),
  /** Where the data came from: 'cmudict' or a file name. */
  data: z.string(),
  /**
   * How a pairs file was read (its format, columns, and whether bad lines were skipped), so that drawing its splits
   * again (evaluation's held-out split, a resumed run) reads it the same way. Absent in older models and for CMUdict.
   */
  reading: z
    .object({
      format: z.enum(['tsv', 'csv']).optional(),
      sourceColumn: z.string().optional(),
      targetColumn: z.string().optional(),
      skipBad: z.boolean(),
      /** sha256 of the examples read (src/node/seq2seq_files.ts pairsFingerprint); absent in older models. */
      fingerprint: z
        .string()
        .regex(/^[0-9a-f]{64}$/)
        .optional(),
    })
    .optional(),
  /**
   * The model's joint n-gram file beside it (null: none), recorded by a run that replaced another model there
   * (--overwrite), whose n-gram stays until this model replaces it; absent: joint-ngram.json if there is one.
   */
  jointNgram: z
    .string()
    .regex(JOINT_NGRAM_NAME_RE, 'joint-ngram.json or joint-ngram-<8 hex digits>.json')
    .nullable()
    .optional(),
  state: z.unknown().optional(),
});
export type Seq2SeqMetadata = z.infer<typeof Seq2SeqMetadataSchema> & { state?: TrainingState };
/** How a model's pairs file was read (Seq2SeqMetadata.reading). */
export type PairsReading = NonNullable<Seq2SeqMetadata['reading']>;

export function parseSeq2SeqMetadata(meta: Record<string, unknown>, where: string): Seq2SeqMetadata {
  if (meta.task !== 'seq2seq')
    throw new InvalidInputError(
      `${where} is not a recur seq2seq model; train one with 'recur seq2seq train'`,
    );
  const r = Seq2SeqMetadataSchema.safeParse(meta);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new InvalidInputError(
      `${where}: model.json: userDefinedMetadata.${issue.path.join('.')}: ${issue.message}`,
    );
  }
  // Decoding runs to longestTarget + DECODE_MARGIN tokens: a damaged one would decode (and print) for hours. Training
  // keeps only targets within maxTargetLength, which counts tokens — except for 'wordpunct', where it counts words and
  // a word splits into several tokens ("chien." is `chien ￭.`): there only the largest limit bounds the tokens.
  const { maxTargetLength, targetMode } = r.data.settings;
  const mostTokens = targetMode === 'wordpunct' ? MAX_PAIR_LENGTH : maxTargetLength;
  if (r.data.longestTarget > mostTokens)
    throw new InvalidInputError(
      `${where}: model.json: userDefinedMetadata.longestTarget: ${r.data.longestTarget} is more than ` +
        (targetMode === 'wordpunct'
          ? `${MAX_PAIR_LENGTH} tokens, the most any target may have`
          : `settings.maxTargetLength (${maxTargetLength})`),
    );
  // The tokenizers' own checks (reserved entries first, no token twice), named here: fromMetadata builds them later.
  for (const [field, mode] of [
    ['sourceTokens', r.data.settings.sourceMode],
    ['targetTokens', r.data.settings.targetMode],
  ] as const) {
    try {
      new Tokenizer(mode as TokenMode, r.data[field]);
    } catch (e) {
      throw new InvalidInputError(
        `${where}: model.json: userDefinedMetadata.${field}: ${(e as Error).message}`,
      );
    }
  }
  checkTrainingState(meta.state, where);
  return r.data as Seq2SeqMetadata;
}

/**
 * Checks that `model` is the network `meta` describes: its embeddings read the two tokenizers' ids and it predicts
 * one of the target tokens. Token lists edited or damaged on their own would index outside an embedding (a crash) or
 * decode ids to the wrong tokens (silently). A model without recur's layer names is not checked.
 */
export function checkSeq2SeqFits(model: Functional, meta: Seq2SeqMetadata, where: string): void {
  const sizeOf = (name: string): number | undefined => {
    const layer = model.layers.find((l) => l.name === name) as
      { inputDim?: unknown; units?: unknown } | undefined;
    const size = layer?.inputDim ?? layer?.units;
    return typeof size === 'number' ? size : undefined;
  };
  const checks: [string, string, number][] = [
    ['sourceTokens', 'source_embedding', meta.sourceTokens.length],
    ['targetTokens', 'target_embedding', meta.targetTokens.length],
    ['targetTokens', 'next_token', meta.targetTokens.length],
  ];
  for (const [field, layer, listed] of checks) {
    const size = sizeOf(layer);
    if (size !== undefined && size !== listed)
      throw new InvalidInputError(
        `${where}: model.json: userDefinedMetadata.${field}: ${listed} tokens, but the model's layer '${layer}' has ${size}`,
      );
  }
}

/**
 * Sources as a user types them, as the model reads them, which is as it was trained: trimmed (reading a pairs file
 * trims both sides, so a character-level model never saw a leading or trailing space: decoded, it was an unknown
 * character), and a G2P model's lowercased with accents taken off (CMUdict spells café and naïve "cafe" and "naive":
 * its letters are a–z and the apostrophe).
 */
export function typedSources(data: string, sources: readonly string[]): readonly string[] {
  return data === CMUDICT_DATA
    ? sources.map((t) =>
        t
          .trim()
          .toLowerCase()
          .normalize('NFD')
          .replace(/\p{M}+/gu, ''),
      )
    : sources.map((t) => t.trim());
}

/**
 * Length of a text for the length limits (settings.maxSourceLength, maxTargetLength): characters, or
 * whitespace-separated words and symbols ('wordpunct' included: "Hello, world!" is two words, whatever punctuation it
 * splits off).
 */
export function limitLength(
  mode: TokenMode,
  normalization: Normalization = 'none',
): (text: string) => number {
  // Counted in the form the tokenizer reads: a decomposed é is one character of an NFC model.
  return mode === 'chars'
    ? (t) => [...normalizeText(t, normalization)].length
    : (t) => t.trim().split(/\s+/).length;
}

/**
 * The most characters of one word of a side (settings.maxWordLength), where the side's length counts words; undefined
 * where it counts characters, or for a model saved before the bound.
 */
export function wordLengthLimit(
  s: Pick<Seq2SeqSettings, 'sourceMode' | 'targetMode' | 'maxWordLength'>,
  side: 'source' | 'target',
): number | undefined {
  const mode = side === 'source' ? s.sourceMode : s.targetMode;
  return mode === 'chars' ? undefined : (s.maxWordLength ?? undefined);
}

/** What limitLength counts, for messages. */
export function limitUnit(mode: TokenMode): string {
  return mode === 'chars' ? 'characters' : mode === 'symbols' ? 'symbols' : 'words';
}

/**
 * A source with nothing to decode: empty, or only whitespace and invisible characters (isBlankText, as classify
 * draws the line). The CLI's arguments and the server's `sources` refuse one (a decoder would still invent an output
 * for it); predict's stdin passes such a line through as an empty one.
 */
export function isBlankSource(source: string): boolean {
  return isBlankText(source);
}

/**
 * Whether greedy decoding (beam 1) ranks candidates, and so reads the length penalty: members of both target orders
 * (agreement decoding) or a joint n-gram of weight > 0 (`ngramWeight`: 0 when decoding without one). Otherwise the
 * penalty changes nothing greedily, and the CLI and server refuse it there.
 */
export function greedyRanksCandidates(memberOrders: readonly TargetOrder[], ngramWeight: number): boolean {
  return new Set(memberOrders).size > 1 || ngramWeight > 0;
}

export interface TranslateOptions {
  /** Beam width; 1 (default) decodes greedily. */
  beam?: number;
  lengthPenalty?: number;
  /** Most output tokens (default: the longest training target + DECODE_MARGIN). */
  maxLength?: number;
  batchSize?: number;
  /** The joint n-gram's weight, when the model has one (default: the file's); 0 decodes without it. */
  ngramWeight?: number;
  /** Steppers kept from call to call, for a model whose weights no longer change (DecodeOptions.steppers). */
  steppers?: StepperCache;
}

export interface Translation {
  source: string;
  output: string;
  tokens: string[];
  score: number;
}

/**
 * The tokenizers a model of `settings` is trained with, fitted on its training pairs (a word side capped at
 * settings.vocabularySize), and the longest training target in the target's tokens (decoding's default limit adds
 * DECODE_MARGIN).
 */
export function fitPairTokenizers(
  pairs: readonly { source: string; target: string }[],
  settings: Seq2SeqSettings,
): { source: Tokenizer; target: Tokenizer; longestTarget: number } {
  const cap = (mode: string): number | undefined =>
    isWordMode(mode) ? (settings.vocabularySize ?? undefined) : undefined;
  const source = Tokenizer.fit(
    pairs.map((p) => p.source),
    settings.sourceMode,
    cap(settings.sourceMode),
    settings.normalization,
  );
  const target = Tokenizer.fit(
    pairs.map((p) => p.target),
    settings.targetMode,
    cap(settings.targetMode),
    settings.normalization,
  );
  // reduce, not Math.max(...): spreading 100,000s of lengths overflows the call stack.
  const longestTarget = pairs.reduce((m, p) => Math.max(m, target.split(p.target).length), 0);
  return { source, target, longestTarget };
}

/** One decoded source: what `recur seq2seq predict --json` prints per line. */
export interface Seq2SeqPrediction {
  source: string;
  output: string;
  score: number;
  /** The source's tokens the model never saw, read as <unk> (present only when there are some). */
  unknown?: string[];
}

export interface Seq2SeqScores {
  /** Sequence error rate (share of outputs matching no reference). */
  wer: number;
  /** Token error rate (edits / reference tokens). */
  ter: number;
  bleu?: number;
  chrf?: number;
  n: number;
  seconds: number;
}

/**
 * Why a source holding a tab is not decoded: no source of a pairs file can hold one (the tab ends it), so it is a
 * pairs file's line given as sources — which decoding would read as one text, target and all.
 */
export const SOURCE_WITH_TAB =
  'holds a tab, as a line of a pairs file does (source<TAB>target): give the sources alone, one per line ' +
  "(cut -f1 FILE), or score the pairs with 'recur seq2seq eval DIR FILE'";

/** The tokenizer a model of `meta` reads its sources with. */
export function sourceTokenizer(meta: Seq2SeqMetadata): Tokenizer {
  return new Tokenizer(meta.settings.sourceMode as TokenMode, meta.sourceTokens, meta.settings.normalization);
}

/** The tokenizer a model of `meta` writes its outputs with. */
export function targetTokenizer(meta: Seq2SeqMetadata): Tokenizer {
  return new Tokenizer(meta.settings.targetMode as TokenMode, meta.targetTokens, meta.settings.normalization);
}

/**
 * Seq2Seq.sourceProblem of a model known by its settings and source tokenizer alone (recur serve's event loop, whose
 * inference pool holds the networks).
 */
export function sourceProblemOf(settings: Seq2SeqSettings, source: Tokenizer, text: string): string | null {
  return text.includes('\t') ? SOURCE_WITH_TAB : lengthProblemOf(settings, source, text);
}

/**
 * Why a model of these settings and source tokenizer refuses to decode a source, or null: longer than the longest
 * source its training accepted (settings.maxSourceLength), or with a longer word. Training refuses or skips such pairs; decoding one would cost
 * time and memory in proportion to its length for an output the model never learned to write. (A tab is decoded:
 * a CSV pairs file's source may hold one, and is validated and scored as it was trained.)
 */
function lengthProblemOf(settings: Seq2SeqSettings, source: Tokenizer, text: string): string | null {
  const length = limitLength(settings.sourceMode, settings.normalization)(text);
  const max = settings.maxSourceLength;
  if (length > max)
    return `has ${length} ${limitUnit(settings.sourceMode)}, more than the model's limit of ${max} (the --max-source-length it was trained with)`;
  const long = longWordProblem(text, wordLengthLimit(settings, 'source'), "the model's limit");
  if (long !== null || settings.maxWordLength !== null || settings.sourceMode !== 'wordpunct') return long;
  // A model saved before the word bound reads words of any length, and a 'wordpunct' word splits at every change
  // between letters and punctuation: a 100 kB line of "a,a,…" is 100,000 tokens (seconds and a gigabyte to decode;
  // a megabyte runs out of kernel memory). Its sources are bounded in tokens as a new model's limits bound them —
  // max words of MAX_WORD_LENGTH characters, a token at most per character — far above what ordinary text splits into.
  const most = max * MAX_WORD_LENGTH;
  const tokens = source.split(text).length;
  return tokens > most
    ? `splits into ${tokens} tokens, more than the model reads (${most}: ${max} words of at most ${MAX_WORD_LENGTH} characters)`
    : null;
}

/** An ensemble member after the first: its model and the order its decoder writes the target in. */
export interface Seq2SeqMember {
  model: Functional;
  targetOrder: TargetOrder;
}

/**
 * What reading a seq2seq model's sources and scoring its outputs needs: its settings, tokenizers and members' target
 * orders, without its networks (`seq2seq eval` and `predict` on this thread while the inference pool's workers hold
 * the networks and decode). Seq2Seq is one with its networks.
 */
export class Seq2SeqTokenizers {
  constructor(
    readonly settings: Seq2SeqSettings,
    readonly source: Tokenizer,
    readonly target: Tokenizer,
    /** Longest target in the training data. */
    readonly longestTarget: number,
    readonly data: string,
    /** Each member's target order (member 1's is settings.targetOrder). */
    readonly memberOrders: readonly TargetOrder[],
  ) {}

  metadata(state?: TrainingState): Seq2SeqMetadata {
    return {
      task: 'seq2seq',
      settings: this.settings,
      sourceTokens: [...this.source.tokens],
      targetTokens: [...this.target.tokens],
      longestTarget: this.longestTarget,
      data: this.data,
      ...(state ? { state } : {}),
    };
  }

  /**
   * Pairs as the model learns them: targets in its decoder's order (right to left for a 'reversed' model). With
   * 'unk', tokens the tokenizers never saw become <unk> (held-out pairs); without, each tokenizer's default applies
   * (an error for characters and symbols).
   */
  encodePairs(pairs: readonly { source: string; target: string }[], unknown?: 'error' | 'unk'): EncodedPairs {
    return encodePairs(pairs, this.source, this.target, {
      unknown,
      reversed: this.settings.targetOrder === 'reversed',
    });
  }

  /** Source ids; characters or symbols the model never saw become <unk>. */
  encodeSources(texts: readonly string[]): Int32Array[] {
    return texts.map((t) => this.source.encode(t, 'unk'));
  }

  /**
   * Why `recur seq2seq predict` and `recur serve` refuse a source typed by a user (as the model reads it:
   * typedSources), or null: one holding a tab (a pairs file's line given as a source), or one the model does not
   * decode (lengthProblem).
   */
  sourceProblem(text: string): string | null {
    return sourceProblemOf(this.settings, this.source, text);
  }

  /** Why the model refuses to decode a source, or null (lengthProblemOf). */
  lengthProblem(text: string): string | null {
    return lengthProblemOf(this.settings, this.source, text);
  }

  /**
   * The scores of `evaluate` for translations of the examples' sources made elsewhere (the inference pool's shards);
   * `seconds` counts from `started`.
   */
  score(
    examples: readonly Example[],
    out: readonly Translation[],
    opts: { textMetrics?: boolean; ignoreStress?: boolean } = {},
    started = Date.now(),
  ): Seq2SeqScores {
    // Without stress: ARPAbet vowels lose their stress digit (AH0 → AH) on both sides before comparing.
    const unstressed = (tokens: string[]): string[] =>
      opts.ignoreStress ? tokens.map(withoutStress) : tokens;
    const hyps = out.map((o) => unstressed(o.tokens));
    const refs = examples.map((e) => e.targets.map((t) => unstressed(this.target.split(t))));
    const scores: Seq2SeqScores = {
      wer: sequenceErrorRate(hyps, refs),
      ter: tokenErrorRate(hyps, refs),
      n: examples.length,
      seconds: 0,
    };
    if (opts.textMetrics ?? this.settings.targetMode !== 'symbols') {
      // BLEU counts words whatever the model's tokens are (a character-level translator is scored on its words).
      const words = (t: string): string[] => t.split(/\s+/).filter((w) => w !== '');
      // References in the outputs' form (an NFC model writes composed text), so é matches é however it was typed.
      const refs = examples.map((e) => e.targets.map((t) => this.target.normalize(t)));
      scores.bleu = bleu(
        out.map((o) => words(o.output)),
        refs.map((r) => r.map(words)),
      );
      scores.chrf = chrF(
        out.map((o) => o.output),
        refs,
      );
    }
    scores.seconds = (Date.now() - started) / 1000;
    return scores;
  }
}

/** The settings and tokenizers of a model of `meta` whose members write in `memberOrders`, without its networks. */
export function seq2seqTokenizers(
  meta: Seq2SeqMetadata,
  memberOrders: readonly TargetOrder[],
): Seq2SeqTokenizers {
  return new Seq2SeqTokenizers(
    meta.settings,
    sourceTokenizer(meta),
    targetTokenizer(meta),
    meta.longestTarget,
    meta.data,
    memberOrders,
  );
}

export class Seq2Seq extends Seq2SeqTokenizers {
  /** The models decoding reads: [model], or a seed ensemble's members (model is member 1). */
  readonly members: readonly Functional[];

  constructor(
    readonly model: Functional,
    settings: Seq2SeqSettings,
    source: Tokenizer,
    target: Tokenizer,
    longestTarget: number,
    data: string,
    /**
     * A seed ensemble's members after the first (the same tokenizers): the members of one target order average
     * their next-token probabilities; members of both orders decode by agreement (decodeIds).
     */
    others: readonly Seq2SeqMember[] = [],
    /** A joint n-gram over the same tokens (joint_ngram.ts): decoding adds its opinion of every candidate. */
    readonly jointNgram: WeightedJointNgram | null = null,
  ) {
    super(settings, source, target, longestTarget, data, [
      settings.targetOrder,
      ...others.map((m) => m.targetOrder),
    ]);
    this.members = [model, ...others.map((m) => m.model)];
  }

  /** The same models decoding with `ngram` (null: without one). */
  withJointNgram(ngram: WeightedJointNgram | null): Seq2Seq {
    const others = this.members
      .slice(1)
      .map((model, i) => ({ model, targetOrder: this.memberOrders[i + 1] }));
    return new Seq2Seq(
      this.model,
      this.settings,
      this.source,
      this.target,
      this.longestTarget,
      this.data,
      others,
      ngram,
    );
  }

  /** Member i (0-based) alone, with its own target order (and no joint n-gram). */
  member(i: number): Seq2Seq {
    const settings = { ...this.settings, targetOrder: this.memberOrders[i] };
    return new Seq2Seq(this.members[i], settings, this.source, this.target, this.longestTarget, this.data);
  }

  /** The model of `meta` (member 1's for an ensemble), with an ensemble's other members. */
  static fromMetadata(
    model: Functional,
    meta: Seq2SeqMetadata,
    others: readonly Seq2SeqMember[] = [],
    jointNgram: WeightedJointNgram | null = null,
  ): Seq2Seq {
    return new Seq2Seq(
      model,
      meta.settings,
      sourceTokenizer(meta),
      targetTokenizer(meta),
      meta.longestTarget,
      meta.data,
      others,
      jointNgram,
    );
  }

  /**
   * Decodes source ids into target ids (in reading order, whatever order the decoders write in). Members of one
   * order decode together (mean next-token probabilities); an ensemble of both orders decodes by agreement.
   */
  decodeIds(sources: readonly Int32Array[], opts: TranslateOptions = {}): Decoded[] {
    const maxLength = opts.maxLength ?? this.longestTarget + DECODE_MARGIN;
    const width = opts.beam ?? 1;
    const { lengthPenalty, batchSize, steppers } = opts;
    const forward = this.members.filter((_, i) => this.memberOrders[i] === 'forward');
    const reversed = this.members.filter((_, i) => this.memberOrders[i] === 'reversed');
    const ngram = this.jointNgram;
    const weight = opts.ngramWeight ?? ngram?.weight ?? 0;
    if (!(weight >= 0)) throw new Error(`decode: the n-gram weight must be ≥ 0, got ${weight}`);
    const extra: CandidateScorer | undefined =
      ngram && weight > 0
        ? {
            propose: (source, n) => ngram.model.nBest(source, n).map((s) => s.target),
            score: (source, target) => ngram.model.logJoint(source, target),
            weight,
          }
        : undefined;
    if ((forward.length > 0 && reversed.length > 0) || extra) {
      const sides = [
        ...(forward.length > 0 ? [{ models: forward, reversed: false }] : []),
        ...(reversed.length > 0 ? [{ models: reversed, reversed: true }] : []),
      ];
      return rescoreDecode(sides, sources, { maxLength, width, lengthPenalty, batchSize, steppers }, extra);
    }
    const decoded =
      width === 1
        ? greedyDecode(this.members, sources, { maxLength, batchSize, steppers })
        : beamDecode(this.members, sources, { maxLength, width, lengthPenalty, batchSize, steppers });
    return reversed.length > 0 ? decoded.map((d) => ({ ...d, ids: d.ids.slice().reverse() })) : decoded;
  }

  /** Decodes sources as the model reads them; one over the model's length limit (lengthProblem) is an InvalidInputError. */
  translate(texts: readonly string[], opts: TranslateOptions = {}): Translation[] {
    texts.forEach((t, i) => {
      const problem = this.lengthProblem(t);
      if (problem !== null) throw new InvalidInputError(`source ${i + 1} ${problem}`);
    });
    const decoded = this.decodeIds(this.encodeSources(texts), opts);
    return decoded.map((d, i) => {
      const tokens = this.target.decodeTokens(d.ids);
      return { source: texts[i], output: this.target.join(tokens), tokens, score: d.score };
    });
  }

  /**
   * The outputs `recur seq2seq predict` prints (and `recur serve` answers): sources as a user types them (a G2P
   * model's are trimmed and lowercased first, as it was trained), decoded with `opts`. Each output names its source
   * as given (Café, not the cafe the model read), so outputs join back to the inputs.
   */
  predict(sources: readonly string[], opts: TranslateOptions = {}): Seq2SeqPrediction[] {
    const texts = typedSources(this.data, sources);
    return this.translate(texts, opts).map((t, i) => {
      const unknown = this.source.unknownTokens(t.source);
      return {
        source: sources[i],
        output: t.output,
        score: t.score,
        ...(unknown.length > 0 ? { unknown } : {}),
      };
    });
  }

  /**
   * Decodes every example's source and scores the outputs against its accepted targets. BLEU (on whitespace-separated
   * words) and chrF are computed when asked, or by default when the targets are words or characters (translation).
   */
  evaluate(
    examples: readonly Example[],
    opts: TranslateOptions & { textMetrics?: boolean; ignoreStress?: boolean } = {},
  ): Seq2SeqScores {
    const started = Date.now();
    const out = this.translate(
      examples.map((e) => e.source),
      opts,
    );
    return this.score(examples, out, opts, started);
  }
}
