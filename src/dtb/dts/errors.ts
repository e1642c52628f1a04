/**
 * Errors in DTS source: dtc 1.6.1's messages, with the source positions dtc reports (srcpos.c):
 * `FILE:LINE.COL`, `FILE:LINE.COL-ENDCOL`, `FILE:LINE.COL-ENDLINE.ENDCOL`, the end exclusive.
 */
export interface SrcPos {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** End (exclusive) of the range; the start when absent. */
  readonly endLine?: number;
  readonly endCol?: number;
}

/** srcpos.c srcpos_string. */
export function srcposString(p: SrcPos): string {
  const el = p.endLine ?? p.line, ec = p.endCol ?? p.col;
  if (p.line !== el) return `${p.file}:${p.line}.${p.col}-${el}.${ec}`;
  if (p.col !== ec) return `${p.file}:${p.line}.${p.col}-${ec}`;
  return `${p.file}:${p.line}.${p.col}`;
}

/** YYLLOC_DEFAULT: from the start of `a` to the end of `b` (file of `b`). */
export function spanPos(a: SrcPos, b: SrcPos): SrcPos {
  return { file: b.file, line: a.line, col: a.col, endLine: b.endLine ?? b.line, endCol: b.endCol ?? b.col };
}

/**
 * A DTS source error (what dtc rejects). Not a FormatError: the input is text, not an image.
 * `stderr` is exactly what dtc 1.6.1 prints for the input (every line, newline-terminated);
 * `dtcExit` is dtc's exit status (1 for parse errors and fatal errors, 2 for failed checks).
 */
export class DtsError extends Error {
  override readonly name = 'DtsError';
  readonly stderr: string;
  readonly dtcExit: number;
  constructor(readonly detail: string, readonly pos?: SrcPos, stderr?: string, dtcExit = 1) {
    super(stderr !== undefined ? stderr.replace(/\n+$/, '') : pos ? `${srcposString(pos)}: ${detail}` : detail);
    this.stderr = stderr ?? `FATAL ERROR: ${pos ? `${srcposString(pos)}: ` : ''}${detail}\n`;
    this.dtcExit = dtcExit;
  }
}

/** What dtc has printed so far (errors that do not stop it at once), in order. */
export class Diagnostics {
  readonly lines: string[] = [];
  /** treesource_error: an error that makes dtc give up after parsing. */
  failed = false;
  error(prefix: 'Error' | 'Lexical error', pos: SrcPos, msg: string): void {
    this.lines.push(`${prefix}: ${srcposString(pos)} ${msg}\n`);
    this.failed = true;
  }
  text(): string {
    return this.lines.join('');
  }
  /** die(): what was printed, then FATAL ERROR (dtc's format ends most, not all, of these with a newline). */
  fatal(msg: string, newline = true): never {
    throw new DtsError(msg, undefined, `${this.text()}FATAL ERROR: ${msg}${newline ? '\n' : ''}`, 1);
  }
}
