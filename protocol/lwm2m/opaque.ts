import { DecodeContext, EncodeContext, type ContentCodec } from './common.js';
import { LwM2mContentFormat } from './content-format.js';

/**
 * application/octet-stream (Content-Format 42; legacy 1544): the raw bytes of one opaque
 * resource or resource instance (LwM2M 1.1 Core §7.4.2). A resource the registry does not
 * know is taken as opaque; a known resource of another type is refused.
 */
export const opaqueCodec: ContentCodec = {
  format: LwM2mContentFormat.OPAQUE,

  encode(records, path, options) {
    const ctx: EncodeContext = new EncodeContext('opaque', path, options);
    ctx.check(records, false);
    if (!path.isResource() && !path.isResourceInstance()) ctx.fail('application/octet-stream carries the value of one resource or resource instance');
    if (records.length !== 1 || !records[0]!.path.equals(path)) ctx.fail(`application/octet-stream carries exactly one value at ${path}, got ${records.length} record(s)`);
    const r = records[0]!;
    if (r.type !== 'opaque') ctx.fail(`application/octet-stream carries opaque values only, not ${r.type}`);
    return new Uint8Array(r.value as Uint8Array);
  },

  decode(payload, path, options) {
    const ctx: DecodeContext = new DecodeContext('opaque', path, options);
    ctx.checkPayload(payload);
    if (!path.isResource() && !path.isResourceInstance()) ctx.fail('application/octet-stream carries the value of one resource or resource instance');
    const def = ctx.target(path);
    if (def && def.type !== 'opaque') ctx.fail(`${path} is a ${def.type} resource, not opaque`);
    ctx.add(path, 'opaque', new Uint8Array(payload));
    return ctx.records;
  },
};
