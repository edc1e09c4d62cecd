import { OutgoingMessage } from 'coap';
import type { OptionName } from 'coap-packet';

export type ResponseOption = [name: OptionName, value: Buffer];

const answered = new WeakSet<OutgoingMessage>();

/**
 * Sends a response exactly as given: code, options, payload. The coap server's own `end()`
 * re-segments the payload whenever the request carried a Block2 option — it would slice our
 * one block as if it were the whole resource, or turn a 4.04 into 4.02 — so responses go out
 * through the plain OutgoingMessage `end()`, which only encodes and sends.
 */
export function respond(res: OutgoingMessage, code: string, payload: Buffer = Buffer.alloc(0), options: readonly ResponseOption[] = []): void {
  if (answered.has(res)) return;
  answered.add(res);
  res.code = code;
  // Repeatable options (Location-Path, …) go in one call: the library replaces on each.
  const byName = new Map<OptionName, Buffer[]>();
  for (const [name, value] of options) byName.set(name, [...(byName.get(name) ?? []), value]);
  for (const [name, values] of byName) res.setOption(name, values.length === 1 ? values[0]! : values);
  OutgoingMessage.prototype.end.call(res, payload);
}

/** A diagnostic payload (RFC 7252 §5.5.2): short, human-readable, never secret. */
export function respondError(res: OutgoingMessage, code: string, diagnostic: string): void {
  respond(res, code, Buffer.from(diagnostic, 'utf8'));
}

export function hasResponded(res: OutgoingMessage): boolean {
  return answered.has(res);
}
