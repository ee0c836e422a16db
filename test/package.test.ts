/**
 * The package as npm ships it: the packed file list holds what package.json's exports, types, main and bin point at
 * and none of the repository's tests, benchmarks or source maps of the page; and a consumer's TypeScript program,
 * importing `recur`, `recur/node` and `recur/web` by name (the package's self-reference resolves through the same
 * exports), type-checks under strict mode with moduleResolution nodenext and bundler, using the option types a typed
 * program needs to name.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface PackedFile {
  path: string;
  size: number;
}

function exportTargets(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(exportTargets);
  return [];
}

describe('package', () => {
  it('ships what exports, types, main and bin name, and no tests, benchmarks or page source maps', () => {
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: root,
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    const [packed] = JSON.parse(r.stdout) as { files: PackedFile[]; unpackedSize: number }[];
    const files = new Set(packed.files.map((f) => f.path));
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
    const targets = [
      ...exportTargets(pkg.exports),
      ...exportTargets(pkg.bin),
      pkg.main as string,
      pkg.types as string,
    ].map((p) => p.replace(/^\.\//, ''));
    for (const t of targets) assert.ok(files.has(t), `${t} is not in the package`);
    // Every JavaScript entry point has its declarations beside it (TypeScript finds them there).
    for (const t of targets.filter((p) => p.startsWith('dist/src/') && p.endsWith('.js')))
      assert.ok(files.has(t.replace(/\.js$/, '.d.ts')), `${t} has no .d.ts in the package`);
    assert.ok(files.has('dist/web/index.html'), 'recur serve needs the page (dist/web)');
    const unwanted = [...files].filter(
      (p) =>
        /^(test|bench|examples|scripts|assembly|dist\/test|dist\/bench|dist\/examples)\//.test(p) ||
        /^dist\/web\/.*\.map$/.test(p) ||
        p.endsWith('.tsbuildinfo'),
    );
    assert.deepEqual(unwanted, []);
    assert.ok(packed.unpackedSize < 25e6, `unpacked size ${packed.unpackedSize} bytes`);
  });

  describe('a consumer program type-checks', () => {
    mkdirSync(join(root, 'dist'), { recursive: true });
    const dir = mkdtempSync(join(root, 'dist', 'consumer-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'consumer.ts');
    writeFileSync(
      file,
      `import {
  sequential, layers, tensor, indexTensor, input, model, Adam, RMSprop, SGD, Adagrad,
  type SequentialArgs, type AdamArgs, type RMSpropArgs, type SGDArgs, type AdagradArgs, type OptimizerArgs,
  type FitArgs, type CompileArgs, type SaveOptions, type ModelJson, type SymbolicTensor, type ApplyOptions,
  type SymbolicDtype, type LayerShape, type EpochProgress, type CarriedStates, type NamedWeight,
  type ForwardOptions, type StepLookup,
} from 'recur';
import { saveModel, loadModel, type SaveOptions as NodeSaveOptions } from 'recur/node';
import { installWebWorkerPool, defaultThreads, type ModelPayload, type WeightFile } from 'recur/web';

const seqArgs: SequentialArgs = { seed: 1 };
const adam: AdamArgs = { learningRate: 0.01 };
const opts: [RMSpropArgs, SGDArgs, AdagradArgs, OptimizerArgs] = [{}, { momentum: 0.9 }, {}, { clipnorm: 1 }];
const act: layers.ActivationName = 'tanh';
const init: layers.InitializerIdentifier = 'glorotUniform';
const dtype: SymbolicDtype = 'int32';
const shape: LayerShape = [null, 3];
const m = sequential(seqArgs);
m.add(layers.lstm({ units: 2, inputShape: [4, 3], activation: act, kernelInitializer: init }));
const compileArgs: CompileArgs = { optimizer: new Adam(adam), loss: 'meanSquaredError' };
m.compile(compileArgs);
const fitArgs: FitArgs = { epochs: 1, batchSize: 2 };
const save: SaveOptions = {};
const nodeSave: NodeSaveOptions = save;
const applyOptions: ApplyOptions = {};
const src = input({ shape: [4], dtype });
const emb: SymbolicTensor = layers.embedding({ inputDim: 5, outputDim: 2 }).apply(src, applyOptions) as SymbolicTensor;
const f = model({ inputs: src, outputs: emb });
const states: Promise<CarriedStates> = m.getStates();
const named: NamedWeight[] = m.namedWeights();
const progress: EpochProgress | undefined = undefined;
const forward: ForwardOptions | undefined = undefined;
const lookup: StepLookup | undefined = undefined;
const json: ModelJson | undefined = undefined;
const payload: ModelPayload | undefined = undefined;
const weightFile: WeightFile | undefined = undefined;
export const used = [
  m, f, fitArgs, nodeSave, opts, shape, states, named, progress, forward, lookup, json, payload, weightFile,
  tensor([1], [1]), indexTensor([1], [1]), RMSprop, SGD, Adagrad, saveModel, loadModel, installWebWorkerPool,
  defaultThreads,
];
`,
    );
    for (const [label, resolution, module] of [
      ['nodenext', ts.ModuleResolutionKind.NodeNext, ts.ModuleKind.NodeNext],
      ['bundler', ts.ModuleResolutionKind.Bundler, ts.ModuleKind.ESNext],
    ] as const) {
      it(`with moduleResolution ${label}`, () => {
        const program = ts.createProgram([file], {
          strict: true,
          noEmit: true,
          target: ts.ScriptTarget.ES2022,
          module,
          moduleResolution: resolution,
          lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
          types: ['node'],
          typeRoots: [join(root, 'node_modules', '@types')],
          skipLibCheck: true,
        });
        const problems = ts
          .getPreEmitDiagnostics(program)
          .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
        assert.deepEqual(problems, []);
        // The declarations came from the built package, through its exports.
        const recurFiles = program.getSourceFiles().filter((s) => s.fileName.includes('/dist/src/'));
        assert.ok(recurFiles.some((s) => s.fileName.endsWith('/dist/src/web/index.d.ts')));
        assert.ok(existsSync(join(root, 'dist', 'src', 'index.d.ts')));
      });
    }
  });
});
