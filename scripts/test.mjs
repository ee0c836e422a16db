#!/usr/bin/env node
/**
 * Runs the compiled tests (dist/test) in two sets, so `npm test` checks the numerics on both kernel sets without
 * running every command-line test twice:
 *
 *   node scripts/test.mjs wasm        every test file, on the default kernels (WebAssembly SIMD) — what users run
 *   node scripts/test.mjs reference   the numerical files again on the reference kernels (RECUR_KERNELS=reference),
 *                                     the plain TypeScript oracle: layers, models, gradients, decoders, file numerics
 *   node scripts/test.mjs both        the two at once (what `npm test` runs); the reference set's output comes last
 *
 * Files that drive the CLI, the server, loaders' fuzzing or the worker pool exercise kernels only through code the
 * numerical files already cover on both sets, so they run once. Every test file must be listed in exactly one of the
 * two lists below: a new file fails this script until someone decides where it belongs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import process from 'node:process';

/** Run on both kernel sets. */
const NUMERICAL = [
  'prefix_steps',
  'activations',
  'advanced_activations',
  'attention',
  'attention_decoder',
  'bidirectional',
  'classify',
  'forecast_global',
  'forward_cache',
  'forecast_global_pool',
  'functional',
  'gradcheck',
  'inference_pool',
  'keras_files',
  'keras_real',
  'kernels',
  'lookup_projection',
  'losses',
  'masking',
  'merge',
  'model',
  'naive',
  'optimizers',
  'pooling',
  'registry',
  'serialization',
  'seq2seq',
  'seq2seq_model',
  'step',
  'text',
  'tfjs',
  'time_distributed',
];

/** Run once, on the default kernels. */
const ONCE = [
  'keras_defaults',
  'forecast_commit',
  'keras_float16',
  'overwrite_keeps_model',
  'utf16_input',
  'build_stamp',
  'random',
  'keras_parity',
  'chunk_aligner',
  'joint_ngram',
  'json_text',
  'carried_states_fuzz',
  'apps_cli',
  'classify_cli',
  'progress_terminal',
  'classify_ensemble',
  'classify_fuzz',
  'classify_class_weight',
  'classify_report',
  'classify_multilabel',
  'classify_input',
  'cli',
  'cli_cells',
  'cli_fuzz',
  'cli_input',
  'cli_notes',
  'stateful_batch',
  'metric_names',
  'cli_keras',
  'examples',
  'export_pytorch',
  'forecast',
  'forecast_aic',
  'forecast_auto',
  'forecast_damped',
  'forecast_seasons',
  'forecast_input',
  'forecast_timezone',
  'forecast_panel',
  'forecast_predict',
  'forecast_regressors',
  'forecast_metrics_checks',
  'forecast_input_checks',
  'forecast_value_range',
  'forecast_scale',
  'forecast_sarima',
  'forecast_output_checks',
  'forecast_library_checks',
  'keras_fuzz',
  'keras_hostile',
  'keras_train',
  'large_inputs',
  'library_misuse',
  'library_args',
  'model_files',
  'model_fuzz',
  'model_metadata_fuzz',
  'model_memory',
  'package',
  'predict_json_fuzz',
  'pool_functional',
  'pool_small_batches',
  'resume',
  'resume_edges',
  'resume_epochs',
  'resume_gaps',
  'resume_after_write',
  'resume_flags',
  'run_lock',
  'run_lock_fuzz',
  'seq2seq_cli',
  'seq2seq_pool_load',
  'seq2seq_ensemble',
  'seq2seq_limits',
  'seq2seq_spa_eng',
  'unicode_normalization',
  'serve',
  'serve_pool',
  'inference_pool_reload',
  'serve_predict',
  'serve_cli',
  'step_helper',
  'text_file',
  'text_recipes',
  'time_limit',
  'training_state_fuzz',
  'text_metadata_fuzz',
  'functional_model_fuzz',
  'threads',
  'cli_consistency',
  'cli_gaps',
  'memory_guard',
  'export_overwrite',
  'export_manifest_fuzz',
  'forecast_page_messages',
  'nonfinite',
  'docs_contract',
  'seq2seq_length_limits',
  'web_workers',
];

const set = process.argv[2];
if (set !== 'wasm' && set !== 'reference' && set !== 'both') {
  process.stderr.write('usage: node scripts/test.mjs wasm|reference|both\n');
  process.exit(2);
}
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'dist', 'test');
// The sources decide what exists (dist/ may still hold the build of a deleted test).
const present = readdirSync(join(root, 'test'))
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => f.slice(0, -'.test.ts'.length));
const listed = new Set([...NUMERICAL, ...ONCE]);
const unlisted = present.filter((f) => !listed.has(f));
const missing = [...listed].filter((f) => !present.includes(f));
const twice = NUMERICAL.filter((f) => ONCE.includes(f));
if (unlisted.length || missing.length || twice.length) {
  if (unlisted.length)
    process.stderr.write(
      `scripts/test.mjs: list these test files in NUMERICAL or ONCE: ${unlisted.join(', ')}\n`,
    );
  if (missing.length)
    process.stderr.write(`scripts/test.mjs: listed but not in test/: ${missing.join(', ')}\n`);
  if (twice.length) process.stderr.write(`scripts/test.mjs: listed twice: ${twice.join(', ')}\n`);
  process.exit(2);
}
// Every batch is split however small (recur/node reads RECUR_MIN_SPLIT_WORK), so each test that asks for threads runs
// the worker pool; test/pool_small_batches.test.ts checks the default threshold itself.
const envOf = (kernels) => ({
  ...process.env,
  RECUR_MIN_SPLIT_WORK: '0',
  ...(kernels === 'reference' ? { RECUR_KERNELS: 'reference' } : {}),
});
// Two test files at a time: the command-line files spend much of their time waiting on the processes they start (one
// file at a time kept two cores 117 % busy, 9.6 minutes for the wasm set).
const argsOf = (kernels) => [
  '--test',
  '--test-concurrency=2',
  `--test-reporter=${kernels === 'wasm' ? 'spec' : 'dot'}`,
  ...(kernels === 'wasm' ? present : NUMERICAL).map((f) => join(dir, `${f}.test.js`)),
];

if (set !== 'both') {
  const r = spawnSync(process.execPath, argsOf(set), { stdio: 'inherit', env: envOf(set) });
  process.exit(r.status ?? 1);
}

// Both sets at once: the command-line tests wait on child processes much of the time, and the reference set is one
// CPU-bound process, so on two cores they overlap instead of queueing. The reference set's dots are printed after.
const reference = spawn(process.execPath, argsOf('reference'), {
  env: envOf('reference'),
  stdio: ['ignore', 'pipe', 'pipe'],
});
let referenceOutput = '';
reference.stdout.on('data', (d) => (referenceOutput += d));
reference.stderr.on('data', (d) => (referenceOutput += d));
const exited = (child) => new Promise((resolve) => child.on('close', (code) => resolve(code ?? 1)));
const wasm = spawn(process.execPath, argsOf('wasm'), { env: envOf('wasm'), stdio: 'inherit' });
const [wasmCode, referenceCode] = await Promise.all([exited(wasm), exited(reference)]);
process.stdout.write(
  `\n# the numerical files on the reference kernels (RECUR_KERNELS=reference)\n${referenceOutput}`,
);
process.exit(wasmCode !== 0 ? wasmCode : referenceCode);
