/**
 * The two ways a content codec refuses: a payload that is not valid content of its format for
 * the request path (ContentDecodeError), or records that the format cannot carry or that do not
 * fit the object definitions (ContentEncodeError). Every codec raises only these, never a
 * TypeError or a RangeError from its internals.
 */
export class ContentDecodeError extends Error {
  constructor(
    /** The format's short name: `tlv`, `senml+cbor`, `link-format`, … */
    readonly format: string,
    /** The request path the payload was decoded for, when there is one. */
    readonly path: string | undefined,
    readonly reason: string,
  ) {
    super(`malformed ${format} content${path === undefined ? '' : ` for ${path}`}: ${reason}`);
    this.name = 'ContentDecodeError';
  }
}

export class ContentEncodeError extends Error {
  constructor(
    readonly format: string,
    readonly path: string | undefined,
    readonly reason: string,
  ) {
    super(`cannot encode ${path === undefined ? 'content' : path} as ${format}: ${reason}`);
    this.name = 'ContentEncodeError';
  }
}
