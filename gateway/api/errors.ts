import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../../common/logger.js';
import { InvalidPathError, InvalidValueError } from '../../protocol/model/index.js';
import { TargetSyntaxError } from '../../protocol/targets/index.js';
import { DeviceLinkError } from '../device-link.js';
import { DeviceUnavailableError } from '../fleet/device-commands.js';
import { DeviceNotFoundError, InvalidLabelError } from '../store/device-repository.js';
import { FirmwareError } from '../firmware/firmware-repository.js';
import { RolloutError } from '../rollouts/rollout-engine.js';
import { RolloutPolicyError } from '../rollouts/rollout-policy.js';
import { CommandSpecError } from '../commands/command-spec.js';
import { FleetCommandError } from '../commands/fleet-commands.js';
import { OperatorError } from '../operators/operator-service.js';

/** Every error body has this shape, so scripts can rely on `error.code`. */
export interface ApiErrorBody {
  error: { code: string; message: string; details?: unknown };
}

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export const errorBodySchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} },
    },
  },
} as const;

/** What fastify itself rejects before a handler runs, under codes that do not name the framework. */
const FRAMEWORK_ERRORS: Record<string, [number, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'payload_too_large'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'unsupported_media_type'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'invalid_json'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'invalid_json'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'invalid_request'],
};

function classify(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof DeviceNotFoundError) return new ApiError(404, 'device_not_found', err.message);
  if (err instanceof DeviceUnavailableError) return new ApiError(409, 'device_unavailable', err.message, { reason: err.reason });
  if (err instanceof DeviceLinkError) {
    if (err.kind === 'timeout') return new ApiError(504, 'device_timeout', err.message);
    return new ApiError(503, 'device_unreachable', err.message);
  }
  if (err instanceof InvalidPathError) return new ApiError(400, 'invalid_path', err.message);
  if (err instanceof InvalidValueError) return new ApiError(400, 'invalid_value', err.message);
  if (err instanceof TargetSyntaxError) return new ApiError(400, 'invalid_target', err.message, { position: err.position });
  if (err instanceof InvalidLabelError) return new ApiError(400, 'invalid_label', err.message);
  if (err instanceof FirmwareError) {
    if (err.kind === 'too-large') return new ApiError(413, 'payload_too_large', err.message);
    const status = { invalid: 400, conflict: 409, 'not-found': 404 }[err.kind];
    return new ApiError(status, `firmware_${err.kind.replace('-', '_')}`, err.message);
  }
  if (err instanceof RolloutPolicyError) return new ApiError(400, 'invalid_rollout', err.message);
  if (err instanceof RolloutError) {
    const [status, code] = ({ invalid: [400, 'invalid_rollout'], conflict: [409, 'rollout_conflict'], 'not-found': [404, 'not_found'] } as const)[err.kind];
    return new ApiError(status, code, err.message);
  }
  if (err instanceof CommandSpecError) return new ApiError(400, 'invalid_command', err.message);
  if (err instanceof FleetCommandError) {
    const [status, code] = ({ invalid: [400, 'invalid_command'], conflict: [409, 'command_conflict'], 'not-found': [404, 'not_found'] } as const)[err.kind];
    return new ApiError(status, code, err.message);
  }
  if (err instanceof OperatorError) {
    const [status, code] = ({ invalid: [400, 'invalid_operator'], conflict: [409, 'operator_conflict'], 'not-found': [404, 'not_found'] } as const)[err.kind];
    return new ApiError(status, code, err.message);
  }
  const fe = err as FastifyError;
  if (fe.validation) {
    const details = fe.validation.map((v) => ({ in: fe.validationContext ?? 'request', path: v.instancePath, message: v.message ?? v.keyword }));
    return new ApiError(400, 'invalid_request', fe.message, details);
  }
  const framework = fe.code ? FRAMEWORK_ERRORS[fe.code] : undefined;
  if (framework) return new ApiError(framework[0], framework[1], fe.message);
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new ApiError(fe.statusCode, fe.code?.toLowerCase() ?? 'bad_request', fe.message);
  }
  return new ApiError(500, 'internal_error', 'internal error');
}

export function errorHandler(log: Logger) {
  return (err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const apiError = classify(err);
    if (apiError.statusCode >= 500 && apiError.code === 'internal_error') {
      log.error({ err, method: request.method, url: request.url }, 'request failed');
    }
    const body: ApiErrorBody = { error: { code: apiError.code, message: apiError.message } };
    if (apiError.details !== undefined) body.error.details = apiError.details;
    void reply.status(apiError.statusCode).send(body);
  };
}
