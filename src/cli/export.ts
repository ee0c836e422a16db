/**
 * `recur export pytorch <model-dir> <out>` — hands a recur text model and its recipe to PyTorch: writes a small Python
 * project into a new directory (src/export/pytorch_project.ts: model.py, data.py, recur_io.py, train.py, README.md)
 * and the model it starts from as `<out>/start/`, a recur model directory (weights, vocabulary, recipe). Its train.py
 * trains on one CPU or under torchrun (DistributedDataParallel) and writes recur model directories back.
 */
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pytorchProjectFiles } from '../export/pytorch_project.js';
import { pytorchExportProblem } from '../export/pytorch_layout.js';
import { layerToKeras } from '../models/serialization.js';
import { writeFileAtomic } from '../node/atomic.js';
import { saveModel } from '../node/model_io.js';
import { UsageError, type Output } from './output.js';
import { loadTextModel } from './text_model.js';

export const EXPORT_FORMATS = ['pytorch'] as const;

export function exportModel(format: string, dir: string, outDir: string, out: Output): number {
  if (!(EXPORT_FORMATS as readonly string[]).includes(format))
    throw new UsageError(`export: the format must be ${EXPORT_FORMATS.join(' or ')}, got '${format}'`);
  if (existsSync(outDir)) {
    if (!statSync(outDir).isDirectory()) throw new UsageError(`${outDir} is a file; give a new directory`);
    if (readdirSync(outDir).length > 0)
      throw new UsageError(`${outDir} is not empty; give a new (or empty) directory for the project`);
  }
  const { model, meta, notes } = loadTextModel(dir);
  for (const n of notes) out.info(`note: ${n}`);
  const problem = pytorchExportProblem(model.layers.map(layerToKeras));
  if (problem) throw new UsageError(`${dir}: cannot be exported to PyTorch: ${problem}`);

  mkdirSync(outDir, { recursive: true });
  // The starting model: the weights without optimizer slots, the recipe and vocabulary without a training state.
  const metadata: Record<string, unknown> = { ...meta };
  delete metadata.state;
  saveModel(model, join(outDir, 'start'), { includeOptimizer: false, metadata });
  const files = pytorchProjectFiles();
  for (const [name, text] of Object.entries(files)) writeFileAtomic(join(outDir, name), text);
  out.info(
    `Wrote ${outDir}: ${Object.keys(files).join(', ')} and start/ (the ${meta.settings.recipe} recipe's model). ` +
      `Train with: python ${join(outDir, 'train.py')} --text ${meta.settings.source || 'book.txt'} --epochs 10 --out run`,
  );
  out.json({ event: 'exported', format, out: outDir, files: [...Object.keys(files), 'start'] });
  return 0;
}
