/**
 * Generates protocol/model/objects/definitions.generated.ts from the OMA LwM2M registry XML
 * files in protocol/model/objects/registry/. Run: `npm run generate:objects`.
 *
 * The XML is parsed here, at build time only, so the runtime needs neither the files nor an
 * XML parser. `generateDefinitionsSource` is pure (reads, never writes) so a test can check
 * that the generated file on disk is up to date.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { RESOURCE_OPERATIONS, type ObjectDefinition, type ResourceDefinition, type ResourceOperations } from '../protocol/model/objects/definition.js';
import type { ResourceType } from '../protocol/model/value.js';

export class RegistryFormatError extends Error {
  constructor(readonly file: string, reason: string) {
    super(`${file}: ${reason}`);
    this.name = 'RegistryFormatError';
  }
}

const TYPES: Readonly<Record<string, ResourceType>> = {
  String: 'string',
  Integer: 'integer',
  'Unsigned Integer': 'unsigned',
  Float: 'float',
  Boolean: 'boolean',
  Opaque: 'opaque',
  Time: 'time',
  Objlnk: 'objlnk',
  Corelnk: 'corelnk',
  '': 'none',
};

const OPERATIONS: ReadonlySet<string> = new Set(RESOURCE_OPERATIONS);

/** `5.xml` holds the current definition of object 5; `5-1_0.xml` its version 1.0. */
const CURRENT_FILE = /^(\d+)\.xml$/;
const LEGACY_FILE = /^(\d+)-\d+_\d+\.xml$/;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  isArray: (name) => name === 'Item',
});

type XmlNode = Record<string, unknown>;

/** Parses one registry file into an ObjectDefinition; throws RegistryFormatError on anything unexpected. */
export function parseObjectXml(xml: string, file: string): ObjectDefinition {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new RegistryFormatError(file, `malformed XML at line ${valid.err.line}: ${valid.err.msg}`);
  const root = parser.parse(xml) as XmlNode;
  const object = (root['LWM2M'] as XmlNode | undefined)?.['Object'];
  if (!isNode(object)) throw new RegistryFormatError(file, 'no <LWM2M><Object> element');

  const text = (node: XmlNode, tag: string, where: string): string => {
    const v = node[tag];
    if (v === undefined) throw new RegistryFormatError(file, `${where}: missing <${tag}>`);
    if (typeof v !== 'string') throw new RegistryFormatError(file, `${where}: <${tag}> is not text`);
    return v.trim();
  };
  const optionalText = (node: XmlNode, tag: string): string => (typeof node[tag] === 'string' ? (node[tag] as string).trim() : '');
  const flag = (node: XmlNode, tag: string, yes: string, no: string, where: string): boolean => {
    const v = text(node, tag, where);
    if (v === yes) return true;
    if (v === no) return false;
    throw new RegistryFormatError(file, `${where}: <${tag}> is "${v}", expected ${yes} or ${no}`);
  };
  const id = (v: string, where: string): number => {
    if (!/^(0|[1-9]\d{0,4})$/.test(v) || Number(v) > 65534) throw new RegistryFormatError(file, `${where}: id "${v}" is not an integer in 0..65534`);
    return Number(v);
  };

  const resourcesNode = object['Resources'];
  const items = isNode(resourcesNode) && Array.isArray(resourcesNode['Item']) ? (resourcesNode['Item'] as unknown[]) : [];
  const resources = items.map((item, index): ResourceDefinition => {
    if (!isNode(item)) throw new RegistryFormatError(file, `resource #${index} is not an element`);
    const where = `resource ${String(item['ID'] ?? `#${index}`)}`;
    const operations = text(item, 'Operations', where);
    if (!OPERATIONS.has(operations)) throw new RegistryFormatError(file, `${where}: unknown operations "${operations}"`);
    const xmlType = text(item, 'Type', where);
    const type = TYPES[xmlType];
    if (type === undefined) throw new RegistryFormatError(file, `${where}: unknown type "${xmlType}"`);
    const rangeEnumeration = optionalText(item, 'RangeEnumeration');
    const units = optionalText(item, 'Units');
    return {
      id: id(typeof item['ID'] === 'string' ? item['ID'] : '', where),
      name: text(item, 'Name', where),
      operations: operations as ResourceOperations,
      multiple: flag(item, 'MultipleInstances', 'Multiple', 'Single', where),
      mandatory: flag(item, 'Mandatory', 'Mandatory', 'Optional', where),
      // Executables carry no value, whatever the registry entry says.
      type: operations === 'E' ? 'none' : type,
      ...(rangeEnumeration !== '' && { rangeEnumeration }),
      ...(units !== '' && { units }),
      description: optionalText(item, 'Description'),
    };
  });
  resources.sort((a, b) => a.id - b.id);
  for (let i = 1; i < resources.length; i++) {
    if (resources[i]!.id === resources[i - 1]!.id) throw new RegistryFormatError(file, `resource ${resources[i]!.id} is defined twice`);
  }

  // Description2 is the registry's continuation of the object description (e.g. Event Log 2.1).
  const description = [optionalText(object, 'Description1'), optionalText(object, 'Description2')].filter((d) => d !== '').join('\n\n');
  return {
    id: id(text(object, 'ObjectID', 'object'), 'object'),
    name: text(object, 'Name', 'object'),
    urn: text(object, 'ObjectURN', 'object'),
    objectVersion: text(object, 'ObjectVersion', 'object'),
    lwm2mVersion: text(object, 'LWM2MVersion', 'object'),
    multiple: flag(object, 'MultipleInstances', 'Multiple', 'Single', 'object'),
    mandatory: flag(object, 'Mandatory', 'Mandatory', 'Optional', 'object'),
    description,
    resources,
  };
}

/** The TypeScript source of definitions.generated.ts for the registry files in `dir`. */
export function generateDefinitionsSource(dir: string): string {
  const current: ObjectDefinition[] = [];
  const legacy: [string, ObjectDefinition][] = [];
  const years: number[] = [];

  for (const file of readdirSync(dir).filter((f) => f.endsWith('.xml')).sort()) {
    const match = CURRENT_FILE.exec(file) ?? LEGACY_FILE.exec(file);
    if (!match) throw new RegistryFormatError(file, 'name is neither <id>.xml nor <id>-<major>_<minor>.xml');
    const xml = readFileSync(join(dir, file), 'utf8');
    const definition = parseObjectXml(xml, file);
    if (definition.id !== Number(match[1])) throw new RegistryFormatError(file, `defines object ${definition.id}, not ${match[1]}`);
    if (CURRENT_FILE.test(file)) current.push(definition);
    else legacy.push([file.slice(0, -'.xml'.length), definition]);
    for (const m of xml.matchAll(/Copyright (\d{4})(?:-(\d{4}))? Open Mobile Alliance/g)) {
      years.push(Number(m[1]), Number(m[2] ?? m[1]));
    }
  }
  current.sort((a, b) => a.id - b.id);
  const copyright = years.length === 0 ? 'Open Mobile Alliance' : `${Math.min(...years)}-${Math.max(...years)} Open Mobile Alliance`;

  return [
    '// Generated by scripts/generate-objects.ts from protocol/model/objects/registry/*.xml. Do not edit.',
    '// Regenerate with: npm run generate:objects',
    '//',
    `// The object definitions are Copyright ${copyright}, from the OMA LwM2M registry`,
    '// (https://github.com/OpenMobileAlliance/lwm2m-registry), used under the BSD-3-Clause license',
    '// reproduced in each XML file.',
    '',
    "import type { ObjectDefinition } from './definition.js';",
    '',
    '/** The current definition of each object id. */',
    `export const OBJECT_DEFINITIONS: readonly ObjectDefinition[] = ${literal(current, '')};`,
    '',
    '/** Earlier versions of objects, keyed by registry file stem (`5-1_0` is object 5 version 1.0). */',
    `export const LEGACY_OBJECT_DEFINITIONS: Readonly<Record<string, ObjectDefinition>> = ${literal(Object.fromEntries(legacy), '')};`,
    '',
  ].join('\n');
}

/** A TypeScript literal of plain data, laid out one property per line. */
function literal(value: unknown, indent: string): string {
  const inner = indent + '  ';
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((v) => `${inner}${literal(v, inner)},\n`).join('')}${indent}]`;
  }
  if (isNode(value)) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return '{}';
    const key = (k: string) => (/^[A-Za-z_$][\w$]*$/.test(k) ? k : `'${k}'`);
    return `{\n${entries.map(([k, v]) => `${inner}${key(k)}: ${literal(v, inner)},\n`).join('')}${indent}}`;
  }
  if (typeof value === 'string') return quote(value);
  return String(value);
}

/** A single-quoted string literal, in the project's style. */
function quote(s: string): string {
  const escaped = s.replace(/[\\'\u0000-\u001f\u2028\u2029]/g, (c) => {
    if (c === '\\' || c === "'") return `\\${c}`;
    if (c === '\n') return '\\n';
    if (c === '\t') return '\\t';
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
  return `'${escaped}'`;
}

function isNode(v: unknown): v is XmlNode {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const objectsDir = fileURLToPath(new URL('../protocol/model/objects/', import.meta.url));
export const REGISTRY_DIR = join(objectsDir, 'registry');
export const GENERATED_FILE = join(objectsDir, 'definitions.generated.ts');

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  writeFileSync(GENERATED_FILE, generateDefinitionsSource(REGISTRY_DIR));
  console.log(`wrote ${GENERATED_FILE}`);
}
