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

function operationRoute(summary: string, bodyProperties: Record<string, unknown>, required: string[]) {
  return {
    tags: ['operations'],
    summary,
    description:
      'A device that answered gives 200 whatever its result code (`code`, `success` in the body); 404 unknown device, 409 device unavailable (offline, decommissioned), 503 unreachable, 504 no answer in time.',
    params: endpointParamSchema,
    body: {
      type: 'object',
      ...(required.length > 0 ? { required } : {}),
      additionalProperties: false,
      properties: {
        path: { type: 'string', maxLength: 64, description: 'an LwM2M path: /3, /3/0, /3/0/9, /3/0/6/1' },
        timeoutMs: { ...timeoutSchema, description: "how long to wait for the device's answer" },
        ...bodyProperties,
      },
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
    { schema: operationRoute('Read an object, instance or resource', {}, ['path']) },
    async (req) => run(req.params.endpoint, { kind: 'read', path: LwM2mPath.parse(req.body.path) }, req.body.timeoutMs),
  );

  app.post<{ Params: Params; Body: { path: string; value: unknown; type?: ResourceType; mode?: 'replace' | 'update'; timeoutMs?: number } }>(
    '/api/v1/devices/:endpoint/write',
    {
      schema: operationRoute(
        'Write a resource (typed by the object registry, or by `type`)',
        {
          value: { description: 'the JSON value; an array for a multi-instance resource' },
          type: { type: 'string', description: 'the resource type, for objects the registry does not know' },
          mode: { type: 'string', enum: ['replace', 'update'] },
        },
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
    { schema: operationRoute('Execute a resource (reboot /3/0/4, factory reset /3/0/5, …)', { args: { type: 'string', maxLength: 1024 } }, ['path']) },
    async (req) => {
      const operation: Operation = { kind: 'execute', path: LwM2mPath.parse(req.body.path) };
      if (req.body.args !== undefined) operation.args = req.body.args;
      return run(req.params.endpoint, operation, req.body.timeoutMs);
    },
  );

  app.post<{ Params: Params; Body: { path?: string; timeoutMs?: number } }>(
    '/api/v1/devices/:endpoint/discover',
    { schema: operationRoute('Discover objects, instances and resources with their attributes', {}, []) },
    async (req) => run(req.params.endpoint, { kind: 'discover', path: LwM2mPath.parse(req.body.path ?? '/') }, req.body.timeoutMs),
  );

  app.post<{ Params: Params; Body: { path: string; timeoutMs?: number } }>(
    '/api/v1/devices/:endpoint/observe',
    { schema: operationRoute('Observe a path: the current value now, later ones as device.notification events', {}, ['path']) },
    async (req) => run(req.params.endpoint, { kind: 'observe', path: LwM2mPath.parse(req.body.path) }, req.body.timeoutMs),
  );

  app.post<{ Params: Params; Body: { path: string; timeoutMs?: number } }>(
    '/api/v1/devices/:endpoint/cancel-observe',
    { schema: operationRoute('Stop observing a path', {}, ['path']) },
    async (req) => run(req.params.endpoint, { kind: 'cancel-observe', path: LwM2mPath.parse(req.body.path) }, req.body.timeoutMs),
  );

  const attribute = { type: 'number', minimum: 0 };
  app.post<{ Params: Params; Body: { path: string; attributes: NotificationAttributes; timeoutMs?: number } }>(
    '/api/v1/devices/:endpoint/write-attributes',
    {
      schema: operationRoute(
        'Write notification attributes (pmin, pmax, gt, lt, st; LwM2M 1.1 §5.1.2)',
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
