/** Shared main for every CLI: exit codes 0 ok, 1 bad input or I/O failure, 2 usage. */
import { parseArgs as nodeParseArgs, type ParseArgsConfig } from 'node:util';
import { FormatError } from '../bytes/errors.js';

/** A mistake in the command line: printed with a pointer to --help, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type Main = (argv: string[]) => Promise<number | void>;

export function runMain(tool: string, main: Main, argv = process.argv.slice(2)): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
  });
  main(argv).then(
    (code) => {
      // a main that returns nothing keeps a status already set: the umbrella's, whose tool (imported
      // from it, with its own runMain) may have failed first
      process.exitCode = code ?? process.exitCode ?? 0;
    },
    (e: unknown) => {
      process.exitCode = report(tool, e);
    },
  );
}

/**
 * `text` for a terminal: control characters (C0, DEL and C1, which names in an image may carry to
 * move the cursor or rewrite the screen) as `\\xNN`, so a message stays one line of what it says.
 */
export function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export function report(tool: string, e: unknown): number {
  if (e instanceof UsageError) {
    process.stderr.write(`${tool}: ${printable(e.message)}\nTry '${tool} --help' for more information.\n`);
    return 2;
  }
  if (e instanceof FormatError) {
    // the message already names its format; name the tool too when that is another one ("bootimg: gzip: …")
    const msg = printable(e.message);
    process.stderr.write(msg.startsWith(`${tool}: `) ? `${msg}\n` : `${tool}: ${msg}\n`);
    return 1;
  }
  const err = e as NodeJS.ErrnoException & { exitCode?: unknown };
  if (err instanceof Error && typeof err.exitCode === 'number') {
    process.stderr.write(`${tool}: ${err.message}\n`);
    return err.exitCode;
  }
  if (err && typeof err.code === 'string' && typeof err.message === 'string') {
    // I/O failures: ENOENT, EACCES, ENOSPC …, whose paths may be names from an image
    process.stderr.write(`${tool}: ${printable(err.message)}\n`);
    return 1;
  }
  if (err instanceof TypeError || err instanceof RangeError) {
    process.stderr.write(`${tool}: ${err.message}\n`);
    return 2;
  }
  process.stderr.write(`${tool}: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 70;
}

/** Parses a number as Python's int(x, 0) does: 0x hex, 0o octal, 0b binary, else decimal. */
export function parseIntAuto(s: string, what: string): number {
  const t = s.trim().replaceAll('_', '');
  let v: number;
  if (/^[+]?0[xX][0-9a-fA-F]+$/.test(t)) v = parseInt(t.replace(/^\+?0[xX]/, ''), 16);
  else if (/^[+]?0[oO][0-7]+$/.test(t)) v = parseInt(t.replace(/^\+?0[oO]/, ''), 8);
  else if (/^[+]?0[bB][01]+$/.test(t)) v = parseInt(t.replace(/^\+?0[bB]/, ''), 2);
  else if (/^[+-]?(0+|[1-9][0-9]*)$/.test(t)) v = parseInt(t, 10);
  else throw new UsageError(`invalid number for ${what}: '${s}'`);
  if (!Number.isSafeInteger(v)) throw new UsageError(`number out of range for ${what}: '${s}'`);
  return v;
}

/** node:util parseArgs, with its mistakes (unknown option, missing value) reported as usage errors (exit 2). */
export function parseArgs<const T extends ParseArgsConfig>(config: T): ReturnType<typeof nodeParseArgs<T>> {
  try {
    return nodeParseArgs(config);
  } catch (e) {
    if (typeof (e as { code?: unknown }).code === 'string' && (e as { code: string }).code.startsWith('ERR_PARSE_ARGS')) throw new UsageError((e as Error).message);
    throw e;
  }
}
