/**
 * A CoRE link (RFC 6690) as used by LwM2M Register and Discover: `</3/0>;ver=1.1`.
 * Attribute values are kept as strings; `undefined` marks a flag attribute without a value.
 */
export interface Link {
  target: string;
  attributes: Record<string, string | undefined>;
}
