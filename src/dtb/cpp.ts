/**
 * A C preprocessor sufficient for Linux device tree sources, run as the kernel runs GCC's:
 * `cpp -nostdinc -I… -undef -D__DTS__ -x assembler-with-cpp`. It implements #include ("" and <>),
 * object- and function-like #define (#, ##, __VA_ARGS__), #undef, #if/#ifdef/#ifndef/#elif/#else/#endif
 * with 64-bit expressions and defined(), #error; in assembler mode an unknown directive such as
 * `#address-cells = <1>;` is passed through as text. Macro expansion uses hide sets (Prosser's
 * algorithm). Spacing in the output follows GCC's rule where it matters to dtc: a space only where
 * the source had one or where two tokens would otherwise paste together.
 */
import { statSync } from 'node:fs';
import { readTextSync } from '../bytes/input.js';
import { dirname, join, isAbsolute } from 'node:path';

export class CppError extends Error {
  override readonly name = 'CppError';
}

type Kind = 'id' | 'num' | 'str' | 'chr' | 'punct' | 'other';

interface PTok {
  k: Kind;
  t: string;
  /** Whitespace before it in the source (GCC PREV_WHITE). */
  w: boolean;
  /** First token of a source line (printed after a newline). */
  nl: boolean;
  /** Of a line's first token: its physical line and its column (bytes from the line's start, from 1), as GCC places it in the output. */
  line: number | undefined;
  col: number | undefined;
  /** At a macro boundary: print a space if it would paste with the previous token. */
  pad: boolean;
  hide: ReadonlySet<string> | undefined;
}

/**
 * A token. Every token has every field, in this order (as does {@link copyTok}'s copy): one shape for
 * all, so the code that reads them stays fast (spread copies that each added a field made many shapes).
 */
function ptok(k: Kind, t: string, w: boolean, line?: number, col?: number): PTok {
  return { k, t, w, nl: false, line, col, pad: false, hide: undefined };
}

/** A copy of `x` (of the one shape), with `w` and `pad` as given. */
function copyTok(x: PTok, w = x.w, pad = x.pad): PTok {
  return { k: x.k, t: x.t, w, nl: x.nl, line: x.line, col: x.col, pad, hide: x.hide };
}

interface Macro {
  params?: string[];
  variadic?: boolean;
  body: PTok[];
}

/** A source line as tokens (what {@link CppOptions.cache} holds per file). */
export interface Line {
  toks: PTok[];
  line: number;
}

/**
 * A {@link CppOptions.cache} for a run over many sources that keeps the `capacity` files used last.
 * Kernel trees list boards by SoC, so neighbours share their headers and .dtsi files; an unbounded
 * cache of the Linux arm corpus held ~2 GB and made the run slower (23 s against 19 s with 256 files,
 * the garbage collector marking what would not be read again).
 */
export class TokenCache extends Map<string, Line[]> {
  constructor(readonly capacity = 256) {
    super();
  }

  override get(path: string): Line[] | undefined {
    const l = super.get(path);
    if (l !== undefined) {
      super.delete(path);
      super.set(path, l);
    }
    return l;
  }

  override set(path: string, lines: Line[]): this {
    super.delete(path);
    super.set(path, lines);
    if (this.size > this.capacity) super.delete(this.keys().next().value!);
    return this;
  }
}

export interface CppOptions {
  /** -I folders, in order. */
  readonly includeDirs?: readonly string[];
  /** -D NAME[=VALUE], applied in order. */
  readonly defines?: readonly string[];
  /** Shared cache of tokenized files (a corpus run reads the same headers many times). */
  readonly cache?: Map<string, Line[]>;
  /** File access (defaults to node:fs). */
  readonly readFile?: (path: string) => string;
  readonly exists?: (path: string) => boolean;
}

const PUNCT3 = ['<<=', '>>=', '...'];
const PUNCT2 = ['##', '<<', '>>', '<=', '>=', '==', '!=', '&&', '||', '->', '++', '--', '+=', '-=', '*=', '/=', '%=', '&=', '|=', '^=', '<:', ':>', '<%', '%>'];
const isIdStart = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36;
const isIdChar = (c: number): boolean => isIdStart(c) || (c >= 48 && c <= 57);
const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/** Splits source into logical lines of tokens: continuations joined, comments replaced by a space. */
export function tokenize(src: string): Line[] {
  const lines: Line[] = [];
  let toks: PTok[] = [];
  let line = 1, startLine = 1;
  let w = false;
  const n = src.length;
  let i = 0;
  /** Where the current physical line starts. */
  let bol = 0;
  const flush = (): void => {
    lines.push({ toks, line: startLine });
    toks = [];
    w = false;
    startLine = line;
  };
  // skip a backslash-newline at i; returns true if one was skipped
  const cont = (): boolean => {
    if (src.charCodeAt(i) === 92) {
      let j = i + 1;
      if (src.charCodeAt(j) === 13) j++;
      if (src.charCodeAt(j) === 10) {
        i = j + 1;
        bol = i;
        line++;
        return true;
      }
    }
    return false;
  };
  while (i < n) {
    if (cont()) continue;
    const c = src.charCodeAt(i);
    if (c === 10) {
      i++;
      bol = i;
      line++;
      flush();
      continue;
    }
    if (c === 32 || c === 9 || c === 13 || c === 12 || c === 11) {
      i++;
      w = true;
      continue;
    }
    if (c === 47 && src.charCodeAt(i + 1) === 42) {
      const e = src.indexOf('*/', i + 2);
      const end = e < 0 ? n : e + 2;
      for (let j = i; j < end; j++) {
        if (src.charCodeAt(j) === 10) {
          line++;
          bol = j + 1;
        }
      }
      i = end;
      w = true;
      continue;
    }
    if (c === 47 && src.charCodeAt(i + 1) === 47) {
      while (i < n && src.charCodeAt(i) !== 10) {
        if (!cont()) i++;
      }
      w = true;
      continue;
    }
    const start = i;
    let k: Kind;
    let text: string | undefined;
    if (isIdStart(c)) {
      i++;
      while (i < n && (isIdChar(src.charCodeAt(i)) || cont())) i++;
      k = 'id';
    } else if (isDigit(c) || (c === 46 && isDigit(src.charCodeAt(i + 1)))) {
      i++;
      for (;;) {
        if (cont()) continue;
        const d = src.charCodeAt(i);
        if ((d === 43 || d === 45) && /[eEpP]/.test(src[i - 1]!)) i++;
        else if (isIdChar(d) || d === 46) i++;
        else break;
      }
      k = 'num';
    } else if (c === 34 || c === 39) {
      let j = i + 1;
      while (j < n && src.charCodeAt(j) !== c && src.charCodeAt(j) !== 10) j += src.charCodeAt(j) === 92 ? 2 : 1;
      if (src.charCodeAt(j) === c) {
        i = j + 1;
        k = c === 34 ? 'str' : 'chr';
      } else {
        i++; // assembler mode: an unterminated quote is just a character
        k = 'other';
      }
    } else {
      const three = src.substr(i, 3), two = src.substr(i, 2);
      if (PUNCT3.includes(three)) i += 3;
      else if (PUNCT2.includes(two)) i += 2;
      else i++;
      k = '!%^&*()-+={}|~[];:<>,.?/#'.includes(src[start]!) ? 'punct' : 'other';
    }
    text ??= src.slice(start, i).replace(/\\\r?\n/g, '');
    toks.push(toks.length ? ptok(k, text, w) : ptok(k, text, w, line, start - bol + 1));
    w = false;
  }
  if (toks.length) flush();
  return lines;
}

/** Whether printing `b` right after `a` would make a different token (GCC cpp_avoid_paste, reduced). */
function avoidPaste(a: PTok, b: PTok): boolean {
  const x = a.t, y = b.t[0] ?? '';
  if (a.k === 'id') return b.k === 'id' || b.k === 'num' || b.k === 'chr' || b.k === 'str';
  if (a.k === 'num') return b.k === 'id' || b.k === 'num' || b.k === 'chr' || y === '.' || y === '+' || y === '-';
  if (a.k !== 'punct') return false;
  switch (x) {
    case '>': case '<': return y === x || y === '=' || y === ':' || y === '%';
    case '+': case '-': case '&': case '|': return y === x || y === '=' || (x === '-' && y === '>');
    case '#': case '%': return y === '#' || y === '=' || y === ':' || y === '%';
    case '/': return y === '/' || y === '*' || y === '=';
    case '.': return b.k === 'num' || y === '.';
    case ':': return y === ':' || y === '>';
    case '*': case '!': case '^': case '=': return y === '=';
    default: return false;
  }
}

/**
 * Bounds on work for one run. GNU cpp has none but the include depth; these stop include fan-out
 * (headers without guards, each included twice), exponential macros and nesting that would exhaust
 * the stack, far above what kernel sources need (of Linux 6.1's 2282 arm and arm64 boards, the most
 * expansion is am572x-idk.dts's: 76 K tokens, 224 K characters out).
 */
export const CPP_LIMITS = {
  /** #include directives followed, in all. */
  includes: 10_000,
  /** Tokens taken through macro expansion, in all. */
  tokens: 2_000_000,
  /** Output text, in characters. */
  output: 64 * 1024 * 1024,
  /** Macro calls nested in arguments, and parentheses and operators nested in #if. */
  nesting: 256,
} as const;

/**
 * The controlling macro of a file in GCC's sense: the first thing in it is `#ifndef X` (or
 * `#if !defined X` / `#if !defined(X)`), whose `#endif` (with no `#else`/`#elif` of its own) is the last
 * thing. Comments and empty lines may surround them.
 */
function guardMacro(lines: readonly Line[]): string | undefined {
  const real = lines.filter((l) => l.toks.length);
  const first = real[0]?.toks, last = real[real.length - 1]?.toks;
  if (!first || !last || first[0]?.t !== '#' || last[0]?.t !== '#' || last[1]?.t !== 'endif' || real.length < 2) return undefined;
  let name: string | undefined;
  const t = first.map((x) => x.t);
  if (t[1] === 'ifndef' && first.length === 3 && first[2]!.k === 'id') name = t[2];
  else if (t[1] === 'if' && t[2] === '!' && t[3] === 'defined') {
    if (first.length === 5 && first[4]!.k === 'id') name = t[4];
    else if (first.length === 7 && t[4] === '(' && first[5]!.k === 'id' && t[6] === ')') name = t[5];
  }
  if (name === undefined) return undefined;
  // the #ifndef's own #endif must be the last line, with no #else or #elif at its level
  let depth = 0;
  for (let i = 0; i < real.length; i++) {
    const l = real[i]!.toks;
    if (l[0]?.t !== '#') continue;
    const d = l[1]?.t;
    if (d === 'if' || d === 'ifdef' || d === 'ifndef') depth++;
    else if ((d === 'else' || d === 'elif') && depth === 1) return undefined;
    else if (d === 'endif' && --depth === 0 && i !== real.length - 1) return undefined;
  }
  return name;
}

const DIRECTIVES = new Set(['include', 'define', 'undef', 'if', 'ifdef', 'ifndef', 'elif', 'else', 'endif', 'error', 'warning', 'pragma', 'line', 'include_next', 'ident']);

export class Preprocessor {
  readonly macros = new Map<string, Macro>();
  /** Files read once that are wholly inside `#ifndef GUARD … #endif`: their guard macro. */
  readonly #guards = new Map<string, string>();
  readonly #out: string[] = [];
  #prev: PTok | undefined;
  #depth = 0;
  #includes = 0;
  #tokens = 0;
  #outLen = 0;
  /** Output state as GCC's print: the source line the output is at, its file, and whether text is on the line. */
  #srcLine = 0;
  #srcFile = '';
  #printed = false;
  #nest = 0;
  readonly #hide = new HideSets();
  readonly #opts: CppOptions;
  readonly #read: (p: string) => string;
  readonly #exists: (p: string) => boolean;

  constructor(opts: CppOptions = {}) {
    this.#opts = opts;
    this.#read = opts.readFile ?? ((p) => readTextSync(p, 'cpp', 'latin1'));
    this.#exists = opts.exists ?? ((p) => { try { return statSync(p).isFile(); } catch { return false; } });
    this.macros.set('__ASSEMBLER__', { body: [ptok('num', '1', false)] });
    for (const d of opts.defines ?? []) {
      const eq = d.indexOf('=');
      this.#define(tokenize(eq < 0 ? `${d} 1` : `${d.slice(0, eq)} ${d.slice(eq + 1)}`)[0]!.toks, '<command-line>');
    }
  }

  /** Preprocesses a file; returns the text dtc reads (with # linemarkers). */
  run(path: string): string {
    this.#file(path, undefined);
    if (this.#printed) this.#put('\n');
    return this.#out.join('');
  }

  #lines(path: string): Line[] {
    const c = this.#opts.cache;
    let l = c?.get(path);
    if (!l) {
      l = tokenize(this.#read(path));
      c?.set(path, l);
    }
    return l;
  }

  #file(path: string, parent: { path: string; line: number } | undefined, key = path): void {
    if (++this.#depth > 200) throw new CppError(`${path}: #include nested depth 200 exceeds maximum of 200`);
    if (parent && ++this.#includes > CPP_LIMITS.includes) throw new CppError(`${parent.path}:${parent.line}: more than ${CPP_LIMITS.includes} #include directives in all`);
    const lines = this.#lines(path);
    // entering a file: the includer is brought to the #include's line first
    if (parent) this.#put(this.#lineBreak(parent.line, parent.path));
    this.#put(this.#marker(1, path, parent ? ' 1' : ''));
    const cond: { taking: boolean; taken: boolean; parentTaking: boolean; sawElse: boolean }[] = [];
    const taking = (): boolean => cond.length === 0 || cond[cond.length - 1]!.taking;
    let text: PTok[] = [];
    const flushText = (): void => {
      if (text.length) this.#emit(this.#expand(text), path);
      text = [];
    };
    for (let li = 0; li < lines.length; li++) {
      const { toks, line } = lines[li]!;
      const first = toks[0];
      const d = first?.t === '#' ? toks[1] : undefined;
      const isDirective = first?.t === '#' && (toks.length === 1 || (d?.k === 'id' && DIRECTIVES.has(d.t)) || d?.k === 'num');
      if (!isDirective) {
        if (taking() && toks.length) {
          const first = copyTok(toks[0]!);
          first.nl = true;
          toks[0] = first;
          pushAll(text, toks);
        }
        continue;
      }
      if (!d) continue; // null directive
      const args = toks.slice(2);
      const where = `${path}:${line}`;
      switch (d.t) {
        case 'if': case 'ifdef': case 'ifndef': {
          if (!taking()) {
            cond.push({ taking: false, taken: true, parentTaking: false, sawElse: false });
            break;
          }
          flushText();
          const v = d.t === 'if' ? this.#evalIf(args, where) : this.macros.has(args[0]?.t ?? '') === (d.t === 'ifdef');
          cond.push({ taking: v, taken: v, parentTaking: true, sawElse: false });
          break;
        }
        case 'elif': {
          const c = cond[cond.length - 1];
          if (!c || c.sawElse) throw new CppError(`${where}: #elif without #if`);
          if (c.taking) flushText();
          if (c.taken || !c.parentTaking) c.taking = false;
          else {
            c.taking = this.#evalIf(args, where);
            c.taken = c.taking;
          }
          break;
        }
        case 'else': {
          const c = cond[cond.length - 1];
          if (!c || c.sawElse) throw new CppError(`${where}: #else without #if`);
          if (c.taking) flushText();
          c.sawElse = true;
          c.taking = c.parentTaking && !c.taken;
          c.taken = true;
          break;
        }
        case 'endif':
          if (!cond.length) throw new CppError(`${where}: #endif without #if`);
          if (taking()) flushText();
          cond.pop();
          break;
        default: {
          if (!taking()) break;
          flushText();
          if (d.t === 'define') this.#define(args, where);
          else if (d.t === 'undef') this.macros.delete(args[0]?.t ?? '');
          else if (d.t === 'include' || d.t === 'include_next') {
            const { target, key } = this.#includeTarget(args, path, where);
            // GCC's multiple-include optimization: a file read once whose guard macro is defined is not entered
            // again (no markers). GCC knows a file by the name as written and the folder it was found in, so
            // one file reached as "name" from its own folder and as <dir/name> is two files here too.
            const guard = this.#guards.get(key);
            if (guard !== undefined && this.macros.has(guard)) {
              if (++this.#includes > CPP_LIMITS.includes) throw new CppError(`${where}: more than ${CPP_LIMITS.includes} #include directives in all`);
              break;
            }
            this.#file(target, { path, line }, key);
            this.#put(this.#marker(line + 1, path, ' 2'));
          } else if (d.t === 'error') throw new CppError(`${where}: error: #error ${args.map((a) => a.t).join(' ')}`);
        }
      }
    }
    flushText();
    if (cond.length) throw new CppError(`${path}: unterminated #if`);
    const guard = guardMacro(lines);
    if (guard !== undefined) this.#guards.set(key, guard);
    this.#depth--;
  }

  /**
   * GCC's print_line: ends the text line, then `# LINE "FILE" FLAGS`. Output lines are counted from
   * there (#srcLine), so that each source line's text lands on its own line number, as dtc reads it.
   */
  #marker(line: number, path: string, flag: string): string {
    const s = `${this.#printed ? '\n' : ''}# ${line} "${path.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"${flag}\n`;
    this.#printed = false;
    this.#srcLine = line;
    this.#srcFile = path;
    this.#prev = undefined;
    return s;
  }

  /** GCC's maybe_print_line: ends the text line; up to 7 lines ahead are reached with empty lines, anything else with a marker. */
  #lineBreak(line: number, path: string): string {
    let s = '';
    if (this.#printed) {
      s += '\n';
      this.#srcLine++;
      this.#printed = false;
    }
    if (line >= this.#srcLine && line < this.#srcLine + 8 && path === this.#srcFile) {
      if (line > this.#srcLine) s += '\n'.repeat(line - this.#srcLine);
      this.#srcLine = line;
      return s;
    }
    return s + this.#marker(line, path, '');
  }

  #emit(toks: PTok[], path: string): void {
    let prev = this.#prev;
    let s = '';
    for (const t of toks) {
      if (t.nl && t.line !== undefined) {
        // GCC's cb_line_change: a new line, then spaces to the token's column (less the one PREV_WHITE adds)
        s += this.#lineBreak(t.line, path);
        if (t.col! > 2) s += ' '.repeat(t.col! - 2);
        prev = undefined;
      }
      if (prev && (t.w || (t.pad && avoidPaste(prev, t)))) s += ' ';
      else if (!prev && t.w) s += ' ';
      s += t.t;
      prev = t;
      this.#printed = true;
    }
    this.#put(s);
    this.#prev = prev;
  }

  #put(s: string): void {
    this.#outLen += s.length;
    if (this.#outLen > CPP_LIMITS.output) throw new CppError(`output larger than ${CPP_LIMITS.output} characters`);
    this.#out.push(s);
  }

  /** The file an #include names, and how GCC knows it: the folder it was found in and the name as written. */
  #includeTarget(args: PTok[], from: string, where: string): { target: string; key: string } {
    let a = args;
    if (a[0]?.k !== 'str' && a[0]?.t !== '<') a = this.#expand(a.map((t) => copyTok(t)));
    let name: string, quoted: boolean;
    if (a[0]?.k === 'str') {
      name = a[0].t.slice(1, -1);
      quoted = true;
    } else if (a[0]?.t === '<') {
      const end = a.findIndex((t) => t.t === '>');
      if (end < 0) throw new CppError(`${where}: #include expects "FILENAME" or <FILENAME>`);
      name = a.slice(1, end).map((t, i) => (i && t.w ? ' ' : '') + t.t).join('');
      quoted = false;
    } else throw new CppError(`${where}: #include expects "FILENAME" or <FILENAME>`);
    if (isAbsolute(name)) return { target: name, key: name };
    const dirs = [...(quoted ? [dirname(from)] : []), ...(this.#opts.includeDirs ?? [])];
    for (const dir of dirs) {
      const p = join(dir, name);
      if (this.#exists(p)) return { target: p, key: `${dir}\0${name}` };
    }
    throw new CppError(`${where}: fatal error: ${name}: No such file or directory`);
  }

  #define(args: PTok[], where: string): void {
    const name = args[0];
    if (!name || name.k !== 'id') throw new CppError(`${where}: macro names must be identifiers`);
    let body: PTok[];
    const m: Macro = { body: [] };
    if (args[1]?.t === '(' && !args[1].w) {
      const params: string[] = [];
      let i = 2;
      for (; i < args.length && args[i]!.t !== ')'; i++) {
        const t = args[i]!;
        if (t.t === ',') continue;
        if (t.t === '...') {
          m.variadic = true;
          params.push('__VA_ARGS__');
        } else if (t.k === 'id') {
          if (args[i + 1]?.t === '...') {
            m.variadic = true;
            i++;
          }
          params.push(t.t);
        } else throw new CppError(`${where}: expected parameter name, found "${t.t}"`);
      }
      if (i >= args.length) throw new CppError(`${where}: missing ')' in macro parameter list`);
      m.params = params;
      body = args.slice(i + 1);
    } else body = args.slice(1);
    m.body = body.slice();
    if (body.length) m.body[0] = copyTok(body[0]!, false);
    this.macros.set(name.t, m);
  }

  /** Fully macro-expands a token list (Prosser's algorithm with hide sets). */
  #expand(input: PTok[]): PTok[] {
    if (++this.#nest > CPP_LIMITS.nesting) throw new CppError(`macro calls nested more than ${CPP_LIMITS.nesting} deep in arguments`);
    try {
      return this.#expandAll(input);
    } finally {
      this.#nest--;
    }
  }

  #expandAll(input: PTok[]): PTok[] {
    const out: PTok[] = [];
    // work stack, reversed: the next token is at the end
    const stack = input.slice().reverse();
    let padNext = false;
    while (stack.length) {
      if (++this.#tokens > CPP_LIMITS.tokens) throw new CppError(`more than ${CPP_LIMITS.tokens} tokens through macro expansion`);
      let t = stack.pop()!;
      if (padNext) {
        t = copyTok(t, t.w, true);
        padNext = false;
      }
      const m = t.k === 'id' ? this.macros.get(t.t) : undefined;
      if (!m || t.hide?.has(t.t)) {
        out.push(t);
        continue;
      }
      if (!m.params) {
        const hs = this.#hide.add(t.hide, t.t);
        const body = this.#subst(m, [], hs);
        this.#pushExpansion(stack, body, t);
        padNext = body.length === 0;
        continue;
      }
      // function-like: needs '(' next (newlines are whitespace)
      const open = stack[stack.length - 1];
      if (!open || open.t !== '(') {
        out.push(t);
        continue;
      }
      stack.pop();
      const args: PTok[][] = [[]];
      let depth = 0;
      let close: PTok | undefined;
      while (stack.length) {
        const a = stack.pop()!;
        if (a.t === '(') depth++;
        else if (a.t === ')') {
          if (depth === 0) {
            close = a;
            break;
          }
          depth--;
        } else if (a.t === ',' && depth === 0 && !(m.variadic && args.length === m.params.length)) {
          args.push([]);
          continue;
        }
        args[args.length - 1]!.push(a);
      }
      if (!close) throw new CppError(`unterminated argument list invoking macro "${t.t}"`);
      if (m.params.length === 0 && args.length === 1 && args[0]!.length === 0) args.length = 0;
      if (args.length !== m.params.length && !(m.variadic && args.length === m.params.length - 1)) {
        if (!(m.params.length === 1 && args.length === 0))
          throw new CppError(`macro "${t.t}" passed ${args.length} arguments, but takes ${m.params.length}`);
      }
      while (args.length < m.params.length) args.push([]);
      const hs = this.#hide.add(intersect(t.hide, close.hide), t.t);
      const body = this.#subst(m, args, hs);
      this.#pushExpansion(stack, body, t);
      padNext = body.length === 0;
    }
    return out;
  }

  #pushExpansion(stack: PTok[], body: PTok[], from: PTok): void {
    const next = stack[stack.length - 1];
    if (next) stack[stack.length - 1] = copyTok(next, next.w, true);
    for (let i = body.length - 1; i > 0; i--) stack.push(body[i]!);
    if (body.length) {
      const b = copyTok(body[0]!, from.w, true);
      b.nl = from.nl;
      b.line = from.line;
      b.col = from.col;
      stack.push(b);
    }
  }

  #subst(m: Macro, args: PTok[][], hs: ReadonlySet<string>): PTok[] {
    const params = m.params ?? [];
    const body = m.body;
    const out: PTok[] = [];
    const expanded = new Map<number, PTok[]>();
    const argIndex = (t: PTok | undefined): number => (t && t.k === 'id' ? params.indexOf(t.t) : -1);
    let padNext = false;
    for (let i = 0; i < body.length; i++) {
      const t = body[i]!;
      if (t.t === '#' && params.length && argIndex(body[i + 1]) >= 0) {
        const a = args[argIndex(body[i + 1])]!;
        out.push(ptok('str', stringify(a), t.w));
        i++;
        continue;
      }
      if (t.t === '##' && out.length && i + 1 < body.length) {
        const rhsTok = body[i + 1]!;
        const ai = argIndex(rhsTok);
        let rhs: PTok[] = ai >= 0 ? args[ai]! : [rhsTok];
        i++;
        // GNU: , ## __VA_ARGS__ with empty args drops the comma
        if (ai >= 0 && rhsTok.t === '__VA_ARGS__' && out[out.length - 1]!.t === ',' && rhs.length === 0) {
          out.pop();
          continue;
        }
        if (rhs.length === 0) continue;
        const lhs = out.pop()!;
        const pasted = retoken(lhs.t + rhs[0]!.t, lhs.w);
        pushAll(out, pasted);
        // copies: the hide sets set below must not reach the argument's tokens (cached lines' own)
        for (let k = 1; k < rhs.length; k++) out.push(copyTok(rhs[k]!));
        continue;
      }
      const ai = argIndex(t);
      if (ai >= 0) {
        if (body[i + 1]?.t === '##') {
          const a = args[ai]!;
          if (a.length) {
            out.push(copyTok(a[0]!, t.w));
            for (let k = 1; k < a.length; k++) out.push(copyTok(a[k]!));
          }
          continue;
        }
        let e = expanded.get(ai);
        if (!e) expanded.set(ai, (e = this.#expand(args[ai]!.map((x) => {
          const c = copyTok(x);
          c.nl = false;
          return c;
        }))));
        if (e.length) {
          out.push(copyTok(e[0]!, t.w, true));
          pushAll(out, e, 1);
        }
        padNext = true;
        continue;
      }
      out.push(copyTok(t, t.w, padNext || t.pad));
      padNext = false;
    }
    for (const t of out) t.hide = this.#hide.union(t.hide, hs);
    return out;
  }

  #evalIf(args: PTok[], where: string): boolean {
    // defined X / defined(X) first, then expand, then remaining identifiers are 0
    const pre: PTok[] = [];
    for (let i = 0; i < args.length; i++) {
      const t = args[i]!;
      if (t.t === 'defined') {
        let name = args[i + 1];
        if (name?.t === '(') {
          name = args[i + 2];
          i += 3;
        } else i += 1;
        pre.push(ptok('num', name && this.macros.has(name.t) ? '1' : '0', true));
      } else pre.push(t);
    }
    const toks = this.#expand(pre).map((t) => {
      if (t.k !== 'id') return t;
      const zero = copyTok(t);
      zero.k = 'num';
      zero.t = '0';
      return zero;
    });
    return new IfExpr(toks, where).eval() !== 0n;
  }
}

function retoken(text: string, w: boolean): PTok[] {
  const l = tokenize(text);
  const toks = l.flatMap((x) => x.toks);
  if (toks.length) toks[0] = copyTok(toks[0]!, w);
  return toks;
}

function stringify(a: PTok[]): string {
  let s = '';
  a.forEach((t, i) => {
    if (i && t.w) s += ' ';
    s += t.k === 'str' || t.k === 'chr' ? t.t.replace(/[\\"]/g, '\\$&') : t.t;
  });
  return `"${s}"`;
}

/** Appends `src[from…]` one by one (a spread of a long array overflows the stack). */
function pushAll<T>(dst: T[], src: readonly T[], from = 0): void {
  for (let i = from; i < src.length; i++) dst.push(src[i]!);
}

/**
 * Hide sets of one preprocessor run, made once per distinct operands and shared by the tokens that
 * carry them (never changed after they are made): an expansion's tokens hold one set, not a copy each.
 */
class HideSets {
  readonly #empty: ReadonlySet<string> = new Set();
  readonly #added = new Map<ReadonlySet<string>, Map<string, ReadonlySet<string>>>();
  readonly #unions = new Map<ReadonlySet<string>, Map<ReadonlySet<string>, ReadonlySet<string>>>();
  /** `h` plus `name`. */
  add(h: ReadonlySet<string> | undefined, name: string): ReadonlySet<string> {
    const from = h ?? this.#empty;
    let byName = this.#added.get(from);
    if (!byName) this.#added.set(from, (byName = new Map()));
    let s = byName.get(name);
    if (!s) {
      const u = new Set(from);
      u.add(name);
      byName.set(name, (s = u));
    }
    return s;
  }
  union(a: ReadonlySet<string> | undefined, b: ReadonlySet<string>): ReadonlySet<string> {
    if (!a || a.size === 0) return b;
    let byB = this.#unions.get(a);
    if (!byB) this.#unions.set(a, (byB = new Map()));
    let s = byB.get(b);
    if (!s) {
      const u = new Set(a);
      for (const x of b) u.add(x);
      byB.set(b, (s = u));
    }
    return s;
  }
}

function intersect(a: ReadonlySet<string> | undefined, b: ReadonlySet<string> | undefined): ReadonlySet<string> {
  if (!a || !b) return new Set();
  return new Set([...a].filter((x) => b.has(x)));
}

const M64 = (1n << 64n) - 1n;
const s64 = (v: bigint): bigint => BigInt.asIntN(64, v);

/** #if expressions on intmax_t (64-bit signed). */
class IfExpr {
  #i = 0;
  #depth = 0;
  constructor(readonly toks: PTok[], readonly where: string) {}
  eval(): bigint {
    const v = this.#cond();
    if (this.#i < this.toks.length) throw new CppError(`${this.where}: missing binary operator before token "${this.toks[this.#i]!.t}"`);
    return v;
  }
  #peek(): string {
    return this.toks[this.#i]?.t ?? '';
  }
  #cond(): bigint {
    const c = this.#bin(0);
    if (this.#peek() === '?') {
      this.#i++;
      const a = this.#nested(() => this.#cond());
      if (this.#peek() !== ':') throw new CppError(`${this.where}: '?' without following ':'`);
      this.#i++;
      const b = this.#nested(() => this.#cond());
      return c ? a : b;
    }
    return c;
  }
  #bin(level: number): bigint {
    const ops = IF_LEVELS[level];
    if (!ops) return this.#unary();
    let l = this.#bin(level + 1);
    while (ops.includes(this.#peek())) {
      const op = this.toks[this.#i++]!.t;
      const r = this.#bin(level + 1);
      l = ifApply(op, l, r, this.where);
    }
    return l;
  }
  /** Runs one level of a nested form, bounded (the parser recurses per level). */
  #nested<T>(fn: () => T): T {
    if (++this.#depth > CPP_LIMITS.nesting) throw new CppError(`${this.where}: #if expression nested more than ${CPP_LIMITS.nesting} deep`);
    try {
      return fn();
    } finally {
      this.#depth--;
    }
  }
  #unary(): bigint {
    return this.#nested(() => this.#unaryAt());
  }
  #unaryAt(): bigint {
    const t = this.toks[this.#i++];
    if (!t) throw new CppError(`${this.where}: #if with no expression`);
    switch (t.t) {
      case '-': return s64(-this.#unary());
      case '+': return this.#unary();
      case '~': return s64(~this.#unary());
      case '!': return this.#unary() ? 0n : 1n;
      case '(': {
        const v = this.#cond();
        if (this.#peek() !== ')') throw new CppError(`${this.where}: missing ')' in expression`);
        this.#i++;
        return v;
      }
    }
    if (t.k === 'num') {
      const s = t.t.replace(/[uUlL]+$/, '');
      try {
        return s64(/^0[0-7]+$/.test(s) ? BigInt('0o' + s.slice(1)) : BigInt(s));
      } catch {
        throw new CppError(`${this.where}: invalid integer "${t.t}" in #if`);
      }
    }
    if (t.k === 'chr') {
      const inner = t.t.slice(1, -1);
      return BigInt(inner.startsWith('\\') ? ({ n: 10, t: 9, r: 13, '0': 0, '\\': 92, "'": 39 } as Record<string, number>)[inner[1]!] ?? 0 : inner.charCodeAt(0));
    }
    throw new CppError(`${this.where}: token "${t.t}" is not valid in preprocessor expressions`);
  }
}
const IF_LEVELS: readonly (readonly string[])[] = [['||'], ['&&'], ['|'], ['^'], ['&'], ['==', '!='], ['<', '>', '<=', '>='], ['<<', '>>'], ['+', '-'], ['*', '/', '%']];
function ifApply(op: string, a: bigint, b: bigint, where: string): bigint {
  switch (op) {
    case '||': return a || b ? 1n : 0n;
    case '&&': return a && b ? 1n : 0n;
    case '|': return a | b;
    case '^': return a ^ b;
    case '&': return a & b;
    case '==': return a === b ? 1n : 0n;
    case '!=': return a !== b ? 1n : 0n;
    case '<': return a < b ? 1n : 0n;
    case '>': return a > b ? 1n : 0n;
    case '<=': return a <= b ? 1n : 0n;
    case '>=': return a >= b ? 1n : 0n;
    case '<<': return s64(a << (b & 63n));
    case '>>': return a >> (b & 63n);
    case '+': return s64(a + b);
    case '-': return s64(a - b);
    case '*': return s64(a * b);
    case '/': case '%':
      if (b === 0n) throw new CppError(`${where}: division by zero in #if`);
      return op === '/' ? a / b : a % b;
  }
  void M64;
  return 0n;
}

/** Runs the preprocessor on one file, as `cpp -nostdinc -I… -undef -D… -x assembler-with-cpp`. */
export function preprocess(path: string, opts: CppOptions = {}): string {
  return new Preprocessor(opts).run(path);
}
