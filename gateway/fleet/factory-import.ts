import { parse } from 'csv-parse/sync';
import { isValidEndpointName } from '../../protocol/endpoint.js';
import { isValidLabel, LABEL_RULE } from '../../protocol/labels.js';

/**
 * The factory CSV: what a manufacturing line hands over, one device per line.
 *
 *   endpoint,secret,model,tags,groups
 *   th1-0001,3q2-…,EDM-TH1,sensor;rooftop,north
 *
 * `endpoint` and `secret` are required; tags and groups are `;`-separated. Column order is
 * free (the header names them); unknown columns are an error, so a typo is not silently lost.
 */
export interface FactoryIdentity {
  endpoint: string;
  secret: string;
  model?: string;
  tags: string[];
  groups: string[];
}

export interface FactoryCsvError {
  line: number;
  message: string;
}

export const FACTORY_CSV_COLUMNS = ['endpoint', 'secret', 'model', 'tags', 'groups'] as const;
/** Factory secrets are device keys, not passwords: anything shorter is guessable. */
export const MIN_SECRET_LENGTH = 16;
const MAX_SECRET_LENGTH = 512;

/** Parses the whole file; the caller imports nothing unless `errors` is empty. Errors never quote a secret. */
export function parseFactoryCsv(text: string): { rows: FactoryIdentity[]; errors: FactoryCsvError[] } {
  let records: string[][];
  try {
    records = parse(text, { bom: true, skip_empty_lines: true, trim: true, relax_column_count: true, comment: '#' }) as string[][];
  } catch (err) {
    const e = err as { lines?: number; message: string };
    // csv-parse messages may quote a field, which may be a secret: report the line only.
    return { rows: [], errors: [{ line: e.lines ?? 1, message: 'not valid CSV (check quoting)' }] };
  }
  if (records.length === 0) return { rows: [], errors: [{ line: 1, message: 'the file is empty' }] };

  const header = records[0]!.map((h) => h.toLowerCase());
  const errors: FactoryCsvError[] = [];
  const unknown = header.filter((h) => !(FACTORY_CSV_COLUMNS as readonly string[]).includes(h));
  if (unknown.length > 0) errors.push({ line: 1, message: `unknown column(s) ${unknown.join(', ')}; expected ${FACTORY_CSV_COLUMNS.join(',')}` });
  for (const required of ['endpoint', 'secret']) {
    if (!header.includes(required)) errors.push({ line: 1, message: `the header has no "${required}" column` });
  }
  if (errors.length > 0) return { rows: [], errors };

  const col = (row: string[], name: string) => row[header.indexOf(name)] ?? '';
  const seen = new Map<string, number>();
  const rows: FactoryIdentity[] = [];
  records.slice(1).forEach((row, i) => {
    const line = i + 2;
    const fail = (message: string) => errors.push({ line, message });
    if (row.length !== header.length) return fail(`expected ${header.length} fields, found ${row.length}`);
    const endpoint = col(row, 'endpoint');
    const secret = col(row, 'secret');
    if (!isValidEndpointName(endpoint)) return fail(`invalid endpoint name "${endpoint}"`);
    if (seen.has(endpoint)) return fail(`endpoint "${endpoint}" already appears on line ${seen.get(endpoint)}`);
    seen.set(endpoint, line);
    if (secret.length < MIN_SECRET_LENGTH || secret.length > MAX_SECRET_LENGTH) {
      return fail(`the secret of "${endpoint}" must be ${MIN_SECRET_LENGTH}-${MAX_SECRET_LENGTH} characters`);
    }
    const tags = splitLabels(col(row, 'tags'));
    const groups = splitLabels(col(row, 'groups'));
    const bad = [...tags, ...groups].find((l) => !isValidLabel(l));
    if (bad !== undefined) return fail(`invalid tag or group "${bad}": use ${LABEL_RULE}`);
    const model = col(row, 'model');
    rows.push({ endpoint, secret, ...(model ? { model } : {}), tags, groups });
  });
  return { rows: errors.length > 0 ? [] : rows, errors };
}

export function formatFactoryCsv(identities: ReadonlyArray<Omit<FactoryIdentity, 'model'> & { model?: string | undefined }>): string {
  const lines = [FACTORY_CSV_COLUMNS.join(',')];
  for (const d of identities) {
    lines.push([d.endpoint, d.secret, d.model ?? '', d.tags.join(';'), d.groups.join(';')].map(csvField).join(','));
  }
  return lines.join('\n') + '\n';
}

function splitLabels(field: string): string[] {
  return [...new Set(field.split(';').map((s) => s.trim()).filter(Boolean))];
}

function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
