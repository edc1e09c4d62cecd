import { close as closeFd, fstat, open as openFd, read as readFd, stat, type Stats } from 'node:fs';
import { promisify } from 'node:util';

const openAsync = promisify(openFd);
const fstatAsync = promisify(fstat);
const statAsync = promisify(stat);
const closeAsync = promisify(closeFd);

/** One image as served: its size when opened, and a way to read a range of it. */
export interface ImageLease {
  readonly size: number;
  /** Reads `length` bytes at `offset` (fewer only at the end of the file). */
  read(offset: number, length: number): Promise<Buffer>;
  /** Done with it: the file may close once nobody holds it and it has been idle a while. */
  release(): void;
}

export interface ImageFilesOptions {
  /** An image nobody has read for this long is closed (and its bytes dropped). */
  idleCloseMs?: number;
  /** How often an open image is compared with the file at its path (replaced, truncated, rewritten). */
  recheckMs?: number;
  /** Images are held in memory whole while all those in memory fit in this; larger ones are read per range. */
  memoryBudgetBytes?: number;
}

/**
 * Open firmware images, shared by everyone serving them. A CoAP transfer reads a 4 MiB image in
 * 4,096 separate 1 KiB requests, hundreds of transfers at a time: opening, stat'ing and closing
 * the file per block cost more than the rest of serving it. Here each image is opened once,
 * held in memory when it fits the budget (else read per range through one descriptor), checked
 * against its path every `recheckMs` so a blob rewritten on disk is served as it now is, and
 * closed after `idleCloseMs` without readers.
 */
export class ImageFiles {
  private readonly images = new Map<string, Promise<OpenImage>>();
  private readonly idleCloseMs: number;
  private readonly recheckMs: number;
  private readonly memoryBudgetBytes: number;
  private heldBytes = 0;
  private descriptors = 0;
  private sweeper: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(opts: ImageFilesOptions = {}) {
    this.idleCloseMs = opts.idleCloseMs ?? 30_000;
    this.recheckMs = opts.recheckMs ?? 1000;
    this.memoryBudgetBytes = opts.memoryBudgetBytes ?? 64 * 1024 * 1024;
  }

  async acquire(path: string): Promise<ImageLease> {
    let image: OpenImage;
    do {
      if (this.closed) throw new Error('image files are closed');
      image = await this.current(path);
      if (Date.now() - image.checkedAt > this.recheckMs) image = await this.recheck(path, image);
      // Retired while we waited (idle sweep, replaced on disk): take the current one.
    } while (image.retired);
    image.leases++;
    image.lastUsedAt = Date.now();
    let released = false;
    return {
      size: image.size,
      read: (offset, length) => image.read(offset, length),
      release: () => {
        if (released) return;
        released = true;
        image.leases--;
        image.lastUsedAt = Date.now();
        if (image.retired && image.leases === 0) void this.dispose(image);
      },
    };
  }

  /** Descriptors open now (for tests and diagnostics). */
  get openDescriptors(): number {
    return this.descriptors;
  }

  /** Closes every image at once; reads still under way finish on the bytes they hold, or fail. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    const images = await Promise.allSettled([...this.images.values()]);
    this.images.clear();
    await Promise.all(images.map((r) => (r.status === 'fulfilled' ? this.dispose(r.value) : undefined)));
  }

  private current(path: string): Promise<OpenImage> {
    let image = this.images.get(path);
    if (!image) {
      image = this.load(path);
      this.images.set(path, image);
      // A failed open is not kept: the next request tries again.
      image.catch(() => this.images.get(path) === image && this.images.delete(path));
      this.sweeper ??= setInterval(() => this.sweep(), Math.max(10, this.idleCloseMs / 2)).unref();
    }
    return image;
  }

  /** The file at `path` is no longer what was opened: serve the new one, close the old once unused. */
  private async recheck(path: string, image: OpenImage): Promise<OpenImage> {
    image.checkedAt = Date.now();
    let now: Stats | undefined;
    try {
      now = await statAsync(path);
    } catch {
      now = undefined;
    }
    if (now && sameFile(now, image.stats)) return image;
    if (this.images.get(path) === image.promise) {
      this.images.delete(path);
      this.retire(image);
    }
    return this.current(path);
  }

  private load(path: string): Promise<OpenImage> {
    // The image knows its own promise: whoever rechecks it can tell whether it is still the current one.
    const loading = {} as { promise: Promise<OpenImage> };
    loading.promise = (async () => {
      const fd = await openAsync(path, 'r');
      this.descriptors++;
      try {
        const stats = await fstatAsync(fd);
        const image = new OpenImage(path, fd, stats, loading.promise);
        if (this.heldBytes + stats.size <= this.memoryBudgetBytes) {
          image.bytes = await readRange(fd, 0, stats.size);
          this.heldBytes += stats.size;
          // Whole in memory: the descriptor is not needed any more.
          await this.closeDescriptor(image);
        }
        return image;
      } catch (err) {
        this.descriptors--;
        await closeAsync(fd).catch(() => undefined);
        throw err;
      }
    })();
    return loading.promise;
  }

  private retire(image: OpenImage): void {
    image.retired = true;
    if (image.leases === 0) void this.dispose(image);
  }

  private sweep(): void {
    const idleSince = Date.now() - this.idleCloseMs;
    for (const [path, promise] of this.images) {
      void promise.then(
        (image) => {
          if (image.leases > 0 || image.lastUsedAt > idleSince || this.images.get(path) !== promise) return;
          this.images.delete(path);
          this.retire(image);
        },
        () => undefined,
      );
    }
    if (this.images.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  private async dispose(image: OpenImage): Promise<void> {
    if (image.disposed) return;
    image.disposed = true;
    if (image.bytes) this.heldBytes -= image.size;
    image.bytes = undefined;
    await this.closeDescriptor(image);
  }

  private async closeDescriptor(image: OpenImage): Promise<void> {
    const fd = image.fd;
    if (fd === undefined) return;
    image.fd = undefined;
    this.descriptors--;
    await closeAsync(fd).catch(() => undefined);
  }
}

class OpenImage {
  leases = 0;
  lastUsedAt = Date.now();
  checkedAt = Date.now();
  retired = false;
  disposed = false;
  /** The whole file, when it fit the memory budget. */
  bytes: Buffer | undefined;

  constructor(
    readonly path: string,
    public fd: number | undefined,
    readonly stats: Stats,
    readonly promise: Promise<OpenImage>,
  ) {}

  get size(): number {
    return this.stats.size;
  }

  read(offset: number, length: number): Promise<Buffer> {
    const end = Math.min(offset + length, this.size);
    if (this.bytes) return Promise.resolve(this.bytes.subarray(offset, Math.max(offset, end)));
    if (this.fd === undefined) return Promise.reject(new Error(`image ${this.path} was closed`));
    return readRange(this.fd, offset, Math.max(0, end - offset));
  }
}

function readRange(fd: number, offset: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  return new Promise((resolve, reject) => {
    let filled = 0;
    const next = () =>
      readFd(fd, buffer, filled, length - filled, offset + filled, (err, bytesRead) => {
        if (err) return reject(err);
        filled += bytesRead;
        if (bytesRead === 0 || filled === length) return resolve(buffer.subarray(0, filled));
        next();
      });
    if (length === 0) return resolve(buffer);
    next();
  });
}

/** The same file, unchanged since opened: a replaced blob has another inode, a rewritten one another mtime or size. */
function sameFile(a: Stats, b: Stats): boolean {
  return a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeMs === b.mtimeMs;
}
