/** Runs a node script (argv[2…]) in this process and prints its peak RSS as JSON on the last stdout line. */
import { pathToFileURL } from 'node:url';

const [script, ...rest] = process.argv.slice(2);
process.argv = [process.argv[0], script, ...rest];
process.on('exit', () => {
  process.stdout.write(JSON.stringify({ maxRssMb: process.resourceUsage().maxRSS / 1024 }) + '\n');
});
await import(pathToFileURL(script).href);
