import swagger, { type SwaggerTransform } from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifySchema } from 'fastify';
import { SESSION_COOKIE } from './auth.js';
import { errorBodySchema } from './errors.js';

/**
 * The OpenAPI 3 document of the northbound API, generated from the JSON schemas the routes
 * validate and serialise with (one schema, three uses), at `/api/docs/json` (`/api/docs/yaml`),
 * with Swagger UI at `/api/docs` (its assets ship in the package; nothing is downloaded).
 */

export const DOCS_PREFIX = '/api/docs';

/** `schema.security` of a route anyone may call: the document's global security does not apply. */
export const PUBLIC_ROUTE: { [scheme: string]: string[] }[] = [];

/** The document's tags, in the order Swagger UI shows them. Every route names one of these. */
export const API_TAGS = [
  { name: 'health', description: 'Liveness and metrics for supervisors and Prometheus' },
  { name: 'devices', description: 'The device registry: list, show, import, label, decommission' },
  { name: 'operations', description: 'Model operations on one device (read, write, execute, discover, observe, attributes)' },
  { name: 'groups', description: 'Device groups and their members' },
  { name: 'tags', description: 'Device tags' },
  { name: 'fleet-commands', description: 'One operation or job over the devices a target selects, kept in a durable per-device queue' },
  { name: 'firmware', description: 'The firmware repository, transfers and what devices download' },
  { name: 'rollouts', description: 'Staged firmware rollouts' },
  { name: 'alarms', description: 'Fault management: alarms and alarm rules (Y.4702 8.2)' },
  { name: 'monitoring', description: 'Performance management: observed values over time (Y.4702 8.3)' },
  { name: 'accounting', description: 'The accounting ledger (Y.4702 8.7)' },
  { name: 'events', description: 'Server-sent events' },
  { name: 'auth', description: 'Operator log-in and session' },
  { name: 'operators', description: 'Operator accounts' },
  { name: 'tokens', description: 'API tokens' },
  { name: 'audit', description: 'The audit trail of state-changing requests' },
  { name: 'docs', description: 'This document' },
] as const;

export type ApiTag = (typeof API_TAGS)[number]['name'];

const ERROR_REF = '#/components/schemas/Error';

/** Error answers any route may give besides its own: named once, referenced by status. */
const SHARED_RESPONSES = {
  Unauthorized: { status: '401', description: 'No credential, or an unknown or expired one (`unauthorized`)' },
  Forbidden: { status: '403', description: "The operator's role does not allow this (`forbidden`)" },
  PayloadTooLarge: { status: '413', description: 'The body is larger than the route takes (`payload_too_large`)' },
  UnsupportedMediaType: { status: '415', description: 'A content type the route does not take (`unsupported_media_type`)' },
} as const;

/** Descriptions of responses whose schema gives none. */
const STATUS_TEXT: Record<string, string> = {
  '200': 'OK',
  '201': 'Created',
  '204': 'No content',
  '206': 'Partial content',
  '400': 'Bad request: the input failed validation (`invalid_request`, `invalid_json`) or was refused (`invalid_path`, `invalid_target`, …)',
  '401': 'Unauthorized',
  '403': 'Forbidden',
  '404': 'Not found',
  '409': 'Conflict: not in a state to do this, or exists already',
  '413': 'Payload too large',
  '415': 'Unsupported media type',
  '416': 'Range not satisfiable',
  '429': 'Too many requests',
  '503': 'The device is unreachable',
  '504': 'The device did not answer in time',
};

/** The docs' own routes (registered by Swagger UI, hidden there) as the document shows them. */
const DOCS_ROUTES: Record<string, FastifySchema> = {
  [DOCS_PREFIX]: {
    tags: ['docs'],
    summary: 'This API, browsable (Swagger UI)',
    security: PUBLIC_ROUTE,
    response: { 200: { description: 'The Swagger UI page', content: { 'text/html': { schema: { type: 'string' } } } } },
  },
  [`${DOCS_PREFIX}/json`]: {
    tags: ['docs'],
    summary: 'This OpenAPI document as JSON',
    security: PUBLIC_ROUTE,
    response: { 200: { description: 'An OpenAPI 3.0 document', type: 'object', additionalProperties: true } },
  },
  [`${DOCS_PREFIX}/yaml`]: {
    tags: ['docs'],
    summary: 'This OpenAPI document as YAML',
    security: PUBLIC_ROUTE,
    response: { 200: { description: 'An OpenAPI 3.0 document', content: { 'application/x-yaml': { schema: { type: 'string' } } } } },
  },
};

// Swagger UI's page is registered as `${DOCS_PREFIX}/` too; fastify hands the document that url.
const documentDocsRoutes: SwaggerTransform = ({ schema, url }) => {
  const docsUrl = url.replace(/(.)\/$/, '$1');
  const docs = DOCS_ROUTES[docsUrl];
  return docs ? { schema: docs, url: docsUrl } : { schema, url };
};

/**
 * For a route whose request body is not parsed (a stream, e.g. an image upload): what the
 * document says it takes, without a validation schema that a stream could not pass.
 * Use as the route's `config.swaggerTransform`.
 */
export function documentRawBody(content: Record<string, { description?: string }>): SwaggerTransform {
  return ({ schema, url }) => ({
    schema: { ...schema, body: { content: Object.fromEntries(Object.entries(content).map(([type, s]) => [type, { schema: { type: 'string', format: 'binary', ...s } }])) } },
    url,
  });
}

/** Registers the document and Swagger UI; call it before the first route, so every route is seen. */
export async function registerOpenApi(app: FastifyInstance, version: string): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'edgedm northbound API',
        version,
        description:
          'Device management (ITU-T Y.4702 clause 8.9) of the devices an edgedm gateway manages over MQTT, CoAP and OMA LwM2M. ' +
          'JSON in and out; every error is `{"error": {"code", "message", "details?"}}`; lists take `offset` and `limit` and answer `{items, total, offset, limit}`.',
        license: { name: 'Apache-2.0' },
      },
      tags: API_TAGS.map((t) => ({ ...t })),
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API token, or the session token that log-in answers' },
          edgedm_session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: "The portal's session cookie, set at log-in" },
        },
        schemas: { Error: structuredClone(errorBodySchema) as object },
        responses: Object.fromEntries(Object.entries(SHARED_RESPONSES).map(([name, r]) => [name, { description: r.description, content: { 'application/json': { schema: { $ref: ERROR_REF } } } }])),
      },
      security: [{ bearerAuth: [] }, { edgedm_session: [] }],
    },
    transform: documentDocsRoutes,
    transformObject: (document) => finishDocument(('openapiObject' in document ? document.openapiObject : {}) as OpenApiDocument) as object,
  });
  await app.register(swaggerUi, { routePrefix: DOCS_PREFIX, uiConfig: { deepLinking: true, docExpansion: 'list' } });
}

interface Operation {
  operationId?: string;
  security?: unknown[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: { nullable?: boolean } }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: unknown }>; $ref?: string }>;
  [key: string]: unknown;
}

interface OpenApiDocument {
  paths?: Record<string, Record<string, Operation>>;
  [key: string]: unknown;
}

const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'options', 'head']);

/**
 * What the route schemas cannot say one by one: the error body is one named schema
 * (`#/components/schemas/Error`); every operation that needs a credential documents 401 and 403,
 * every one with a body 413 and 415; a body that may be left out is not required; responses
 * have descriptions; every operation has an id (for generated clients).
 */
function finishDocument(doc: OpenApiDocument): OpenApiDocument {
  const errorShape = canonical(errorBodySchema);
  const shared = (name: keyof typeof SHARED_RESPONSES) => ({ $ref: `#/components/responses/${name}` });
  const ids = new Set<string>();
  const seen = new Set<Operation>();
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const [method, original] of Object.entries(item)) {
      if (!HTTP_METHODS.has(method)) continue;
      // A route with several methods (GET and HEAD) shares one operation object: each gets its own, with its own id.
      const operation = seen.has(original) ? (item[method] = structuredClone(original)) : original;
      seen.add(operation);
      if (operation !== original) delete operation.operationId;
      const responses = (operation.responses ??= {});
      for (const [status, response] of Object.entries(responses)) {
        if (response.description === 'Default Response') response.description = STATUS_TEXT[status] ?? `HTTP ${status}`;
        for (const media of Object.values(response.content ?? {})) {
          if (media.schema !== undefined && canonical(withoutDescription(media.schema)) === errorShape) media.schema = { $ref: ERROR_REF };
        }
      }
      if (operation.security === undefined || operation.security.length > 0) {
        responses['401'] ??= shared('Unauthorized');
        responses['403'] ??= shared('Forbidden');
      }
      const body = operation.requestBody;
      if (body) {
        responses['413'] ??= shared('PayloadTooLarge');
        responses['415'] ??= shared('UnsupportedMediaType');
        const schemas = Object.values(body.content ?? {}).map((m) => m.schema);
        if (schemas.length > 0 && schemas.every((s) => s?.nullable === true)) body.required = false;
      }
      if (!operation.operationId) operation.operationId = uniqueId(operationIdOf(method, path), ids);
      ids.add(operation.operationId);
    }
  }
  return doc;
}

function withoutDescription(schema: unknown): unknown {
  if (!schema || typeof schema !== 'object') return schema;
  const { description: _description, ...rest } = schema as Record<string, unknown>;
  return rest;
}

/** `get /api/v1/devices/{endpoint}/timeseries` → `getDevicesByEndpointTimeseries`. */
function operationIdOf(method: string, path: string): string {
  const words = path
    .replace(/^\/api\/v\d+\//, '/')
    .split('/')
    .filter(Boolean)
    .map((segment) => {
      const param = /^\{(.+)\}$/.exec(segment);
      return param ? `By-${param[1]}` : segment;
    })
    .join('-')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean);
  return method + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}

function uniqueId(id: string, taken: Set<string>): string {
  let candidate = id;
  for (let n = 2; taken.has(candidate); n++) candidate = `${id}${n}`;
  return candidate;
}

/** JSON with sorted keys: equal for schemas that say the same. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
}
