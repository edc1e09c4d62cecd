/**
 * Endpoint names identify devices everywhere: registry keys, MQTT client ids and usernames,
 * topic segments. The pattern keeps out `/`, `+`, `#`, spaces and control characters, which
 * would let a name escape its own topics.
 */
export const ENDPOINT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export class InvalidEndpointNameError extends Error {
  constructor(readonly input: string) {
    super(
      `invalid endpoint name ${JSON.stringify(input.length > 140 ? input.slice(0, 140) + '…' : input)}: ` +
        'use 1 to 128 letters, digits, ".", "_", ":" or "-", starting with a letter or digit',
    );
    this.name = 'InvalidEndpointNameError';
  }
}

export function isValidEndpointName(s: string): boolean {
  return typeof s === 'string' && ENDPOINT_NAME_PATTERN.test(s);
}

export function assertValidEndpointName(s: string): void {
  if (!isValidEndpointName(s)) throw new InvalidEndpointNameError(String(s));
}
