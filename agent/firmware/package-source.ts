/** The server answered but the resource is not there or not usable (no point retrying). */
export class DownloadRefused extends Error {
  constructor(
    message: string,
    /** HTTP status, or the CoAP code as class*100+detail (4.04 → 404, 4.13 → 413). */
    readonly status: number,
  ) {
    super(message);
    this.name = 'DownloadRefused';
  }
}

export interface ResumableFetchResult {
  /** Bytes in the file when done. */
  size: number;
  /** Bytes this call fetched (the rest was already there). */
  fetched: number;
  /** Validator of the image (HTTP ETag, CoAP ETag option as hex), to resume safely next time. */
  etag: string | undefined;
}

export interface FetchOptions {
  /** Validator from the previous attempt: a changed image must be fetched from zero. */
  etag?: string;
  signal?: AbortSignal;
  /** Refuse (DownloadRefused 413) an image larger than this. */
  maxBytes: number;
  /**
   * Called with each piece of the image once it is on disk, before the next is asked for: the
   * device's radio sets the pace of a slow link here (and may fail the fetch, as a dropped link).
   */
  pace?: (bytes: number) => Promise<void>;
  /** With `pace`: bytes land (and are paced) in pieces of at most this size, as they would arrive over a slow link. */
  pacePieceBytes?: number;
}

/**
 * One way of pulling a package by URI (http:, coap:, …). The updater needs only these two
 * operations, so the state machine does not care how the bytes travel.
 */
export interface PackageSource {
  /** A small resource in one piece (the signed manifest); DownloadRefused 404 when absent. */
  fetchSmall(uri: string, maxBytes: number, signal?: AbortSignal): Promise<Uint8Array>;
  /** Fetches `uri` into `file`, continuing a partial file from its current size. */
  fetchResumable(uri: string, file: string, opts: FetchOptions): Promise<ResumableFetchResult>;
}
