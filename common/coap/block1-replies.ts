import { randomInt } from 'node:crypto';
import { generate, type NamedOption, type ParsedPacket } from 'coap-packet';

/**
 * The answer to one request, as a datagram (RFC 7252 §5.2): piggybacked on the ACK of a
 * Confirmable request, or a Non-confirmable response with a fresh message ID to a
 * Non-confirmable one; the request's token either way.
 */
export function replyTo(request: ParsedPacket, code: string, options: NamedOption[] = [], payload?: Buffer): Buffer {
  return generate({
    code,
    ack: request.confirmable,
    confirmable: false,
    messageId: request.confirmable ? request.messageId : randomInt(0x10000),
    token: request.token,
    options,
    payload: payload ?? Buffer.alloc(0),
  });
}

/** A diagnostic payload (RFC 7252 §5.5.2), for error answers. */
export function errorReply(request: ParsedPacket, code: string, diagnostic: string, options: NamedOption[] = []): Buffer {
  return replyTo(request, code, options, Buffer.from(diagnostic, 'utf8'));
}

/** An empty ACK: the response comes, or came, separately (RFC 7252 §5.2.2). */
export function emptyAck(messageId: number): Buffer {
  return generate({ code: '0.00', ack: true, confirmable: false, messageId });
}
