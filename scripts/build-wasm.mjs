// Compiles assembly/kernels.ts twice (plain SIMD, relaxed SIMD) and writes two generated TypeScript modules (both
// git-ignored), so nothing about the wasm contract is kept equal by hand:
//   src/core/wasm/binary.generated.ts   both binaries, embedded, so the library loads them without file paths or
//                                       fetches (Node and browsers alike);
//   src/core/wasm/exports.generated.ts  the TypeScript type of the module's exports, from the exported functions'
//                                       and constants' signatures in assembly/kernels.ts (the wrappers are checked
//                                       against it by tsc).
// The memory limits come from src/core/kernel_constants.ts, the table of constants both languages read.
/* global WebAssembly */
import { Buffer } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { buildStamp } from './build_stamp.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'assembly', 'kernels.ts');
const generatedDir = join(root, 'src', 'core', 'wasm');

const stamp = buildStamp(
  root,
  'wasm',
  [
    'assembly',
    'src/core/kernel_constants.ts',
    'scripts/build-wasm.mjs',
    'node_modules/assemblyscript/package.json',
  ],
  ['src/core/wasm/binary.generated.ts', 'src/core/wasm/exports.generated.ts'],
);
if (stamp.fresh) {
  process.stdout.write('build:wasm: up to date\n');
  process.exit(0);
}

/** The shared constants table, transpiled on the fly (it is plain TypeScript with no imports). */
async function loadConstants() {
  const file = join(root, 'src', 'core', 'kernel_constants.ts');
  const js = ts.transpileModule(readFileSync(file, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  return import(`data:text/javascript;base64,${Buffer.from(js).toString('base64')}`);
}

/** Bytes a wat string literal stands for (binaryen prints printable ASCII as is, anything else as \hh). */
function watStringBytes(literal) {
  return literal.match(/\\[0-9a-fA-F]{2}|\\.|[^\\]/gs)?.length ?? 0;
}

/** End address of the module's static data segments, from its text format. */
function staticDataEnd(wat) {
  let end = 0;
  for (const m of wat.matchAll(/\(data \$\S+ \(i32\.const (\d+)\) "((?:[^"\\]|\\.)*)"\)/g)) {
    end = Math.max(end, Number(m[1]) + watStringBytes(m[2]));
  }
  return end;
}

const WASM_TO_TS = {
  bool: 'number',
  i8: 'number',
  u8: 'number',
  i16: 'number',
  u16: 'number',
  i32: 'number',
  u32: 'number',
  isize: 'number',
  usize: 'number',
  f32: 'number',
  f64: 'number',
  i64: 'bigint',
  u64: 'bigint',
  void: 'void',
};

function tsType(node, where) {
  const text = node?.getText();
  const mapped = text && WASM_TO_TS[text];
  if (!mapped)
    throw new Error(`${where}: type ${text ?? '(none)'} cannot cross the wasm boundary as a number`);
  return mapped;
}

function isExported(node) {
  return node.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword) ?? false;
}

/** The exported functions and constants of the AssemblyScript source, as TypeScript interface members. */
function exportMembers(file) {
  const text = readFileSync(file, 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const members = [];
  const names = [];
  for (const node of sf.statements) {
    if (!isExported(node)) continue;
    const line = sf.getLineAndCharacterOfPosition(node.getStart()).line + 1;
    if (ts.isFunctionDeclaration(node) && node.name) {
      const name = node.name.text;
      const params = node.parameters.map(
        (p) => `${p.name.getText()}: ${tsType(p.type, `${file}:${line} ${name}(${p.name.getText()})`)}`,
      );
      members.push(
        `  ${name}(${params.join(', ')}): ${tsType(node.type, `${file}:${line} ${name} result`)};`,
      );
      names.push({ name, kind: 'function' });
    } else if (ts.isVariableStatement(node)) {
      for (const d of node.declarationList.declarations) {
        members.push(`  readonly ${d.name.getText()}: WebAssembly.Global;`);
        names.push({ name: d.name.getText(), kind: 'global' });
      }
    } else {
      throw new Error(`${file}:${line}: only functions and constants may be exported from the kernels`);
    }
  }
  return { members, names };
}

const constants = await loadConstants();
const asc = join(root, 'node_modules', '.bin', 'asc');
const common = [
  '-O3',
  '--runtime',
  'stub',
  '--noAssert',
  '--enable',
  'simd',
  '--enable',
  'threads',
  '--importMemory',
  '--sharedMemory',
  '--maximumMemory',
  String(constants.MAX_PAGES),
  '--initialMemory',
  String(constants.HEAP_BASE_PAGES),
];
mkdirSync(join(root, 'build'), { recursive: true });
const variants = { simd: [], relaxed: ['--enable', 'relaxed-simd'] };
const binaries = ['// Generated by scripts/build-wasm.mjs from assembly/kernels.ts. Do not edit.'];
for (const [name, flags] of Object.entries(variants)) {
  const file = join(root, 'build', `kernels-${name}.wasm`);
  const wat = join(root, 'build', `kernels-${name}.wat`);
  execFileSync(asc, [source, ...common, ...flags, '-o', file, '-t', wat], { stdio: 'inherit' });
  const end = staticDataEnd(readFileSync(wat, 'utf8'));
  if (end > constants.HEADER_ADDR) {
    throw new Error(
      `the ${name} kernels' static data ends at byte ${end}, past the allocator header at ${constants.HEADER_ADDR}: ` +
        'raise HEAP_BASE_PAGES in src/core/kernel_constants.ts',
    );
  }
  binaries.push(`export const ${name}Wasm = '${readFileSync(file).toString('base64')}';`);
}
writeFileSync(join(generatedDir, 'binary.generated.ts'), binaries.join('\n') + '\n');

const { members, names } = exportMembers(source);
// The parse must describe the binary exactly: every export it lists, and nothing else (but the memory).
const actual = WebAssembly.Module.exports(
  new WebAssembly.Module(readFileSync(join(root, 'build', 'kernels-simd.wasm'))),
);
const key = (e) => `${e.kind} ${e.name}`;
const parsed = new Set(names.map(key));
const built = new Set(actual.filter((e) => e.kind !== 'memory').map(key));
const missing = [...built].filter((k) => !parsed.has(k));
const extra = [...parsed].filter((k) => !built.has(k));
if (missing.length || extra.length) {
  throw new Error(
    `${source}: the exports read from the source differ from the module's (not parsed: ${missing.join(', ') || 'none'}; ` +
      `not in the module: ${extra.join(', ') || 'none'})`,
  );
}
writeFileSync(
  join(generatedDir, 'exports.generated.ts'),
  [
    '// Generated by scripts/build-wasm.mjs from the exported signatures of assembly/kernels.ts. Do not edit.',
    '',
    "/** The kernel module's exports: pointers are byte addresses in the shared memory, flags are 0 or 1. */",
    'export interface KernelExports {',
    ...members,
    '}',
    '',
  ].join('\n'),
);
stamp.record();
