/**
 * A small TOML reader for RustSec front matter (no dependency): tables, dotted/quoted keys, basic and
 * literal strings (single- and multi-line), integers, floats, booleans, bare dates/times (returned as
 * strings), arrays (multi-line, trailing comma, comments) and inline tables. Arrays of tables
 * (`[[x]]`) are supported. It throws TomlError with a line number on anything else.
 */

export class TomlError extends Error {
  override name = 'TomlError';
}

export type TomlValue = string | number | boolean | TomlValue[] | TomlTable;
export interface TomlTable {
  [key: string]: TomlValue;
}

const BARE_KEY = /[A-Za-z0-9_-]/;

export function parseToml(text: string): TomlTable {
  let pos = 0;
  const root: TomlTable = {};
  let current: TomlTable = root;
  const defined = new Set<TomlTable>();

  const lineNo = (): number => text.slice(0, pos).split('\n').length;
  const fail = (msg: string): never => {
    throw new TomlError(`line ${lineNo()}: ${msg}`);
  };
  const peek = (n = 0): string => text[pos + n] ?? '';
  const skipWs = (): void => {
    while (peek() === ' ' || peek() === '\t') pos++;
  };
  const skipComment = (): void => {
    if (peek() === '#') while (pos < text.length && peek() !== '\n') pos++;
  };
  /** Whitespace, newlines and comments (inside arrays). */
  const skipAll = (): void => {
    for (;;) {
      skipWs();
      skipComment();
      if (peek() === '\n' || peek() === '\r') pos++;
      else break;
    }
  };
  const endOfLine = (): void => {
    skipWs();
    skipComment();
    if (peek() === '\r') pos++;
    if (pos < text.length && peek() !== '\n') fail(`unexpected ${JSON.stringify(peek())}`);
    pos++;
  };

  const parseBasicString = (): string => {
    const multi = text.startsWith('"""', pos);
    pos += multi ? 3 : 1;
    if (multi && peek() === '\n') pos++;
    else if (multi && peek() === '\r' && peek(1) === '\n') pos += 2;
    let s = '';
    for (;;) {
      if (pos >= text.length) fail('unterminated string');
      const c = peek();
      if (multi ? text.startsWith('"""', pos) : c === '"') {
        pos += multi ? 3 : 1;
        return s;
      }
      if (!multi && c === '\n') fail('newline in string');
      if (c === '\\') {
        const e = peek(1);
        pos += 2;
        if (e === 'n') s += '\n';
        else if (e === 't') s += '\t';
        else if (e === 'r') s += '\r';
        else if (e === 'b') s += '\b';
        else if (e === 'f') s += '\f';
        else if (e === '"') s += '"';
        else if (e === '\\') s += '\\';
        else if (e === 'u' || e === 'U') {
          const len = e === 'u' ? 4 : 8;
          const hex = text.slice(pos, pos + len);
          if (!/^[0-9A-Fa-f]+$/.test(hex) || hex.length !== len) fail('bad unicode escape');
          s += String.fromCodePoint(Number.parseInt(hex, 16));
          pos += len;
        } else if (multi && (e === '\n' || e === ' ' || e === '\t' || e === '\r')) {
          pos--; // line-ending backslash: trim whitespace up to the next non-blank
          while (/[\s]/.test(peek())) pos++;
        } else fail(`bad escape \\${e}`);
        continue;
      }
      s += c;
      pos++;
    }
  };

  const parseLiteralString = (): string => {
    const multi = text.startsWith("'''", pos);
    pos += multi ? 3 : 1;
    if (multi && peek() === '\n') pos++;
    const end = text.indexOf(multi ? "'''" : "'", pos);
    if (end < 0) fail('unterminated literal string');
    const s = text.slice(pos, end);
    if (!multi && s.includes('\n')) fail('newline in literal string');
    pos = end + (multi ? 3 : 1);
    return s;
  };

  const parseKeyPart = (): string => {
    const c = peek();
    if (c === '"') return parseBasicString();
    if (c === "'") return parseLiteralString();
    const start = pos;
    while (BARE_KEY.test(peek())) pos++;
    if (pos === start) fail(`expected a key, got ${JSON.stringify(c)}`);
    return text.slice(start, pos);
  };

  const parseKey = (): string[] => {
    const parts: string[] = [];
    for (;;) {
      skipWs();
      parts.push(parseKeyPart());
      skipWs();
      if (peek() !== '.') return parts;
      pos++;
    }
  };

  const parseValue = (): TomlValue => {
    const c = peek();
    if (c === '"') return parseBasicString();
    if (c === "'") return parseLiteralString();
    if (c === '[') {
      pos++;
      const arr: TomlValue[] = [];
      for (;;) {
        skipAll();
        if (peek() === ']') {
          pos++;
          return arr;
        }
        arr.push(parseValue());
        skipAll();
        if (peek() === ',') pos++;
        else if (peek() !== ']') fail(`expected , or ] in array, got ${JSON.stringify(peek())}`);
      }
    }
    if (c === '{') {
      pos++;
      const table: TomlTable = {};
      skipWs();
      if (peek() === '}') {
        pos++;
        return table;
      }
      for (;;) {
        const key = parseKey();
        skipWs();
        if (peek() !== '=') fail('expected = in inline table');
        pos++;
        skipWs();
        assign(table, key, parseValue());
        skipWs();
        if (peek() === ',') {
          pos++;
          continue;
        }
        if (peek() === '}') {
          pos++;
          return table;
        }
        fail('expected , or } in inline table');
      }
    }
    const m = /^[^\s,\]}#]+(?: \d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?/.exec(
      text.slice(pos),
    );
    if (!m) return fail(`expected a value, got ${JSON.stringify(c)}`);
    const word = m[0];
    pos += word.length;
    if (word === 'true') return true;
    if (word === 'false') return false;
    if (/^[+-]?(0|[1-9](_?\d)*)$/.test(word)) return Number(word.replace(/_/g, ''));
    if (/^0x[0-9A-Fa-f_]+$|^0o[0-7_]+$|^0b[01_]+$/.test(word)) return Number(word.replace(/_/g, ''));
    if (/^[+-]?(\d[\d_]*)(\.\d[\d_]*)?([eE][+-]?\d+)?$/.test(word)) return Number(word.replace(/_/g, ''));
    if (/^[+-]?(inf|nan)$/.test(word))
      return word.includes('nan') ? Number.NaN : word.startsWith('-') ? -Infinity : Infinity;
    if (
      /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$|^\d{2}:\d{2}:\d{2}(\.\d+)?$/.test(
        word,
      )
    )
      return word;
    return fail(`bad value ${JSON.stringify(word)}`);
  };

  const assign = (table: TomlTable, key: string[], value: TomlValue): void => {
    let t = table;
    for (const part of key.slice(0, -1)) {
      const next = t[part];
      if (next === undefined) t = t[part] = {};
      else if (typeof next === 'object' && !Array.isArray(next)) t = next;
      else fail(`key ${part} is not a table`);
    }
    const last = key[key.length - 1] as string;
    if (Object.hasOwn(t, last)) fail(`duplicate key ${key.join('.')}`);
    t[last] = value;
  };

  const openTable = (key: string[], arrayOfTables: boolean): TomlTable => {
    let t = root;
    for (const [i, part] of key.entries()) {
      const isLast = i === key.length - 1;
      const next = t[part];
      if (isLast && arrayOfTables) {
        if (next === undefined) t[part] = [];
        const arr = t[part];
        if (!Array.isArray(arr)) return fail(`${key.join('.')} is not an array of tables`);
        const fresh: TomlTable = {};
        arr.push(fresh);
        return fresh;
      }
      if (next === undefined) t = t[part] = {};
      else if (Array.isArray(next)) {
        const lastEl = next[next.length - 1];
        if (!lastEl || typeof lastEl !== 'object' || Array.isArray(lastEl)) fail(`${part} is not a table`);
        t = lastEl as TomlTable;
      } else if (typeof next === 'object') t = next;
      else fail(`${part} is not a table`);
    }
    if (defined.has(t)) fail(`table [${key.join('.')}] defined twice`);
    defined.add(t);
    return t;
  };

  while (pos < text.length) {
    skipWs();
    const c = peek();
    if (c === '#' || c === '\n' || c === '\r' || c === '') {
      endOfLine();
      continue;
    }
    if (c === '[') {
      const aot = peek(1) === '[';
      pos += aot ? 2 : 1;
      const key = parseKey();
      if (peek() !== ']' || (aot && peek(1) !== ']')) fail('expected ] after table name');
      pos += aot ? 2 : 1;
      current = openTable(key, aot);
      endOfLine();
      continue;
    }
    const key = parseKey();
    skipWs();
    if (peek() !== '=') fail(`expected = after key ${key.join('.')}`);
    pos++;
    skipWs();
    assign(current, key, parseValue());
    endOfLine();
  }
  return root;
}
