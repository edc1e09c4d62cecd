import type { OutgoingMessage } from 'coap';
import type { Logger } from '../../common/logger.js';
import { ContentFormat } from '../../protocol/coap/index.js';
import { MANIFEST_SUFFIX } from '../../protocol/firmware/index.js';
import type { Firmware, FirmwareRepository, ServableTransfer } from '../firmware/firmware-repository.js';
import { respondBlock } from './block2-response.js';
import { respondError } from '../../common/coap/coap-response.js';
import type { CoapHandler, CoapRequest } from '../../common/coap/coap-router.js';
import { ManifestCache } from './manifest-cache.js';

/**
 * `GET coap://…/fw/{transfer}/{name}-{version}.bin` and the same with `.manifest`: the CoAP twin
 * of the HTTP download route. The transfer id is the capability (logged only shortened), valid
 * as long as the transfer exists, as over HTTP. A 4 MiB image is 4,096 requests, so nothing per
 * block touches SQL or opens a file: the transfer is looked up through the repository's
 * short-lived cache, the image read through its shared open files, and each block's payload
 * bytes counted in memory and written about once a second (`countServedSoon`), so a resumed
 * download still shows as such in the byte counters.
 */
export function firmwareResource(firmware: FirmwareRepository, log: Logger): CoapHandler {
  const manifests = new ManifestCache();
  return async (req, res) => {
    if (req.method !== 'GET') return respondError(res, '4.05', 'firmware is fetched with GET');
    const [, transferId, file, ...rest] = req.path;
    const transfer = transferId && file && rest.length === 0 ? firmware.servableTransfer(transferId) : undefined;
    if (!transfer || !file) return respondError(res, '4.04', 'no such firmware transfer');

    if (file.endsWith(MANIFEST_SUFFIX)) {
      const manifest = manifests.get(transfer.id, () => JSON.stringify(firmware.manifest(transfer.firmware, { allowDowngrade: transfer.allowDowngrade })));
      await respondBlock(req, res, {
        size: manifest.bytes.length,
        etag: manifest.etag,
        contentFormat: ContentFormat.JSON,
        read: async (offset, length) => manifest.bytes.subarray(offset, offset + length),
        maxAge: 0,
      });
      return;
    }
    await serveImageBlock(req, res, firmware, transfer, log);
  };
}

async function serveImageBlock(req: CoapRequest, res: OutgoingMessage, firmware: FirmwareRepository, transfer: ServableTransfer, log: Logger): Promise<void> {
  const image = transfer.firmware;
  const file = await firmware.images.acquire(firmware.imagePath(image));
  let sent: number;
  try {
    sent = await respondBlock(req, res, {
      // The file's own size, not the recorded one: a damaged store must not make blocks lie about M.
      size: file.size,
      etag: etagOf(image),
      contentFormat: ContentFormat.OCTET_STREAM,
      read: (offset, length) => file.read(offset, length),
    });
  } finally {
    file.release();
  }
  if (sent > 0) firmware.countServedSoon(transfer.id, sent);
  if (log.isLevelEnabled('trace')) log.trace({ transfer: shortId(transfer.id), firmware: image.id, bytes: sent }, 'firmware block served over CoAP');
}

const etags = new WeakMap<Firmware, Buffer>();

/** The image's validator: the first 8 bytes of its SHA-256, the same on every block. */
function etagOf(image: Firmware): Buffer {
  let etag = etags.get(image);
  if (!etag) {
    etag = Buffer.from(image.sha256.slice(0, 16), 'hex');
    etags.set(image, etag);
  }
  return etag;
}

/** Enough of a transfer id to tell transfers apart in logs, not enough to use it. */
export function shortId(id: string): string {
  return `${id.slice(0, 6)}…`;
}
