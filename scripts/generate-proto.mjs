// Turns protocol/mqtt/edgedm.proto into a TypeScript module holding its protobufjs JSON
// descriptor, so the runtime needs no .proto file (tsc does not copy one into dist/).
//   npm run generate:proto
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const PROTO_FILE = join(root, 'protocol/mqtt/edgedm.proto');
export const GENERATED_FILE = join(root, 'protocol/mqtt/schema.generated.ts');

export function generateSchemaSource(protoFile = PROTO_FILE) {
  const parsed = protobuf.parse(readFileSync(protoFile, 'utf8'), { keepCase: false });
  const descriptor = parsed.root.toJSON();
  return [
    '// Generated from protocol/mqtt/edgedm.proto by scripts/generate-proto.mjs. Do not edit;',
    '// run `npm run generate:proto` after changing the .proto file.',
    `export const DESCRIPTOR = ${JSON.stringify(descriptor, null, 2)};`,
    '',
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(GENERATED_FILE, generateSchemaSource());
  console.log(`wrote ${GENERATED_FILE}`);
}
