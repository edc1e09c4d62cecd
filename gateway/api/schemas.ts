/** JSON schemas shared by routes: they validate input and shape (and whitelist) output. */
export const deviceSchema = {
  type: 'object',
  required: ['endpoint', 'status'],
  properties: {
    endpoint: { type: 'string' },
    status: { type: 'string' },
    transport: { type: ['string', 'null'] },
    lastSeen: { type: ['string', 'null'], format: 'date-time' },
    registeredAt: { type: ['string', 'null'], format: 'date-time' },
    lifetime: { type: ['integer', 'null'] },
    lwm2mVersion: { type: ['string', 'null'] },
    binding: { type: ['string', 'null'] },
    queueMode: { type: 'boolean' },
    address: { type: ['string', 'null'] },
    manufacturer: { type: ['string', 'null'] },
    model: { type: ['string', 'null'] },
    serialNumber: { type: ['string', 'null'] },
    firmwareVersion: { type: ['string', 'null'] },
    tags: { type: 'array', items: { type: 'string' } },
    groups: { type: 'array', items: { type: 'string' } },
    objects: { type: 'array', items: { type: 'string' } },
    hasCredential: { type: 'boolean' },
    hasBootstrapPsk: { type: 'boolean', description: 'the factory secret is kept sealed, so the device can bootstrap LwM2M over DTLS; false for devices imported before' },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
    decommissionedAt: { type: ['string', 'null'], format: 'date-time' },
  },
} as const;

export const endpointParamSchema = {
  type: 'object',
  required: ['endpoint'],
  properties: { endpoint: { type: 'string', minLength: 1, maxLength: 128 } },
} as const;

export const recordSchema = {
  type: 'object',
  required: ['path', 'type', 'value'],
  properties: { path: { type: 'string' }, type: { type: 'string' }, value: {} },
} as const;

export const linkSchema = {
  type: 'object',
  required: ['target', 'attributes'],
  properties: {
    target: { type: 'string' },
    attributes: { type: 'object', additionalProperties: { type: ['string', 'null'] } },
  },
} as const;

export const operationResultSchema = {
  type: 'object',
  required: ['endpoint', 'operation', 'path', 'code', 'codeText', 'success'],
  properties: {
    endpoint: { type: 'string' },
    operation: { type: 'string' },
    path: { type: 'string' },
    code: { type: 'string' },
    codeText: { type: 'string' },
    success: { type: 'boolean' },
    message: { type: 'string' },
    content: { type: 'array', items: recordSchema },
    links: { type: 'array', items: linkSchema },
    location: { type: 'string' },
  },
} as const;

export const timeoutSchema = { type: 'integer', minimum: 100, maximum: 300000 } as const;
