/** How the CLI talks: human text on stderr/stdout, or one JSON object per line with --json; --quiet silences. */
export class UsageError extends Error {}

export interface Output {
  /** Whether to draw a progress bar. */
  readonly progress: boolean;
  info(line: string): void;
  sample(title: string, text: string): void;
  json(obj: Record<string, unknown>): void;
}

export function makeOutput(opts: { quiet?: boolean; json?: boolean }): Output {
  const json = opts.json === true;
  const quiet = opts.quiet === true;
  return {
    progress: !json && !quiet,
    info: (line) => {
      if (!json && !quiet) process.stderr.write(line + '\n');
    },
    sample: (title, text) => {
      if (json) process.stdout.write(JSON.stringify({ sample: title.replace(/^-+ /, ''), text }) + '\n');
      else if (!quiet) process.stdout.write(`${title}\n${text}\n\n`);
    },
    json: (obj) => {
      if (json) process.stdout.write(JSON.stringify(obj) + '\n');
    },
  };
}
