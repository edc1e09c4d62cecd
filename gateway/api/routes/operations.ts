import type { FastifyInstance } from 'fastify';
import {
  LwM2mPath,
  describeResultCode,
  fromJsonValue,
  isSuccess,
  recordToJson,
  type LwM2mRecord,
  type NotificationAttributes,
  type Operation,
  type OperationResult,
  type ResourceType,
} from '../../../protocol/model/index.js';
import { defaultObjectRegistry } from '../../../protocol/model/objects/index.js';
import type { DeviceCommands } from '../../fleet/device-commands.js';
import { ApiError, errorBodySchema } from '../errors.js';
import { endpointParamSchema, operationResultSchema, timeoutSchema } from '../schemas.js';

interface Params {
  endpoint: string;
}

const errorResponses = { 400: errorBodySchema, 404: errorBodySchema, 409: errorBodySchema, 503: errorBodySchema, 504: errorBodySchema };

function operationRoute(bodyProperties: Record<string, unknown>, required: string[]) {
  return {
    params: endpointParamSchema,
    body: {
      type: 'object',
      required,
      additionalProperties: false,
      properties: { path: { type: 'string', maxLength: 64 }, timeoutMs: timeoutSchema, ...bodyProperties },
    },
    response: { 200: operationResultSchema, ...errorResponses },
  };
}

/**
 * The JSON value(s) of a write become records typed by the object definitions (or by an
 * explicit `type` for objects the registry does not know).
 */
export function writeContent(path: LwM2mPath, value: unknown, explicitType: ResourceType | undefined): LwM2mRecord[] {
  if (!path.isResource() && !path.isResourceInstance()) {
    throw new ApiError(400, 'invalid_path', 'write takes a resource or resource-instance path, e.g. /1/0/1');
  }
  const definition = defaultObjectRegistry.resourceAt(path);
  const type = explicitType ?? definition?.type;
  if (!type) throw new ApiError(400, 'unknown_resource', `${path} is not in the object registry; give its "type"`);
  if (type === 'none') throw new ApiError(400, 'not_writable', `${path} is executable, not writable`);
  if (Array.isArray(value)) {
    if (!path.isResource()) throw new ApiError(400, 'invalid_value', 'an array value needs a resource path');
    return value.map((v, i) => ({ path: path.child(i), type, value: fromJsonValue(type, v) }));
  }
  return [{ path, type, value: fromJsonValue(type, value) }];
}

function present(endpoint: string, operation: Operation, result: OperationResult) {
  return {
    endpoint,
    operation: operation.kind,
    path: operation.path.toString(),
    code: result.code,
    codeText: describeResultCode(result.code),
    success: isSuccess(result.code),
    ...(result.message ? { message: result.message } : {}),
    ...(result.content ? { content: result.content.map(recordToJson) } : {}),
    // A flag attribute (no value) becomes null: JSON has no undefined.
    ...(result.links
      ? { links: result.links.map((l) => ({ target: l.target, attributes: Object.fromEntries(Object.entries(l.attributes).map(([k, v]) => [k, v ?? null])) })) }
      : {}),
    ...(result.location ? { location: result.location } : {}),
  };
}

/**
 * Model operations on one device. A device that answered gives 200 whatever its result code
 * (the code is in the body, as Leshan does); gateway-level failures use HTTP statuses.
 */
export function operationRoutes(app: FastifyInstance, commands: DeviceCommands): void {
  const run = async (endpoint: string, operation: Operation, timeoutMs: number | undefined) =>
    present(endpoint, operation, await commands.execute(endpoint, operation, timeoutMs));

  app.post<{ Params: Params; Body: { path: string; timeoutMs?: number } }>(
    '/api/v1/devices/:endpoint/read',
    { schema: operationRoute({}, ['path']) },
    async (req) => run(req.params.endpoint, { kind: 'read', path: LwM2mPath.parse(req.body.path) }, req.body.timeoutMs),
  );

  app.post<{ Params: Params; Body: { path: string; value: unknown; type?: ResourceType; mode?: 'replace' | 'update'; timeoutMs?: number } }>(
    '/api/v1/devices/:endpoint/write',
    {
      schema: operationRoute(
        { value: {}, type: { type: 'string' }, mode: { type: 'string', enum: ['replace', 'update'] } },
        ['path', 'value'],
      ),
    },
    async (req) => {
      const path = LwM2mPath.parse(req.body.path);
      const content = writeContent(path, req.body.value, req.body.type);
      return run(req.params.endpoint, { kind: 'write', path, mode: req.body.mode ?? 'replace', content }, req.body.timeoutMs);
    },
  );

  app.post<{ Params: Params; Body: { path: string; args?: string; timeoutMs?: number } }>(
    '/api/v1/devices/:endpoint/execute',
    { schema: operationRoute({ args: { type: 'string', maxLength: 1024 } }, ['path']) },
    async (req) => {
      const operation: Operation = { kind: 'execute', path: LwM2mPath.parse(req.body.path) };
      if (req.body.args !== undefined) operation.args = req.body.args;
      return run(req.params.endpoint, operation, req.body.timeoutMs);
    },
  );

  app.post<{ Params: Params; Body: { path?: string; timeoutMs?: number } }>(
    '/api/v1/devices/:endpoint/discover',
    { schema: operationRoute({}, []) },
    async (req) => run(req.params.endpoint, { kind: 'discover', path: LwM2mPath.parse(req.body.path ?? '/') }, req.body.timeoutMs),
  );

  app.post<{ Params: Params; Body: { path: string; timeoutMs?: number } }>(
    '/api/v1/devices/:endpoint/observe',
    { schema: operationRoute({}, ['path']) },
    async (req) => run(req.params.endpoint, { kind: 'observe', path: LwM2mPath.parse(req.body.path) }, req.body.timeoutMs),
  );

  app.post<{ Params: Params; Body: { path: string; timeoutMs?: number } }>(
    '/api/v1/devices/:endpoint/cancel-observe',
    { schema: operationRoute({}, ['path']) },
    async (req) => run(req.params.endpoint, { kind: 'cancel-observe', path: LwM2mPath.parse(req.body.path) }, req.body.timeoutMs),
  );

  const attribute = { type: 'number', minimum: 0 };
  app.post<{ Params: Params; Body: { path: string; attributes: NotificationAttributes; timeoutMs?: number } }>(
    '/api/v1/devices/:endpoint/write-attributes',
    {
      schema: operationRoute(
        {
          attributes: {
            type: 'object',
            additionalProperties: false,
            properties: { pmin: { type: 'integer', minimum: 0 }, pmax: { type: 'integer', minimum: 1 }, gt: { type: 'number' }, lt: { type: 'number' }, st: attribute },
          },
        },
        ['path', 'attributes'],
      ),
    },
    async (req) =>
      run(req.params.endpoint, { kind: 'write-attributes', path: LwM2mPath.parse(req.body.path), attributes: req.body.attributes }, req.body.timeoutMs),
  );
}
