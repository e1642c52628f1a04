/**
 * DTS lexer: dtc 1.6.1 dtc-lexer.l, including its start conditions (PROPNODENAME after '{' and ';',
 * BYTESTRING inside '[ ]', V1 elsewhere) and flex's longest-match rule between them. Input is a
 * latin1 string (one char per byte) so strings keep their exact bytes.
 */
import { DtsError, Diagnostics, type SrcPos } from './errors.js';

export type TokKind =
  | 'V1' | 'PLUGIN' | 'MEMRESERVE' | 'BITS' | 'DEL_PROP' | 'DEL_NODE' | 'OMIT_NO_REF' | 'INCBIN'
  | 'PROPNODENAME' | 'LITERAL' | 'CHAR_LITERAL' | 'BYTE' | 'STRING' | 'LABEL' | 'LABEL_REF' | 'PATH_REF'
  | 'OP' | 'CHAR' | 'EOF';

export interface Tok {
  kind: TokKind;
  /** Text: name, label, ref, operator or char; the decoded bytes (latin1) of a STRING. */
  text: string;
  /** LITERAL, CHAR_LITERAL, BYTE value. */
  value: bigint;
  pos: SrcPos;
}

type State = 'INITIAL' | 'V1' | 'PROPNODENAME' | 'BYTESTRING';

/** Character classes by code: PROPNODECHAR [a-zA-Z0-9,._+*#?@-] (1), label start [a-zA-Z_] (2), label char [a-zA-Z0-9_] (4). */
const CLASS = new Uint8Array(256);
for (let b = 0; b < 256; b++) {
  const c = String.fromCharCode(b);
  CLASS[b] = (/[a-zA-Z0-9,._+*#?@-]/.test(c) ? 1 : 0) | (/[a-zA-Z_]/.test(c) ? 2 : 0) | (/[a-zA-Z0-9_]/.test(c) ? 4 : 0);
}
const isPropNodeChar = (c: string): boolean => (CLASS[c.charCodeAt(0)]! & 1) !== 0;
const isLabelStart = (c: string): boolean => (CLASS[c.charCodeAt(0)]! & 2) !== 0;
const isLabelChar = (c: string): boolean => (CLASS[c.charCodeAt(0)]! & 4) !== 0;
const LINEMARKER = /^#(?:line)?[ \t]+([0-9]+)[ \t]+"((?:[^\\"\n]|\\.)*)"(?:[ \t]+[0-9]+)*/;
const LITERAL = /(?:0[xX][0-9a-fA-F]+|[0-9]+)(?:ULL|UL|LL|U|L)?/y;
const isSpace = (c: string): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v';

/** Decodes dtc's string escapes (util.c get_escape_char): \a\b\t\n\v\f\r, up to 3 octal digits, \x + up to 2 hex digits. */
export function unescape(s: string, pos: SrcPos, diag?: Diagnostics): string {
  let out = '';
  for (let i = 0; i < s.length; ) {
    const c = s[i++]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = s[i] ?? '';
    const simple: Record<string, string> = { a: '\x07', b: '\b', t: '\t', n: '\n', v: '\v', f: '\f', r: '\r' };
    if (e in simple) {
      out += simple[e];
      i++;
    } else if (e >= '0' && e <= '7') {
      let j = i;
      while (j < i + 3 && s[j]! >= '0' && s[j]! <= '7') j++;
      out += String.fromCharCode(parseInt(s.slice(i, j), 8) & 0xff);
      i = j;
    } else if (e === 'x') {
      let j = i + 1;
      while (j < i + 3 && /[0-9a-fA-F]/.test(s[j] ?? '')) j++;
      if (j === i + 1) {
        if (diag) diag.fatal('\\x used with no following hex digits');
        throw new DtsError('\\x used with no following hex digits', pos);
      }
      out += String.fromCharCode(parseInt(s.slice(i + 1, j), 16));
      i = j;
    } else {
      out += e; // includes a trailing backslash's NUL-less end: dtc copies the char
      i++;
    }
  }
  return out;
}

export interface SourceFile {
  readonly name: string;
  readonly text: string;
}

/** Opens a /include/ target: returns the file, searched relative to `fromDir` then the search path. */
export type IncludeResolver = (name: string, fromFile: string) => SourceFile;

interface Frame {
  file: SourceFile;
  at: number;
  /** Reported file name and line (changed by # linemarkers). */
  name: string;
  line: number;
  col: number;
}

/**
 * srcpos.c MAX_SRCFILE_DEPTH: dtc counts every file it opens, the first included, and never counts
 * down when one ends, so it is a limit on /include/s in all (which also bounds include fan-out).
 */
const MAX_SOURCE_FILES = 200;

export class Lexer {
  #state: State = 'INITIAL';
  #stack: Frame[] = [];
  /** Files opened so far, the first included. */
  #opened = 1;
  #peeked: Tok[] = [];
  /** yylloc: the range of the last text matched, whitespace and comments included (where an EOF is reported). */
  #last: SrcPos;

  constructor(file: SourceFile, readonly resolve: IncludeResolver, readonly diag = new Diagnostics()) {
    this.#stack.push({ file, at: 0, name: file.name, line: 1, col: 1 });
    this.#last = { file: file.name, line: 0, col: 0 };
  }

  /** The file that is being read (for /incbin/ paths). */
  get currentFile(): string {
    return this.#stack[this.#stack.length - 1]!.file.name;
  }

  peek(n = 0): Tok {
    while (this.#peeked.length <= n) this.#peeked.push(this.#lex());
    return this.#peeked[n]!;
  }

  next(): Tok {
    return this.#peeked.length ? this.#peeked.shift()! : this.#lex();
  }

  #pos(f: Frame): SrcPos {
    return { file: f.name, line: f.line, col: f.col };
  }

  #advance(f: Frame, n: number): void {
    const t = f.file.text;
    const file = f.name, line = f.line, col = f.col;
    let l = line, c = col;
    for (let i = f.at, end = f.at + n; i < end; i++) {
      if (t.charCodeAt(i) === 10) {
        l++;
        c = 1;
      } else c++;
    }
    f.at += n;
    f.line = l;
    f.col = c;
    // written out, not spread from the start: `{ ...start, … }` once per token took two thirds of a compile
    this.#last = { file, line, col, endLine: l, endCol: c };
  }

  #lex(): Tok {
    for (;;) {
      const f = this.#stack[this.#stack.length - 1]!;
      const t = f.file.text;
      if (f.at >= t.length) {
        if (this.#stack.length > 1) {
          this.#stack.pop();
          continue;
        }
        return { kind: 'EOF', text: '', value: 0n, pos: this.#last };
      }
      const m = this.#match(f);
      if (m === null) continue; // whitespace, comment, linemarker, include
      return m;
    }
  }

  /** A token of the `len` chars at `f`'s position. */
  #tok(f: Frame, kind: TokKind, len: number, text: string, value = 0n): Tok {
    this.#advance(f, len);
    return { kind, text, value, pos: this.#last };
  }

  /** <V1>([0-9]+|0[xX][0-9a-fA-F]+)(U|L|UL|LL|ULL)? at `at` (a digit): no other rule matches as long there. */
  #literal(f: Frame, t: string, at: number): Tok {
    LITERAL.lastIndex = at;
    const text = LITERAL.exec(t)![0];
    const tk = this.#tok(f, 'LITERAL', text.length, text);
    tk.value = parseLiteral(text, (msg) => this.diag.error('Lexical error', tk.pos, msg));
    return tk;
  }

  /** One flex step: the longest match among the rules active in the current state (ties: first rule). */
  #match(f: Frame): Tok | null {
    const t = f.file.text;
    const at = f.at;
    const c = t[at]!;
    // the commonest steps first, where no other rule can match as long: a run of whitespace, and
    // "{" "}" ";" (the rules below give the same, after making a candidate of every rule that applies)
    if (isSpace(c)) {
      let j = at + 1;
      while (j < t.length && isSpace(t[j]!)) j++;
      this.#advance(f, j - at);
      return null;
    }
    if (c === '{' || c === '}' || c === ';') {
      if (c !== '}') this.#state = 'PROPNODENAME';
      return this.#tok(f, 'CHAR', 1, c);
    }
    const st = this.#state;
    // more of the commonest, each where no other rule can match as long
    if (st === 'PROPNODENAME' && isLabelStart(c)) {
      // a label when label chars run to a ":" (one longer than the name, which ":" ends), else a node
      // or property name
      let j = at + 1;
      while (j < t.length && isLabelChar(t[j]!)) j++;
      if (t[j] === ':') return this.#tok(f, 'LABEL', j + 1 - at, t.slice(at, j));
      while (j < t.length && isPropNodeChar(t[j]!)) j++;
      this.#state = 'V1';
      return this.#tok(f, 'PROPNODENAME', j - at, t.slice(at, j));
    }
    if (st === 'V1' && c >= '0' && c <= '9') return this.#literal(f, t, at);
    if (c === '&' && isLabelStart(t[at + 1] ?? '')) {
      let j = at + 2;
      while (j < t.length && isLabelChar(t[j]!)) j++;
      return this.#tok(f, 'LABEL_REF', j - at, t.slice(at + 1, j));
    }
    const n = t[at + 1];
    if (
      c === '(' || c === ')' || (c === ',' && st !== 'PROPNODENAME') || (c === '-' && st !== 'PROPNODENAME') || (c === '|' && n !== '|') ||
      (c === '=' && n !== '=') || (c === '<' && n !== '<' && n !== '=') || (c === '>' && n !== '>' && n !== '=')
    )
      return this.#tok(f, 'CHAR', 1, c);
    const pos = this.#pos(f);
    // <*>{STRING}
    if (c === '"') {
      const e = stringEnd(t, at);
      if (e > 0) return this.#tok(f, 'STRING', e - at, unescape(t.slice(at + 1, e - 1), pos, this.diag));
    }
    // <*>^"#"(line)?[ \t]+[0-9]+[ \t]+{STRING}([ \t]+[0-9]+)*: longer than the one-char "#" name or char
    if (c === '#' && (at === 0 || t[at - 1] === '\n')) {
      const eol = t.indexOf('\n', at);
      const m = LINEMARKER.exec(t.slice(at, eol < 0 ? t.length : eol));
      if (m) {
        this.#advance(f, m[0].length);
        f.name = unescape(m[2]!, pos, this.diag);
        f.line = parseInt(m[1]!, 10) - 1;
        return null;
      }
    }

    // the rest, as flex does it: candidates [length, producer], the longest, earliest rule on ties
    const tok = (kind: TokKind, len: number, text = t.slice(at, at + len), value = 0n): Tok => this.#tok(f, kind, len, text, value);
    let bestLen = 0;
    let best: (() => Tok | null) | undefined;
    const offer = (len: number, make: () => Tok | null): void => {
      if (len > bestLen) {
        bestLen = len;
        best = make;
      }
    };

    // <*>"/include/"{WS}*{STRING}
    if (t.startsWith('/include/', at)) {
      let j = at + 9;
      while (j < t.length && isSpace(t[j]!)) j++;
      const e = t[j] === '"' ? stringEnd(t, j) : -1;
      if (e > 0)
        offer(e - at, () => {
          const name = t.slice(j + 1, e - 1);
          this.#advance(f, e - at);
          if (this.#opened++ >= MAX_SOURCE_FILES) this.diag.fatal('Includes nested too deeply', false);
          let file: SourceFile;
          try {
            file = this.resolve(name, f.file.name);
          } catch (err) {
            if (err instanceof DtsError) this.diag.fatal(err.detail);
            throw err;
          }
          this.#stack.push({ file, at: 0, name: file.name, line: 1, col: 1 });
          return null;
        });
    }
    // (taken above: a string, a linemarker)
    const kw = (word: string, kind: TokKind, next?: State): void => {
      if (t.startsWith(word, at))
        offer(word.length, () => {
          if (next) this.#state = next;
          return tok(kind, word.length);
        });
    };
    if (c === '/') {
      kw('/dts-v1/', 'V1', 'V1');
      kw('/plugin/', 'PLUGIN');
      kw('/memreserve/', 'MEMRESERVE', 'V1');
      kw('/bits/', 'BITS', 'V1');
      kw('/delete-property/', 'DEL_PROP', 'PROPNODENAME');
      kw('/delete-node/', 'DEL_NODE', 'PROPNODENAME');
      kw('/omit-if-no-ref/', 'OMIT_NO_REF', 'PROPNODENAME');
    }
    // <*>{LABEL}:
    if (isLabelStart(c)) {
      let j = at + 1;
      while (j < t.length && isLabelChar(t[j]!)) j++;
      if (t[j] === ':') offer(j + 1 - at, () => tok('LABEL', j + 1 - at, t.slice(at, j)));
    }
    // <V1>([0-9]+|0[xX][0-9a-fA-F]+)(U|L|UL|LL|ULL)?
    // (taken above: a digit in V1 is a literal)
    // <*>{CHAR_LITERAL}  '([^']|\\')*'
    if (c === "'") {
      const e = charLitEnd(t, at);
      if (e > 0)
        offer(e - at, () => {
          const d = unescape(t.slice(at + 1, e - 1), pos, this.diag);
          const tk = tok('CHAR_LITERAL', e - at, t.slice(at, e), d.length ? BigInt(d.charCodeAt(0)) : 0n);
          if (d.length === 0) this.diag.error('Lexical error', tk.pos, 'Empty character literal');
          else if (d.length > 1) this.diag.error('Lexical error', tk.pos, `Character literal has ${d.length} characters instead of 1`);
          return tk;
        });
    }
    if (c === '&') {
      // (<*>\&{LABEL} taken above)
      // <*>"&{/"{PATHCHAR}*\}
      if (t.startsWith('&{/', at)) {
        let j = at + 3;
        while (j < t.length && (isPropNodeChar(t[j]!) || t[j] === '/')) j++;
        if (t[j] === '}') offer(j + 1 - at, () => tok('PATH_REF', j + 1 - at, t.slice(at + 2, j)));
      }
    }
    // <BYTESTRING>[0-9a-fA-F]{2}
    if (st === 'BYTESTRING' && /^[0-9a-fA-F]{2}/.test(t.slice(at, at + 2)))
      offer(2, () => tok('BYTE', 2, t.slice(at, at + 2), BigInt(parseInt(t.slice(at, at + 2), 16))));
    if (st === 'BYTESTRING' && c === ']')
      offer(1, () => {
        this.#state = 'V1';
        return tok('CHAR', 1);
      });
    // <PROPNODENAME>\\?{PROPNODECHAR}+
    if (st === 'PROPNODENAME') {
      let j = at + (c === '\\' ? 1 : 0);
      const s = j;
      while (j < t.length && isPropNodeChar(t[j]!)) j++;
      if (j > s)
        offer(j - at, () => {
          this.#state = 'V1';
          return tok('PROPNODENAME', j - at, t.slice(s, j));
        });
    }
    // "/incbin/" (INITIAL and V1 only)
    if ((st === 'INITIAL' || st === 'V1') && t.startsWith('/incbin/', at)) offer(8, () => tok('INCBIN', 8));
    // whitespace and comments
    if (isSpace(c)) {
      let j = at;
      while (j < t.length && isSpace(t[j]!)) j++;
      offer(j - at, () => (this.#advance(f, j - at), null));
    }
    if (t.startsWith('/*', at)) {
      let j = at;
      while (t.startsWith('/*', j)) {
        const e = t.indexOf('*/', j + 2);
        if (e < 0) break;
        j = e + 2;
      }
      if (j > at) offer(j - at, () => (this.#advance(f, j - at), null));
    }
    if (t.startsWith('//', at)) {
      let j = at;
      while (t.startsWith('//', j)) {
        const e = t.indexOf('\n', j);
        if (e < 0) break;
        j = e + 1;
      }
      if (j > at) offer(j - at, () => (this.#advance(f, j - at), null));
    }
    for (const op of ['<<', '>>', '<=', '>=', '==', '!=', '&&', '||'])
      if (t.startsWith(op, at)) offer(2, () => tok('OP', 2));
    // <*>.
    offer(1, () => {
      if (c === '[') this.#state = 'BYTESTRING';
      if (c === '{' || c === ';') this.#state = 'PROPNODENAME';
      return tok('CHAR', 1);
    });
    return best!();
  }
}

/** End (exclusive) of a "string" starting at `at`, or -1 when unterminated. */
function stringEnd(t: string, at: number): number {
  for (let j = at + 1; j < t.length; j++) {
    const c = t[j];
    if (c === '\\') {
      // \\. : flex's '.' is any char but a newline
      if (j + 1 >= t.length || t[j + 1] === '\n') return -1;
      j++;
      continue;
    }
    if (c === '"') return j + 1;
  }
  return -1;
}

/**
 * End (exclusive) of flex's longest match of '([^']|\\')*' at `at`, or -1. Inside, a quote can only be
 * the second half of a backslash-quote pair, so every quote that follows a backslash (not the opening
 * quote) may end the literal or go on inside it; the first quote that does not ends it for good.
 */
function charLitEnd(t: string, at: number): number {
  let end = -1;
  for (let j = at + 1; j < t.length; j++) {
    if (t[j] !== "'") continue;
    end = j + 1;
    if (j - 1 === at || t[j - 1] !== '\\') break;
  }
  return end;
}

/** strtoull(s, &e, 0) as dtc's lexer uses it: a bad octal digit ends the number (and is an error), overflow gives ULLONG_MAX. */
function parseLiteral(s: string, error: (msg: string) => void): bigint {
  const digits = s.replace(/[UL]+$/, '');
  let v: bigint;
  if (/^0[xX]/.test(digits)) v = BigInt(digits);
  else if (digits.length > 1 && digits[0] === '0') {
    const m = /^[0-7]+/.exec(digits)![0];
    v = BigInt('0o' + m);
    if (m.length < digits.length) error(`Bad integer literal '${s}'`);
  } else v = BigInt(digits);
  if (v >= 1n << 64n) {
    error(`Integer literal '${s}' out of range`);
    v = (1n << 64n) - 1n;
  }
  return v;
}
