/**
 * CSV (RFC 4180): a header row, comma-separated fields, double-quoted fields with "" escapes and
 * embedded commas or newlines, LF or CRLF. Every row must have as many fields as the header.
 */
import { InputError, listNames, quote } from '../errors.js';
import { readInputFile } from './files.js';

export interface Csv {
  path: string;
  columns: string[];
  rows: string[][];
  /** 1-based line number of each row in the file (for error messages). */
  lines: number[];
}

export function parseCsv(text: string, path = 'csv'): Csv {
  const src = text.replace(/^\uFEFF/, '');
  const records: { fields: string[]; line: number }[] = [];
  let field = '';
  let fields: string[] = [];
  let quoted = false;
  let line = 1;
  let recordLine = 1;
  let i = 0;
  const endField = (): void => {
    fields.push(field);
    field = '';
  };
  const endRecord = (): void => {
    endField();
    if (!(fields.length === 1 && fields[0] === '')) records.push({ fields, line: recordLine });
    fields = [];
  };
  while (i < src.length) {
    const c = src[i];
    if (quoted) {
      if (c === '"') {
        if (src[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      if (c === '\n') line++;
      field += c;
      i++;
      continue;
    }
    if (c === '"' && field === '') {
      quoted = true;
      i++;
    } else if (c === ',') {
      endField();
      i++;
    } else if (c === '\n' || c === '\r') {
      endRecord();
      if (c === '\r' && src[i + 1] === '\n') i++;
      i++;
      line++;
      recordLine = line;
    } else {
      field += c;
      i++;
    }
  }
  if (quoted) throw new InputError(`${path}: a quoted field starting on line ${recordLine} is never closed`);
  if (field !== '' || fields.length > 0) endRecord();
  if (records.length === 0) throw new InputError(`${path}: the file is empty`);
  const columns = records[0].fields.map((c) => c.trim());
  if (columns.some((c) => c === '')) throw new InputError(`${path}: the header row has an empty column name`);
  const seen = new Set<string>();
  for (const c of columns) {
    if (seen.has(c)) throw new InputError(`${path}: the header names the column ${quote(c)} twice`);
    seen.add(c);
  }
  if (records.length === 1) throw new InputError(`${path}: has a header row but no data rows`);
  const rows: string[][] = [];
  const lines: number[] = [];
  for (const r of records.slice(1)) {
    if (r.fields.length !== columns.length) {
      throw new InputError(`${path} line ${r.line}: ${r.fields.length} fields, but the header has ${columns.length} (${listNames(columns)})`);
    }
    rows.push(r.fields);
    lines.push(r.line);
  }
  return { path, columns, rows, lines };
}

export function readCsv(path: string): Csv {
  const bytes = readInputFile(path, 'csv');
  if (bytes.length === 0) throw new InputError(`${path}: the file is empty`);
  if (bytes.indexOf(0) >= 0) throw new InputError(`${path}: looks binary (NUL bytes); expected CSV text`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new InputError(`${path}: is not valid UTF-8 text`);
  }
  return parseCsv(text, path);
}

export function columnIndex(csv: Csv, name: string, flag: string): number {
  const i = csv.columns.indexOf(name);
  if (i < 0) throw new InputError(`${csv.path}: no column ${quote(name)} (${flag}); the columns are ${listNames(csv.columns)}`);
  return i;
}

/** A column as numbers; a cell that is not a number is named by line and column. */
export function numericColumn(csv: Csv, name: string, flag: string): Float64Array {
  const j = columnIndex(csv, name, flag);
  const out = new Float64Array(csv.rows.length);
  for (let r = 0; r < csv.rows.length; r++) {
    const cell = csv.rows[r][j].trim();
    const v = cell === '' ? NaN : Number(cell);
    if (!Number.isFinite(v)) {
      throw new InputError(`${csv.path} line ${csv.lines[r]}, column "${name}": ${cell === '' ? 'empty' : quote(cell)} is not a number`);
    }
    out[r] = v;
  }
  return out;
}

/** One CSV line: fields with a comma, quote or line break are quoted, quotes doubled. */
export function csvLine(fields: readonly (string | number)[]): string {
  return fields.map((f) => (typeof f === 'number' ? String(f) : /[",\r\n]/.test(f) ? `"${f.replace(/"/g, '""')}"` : f)).join(',');
}
