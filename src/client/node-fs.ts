export type Fs = typeof import('node:fs/promises');
type FsSync = typeof import('node:fs');

/**
 * Node's `fs`, loaded on first use. Not a static import: `lifeline/client`'s Node entry re-exports
 * the file outbox store, and a bundler building that entry for a browser (as
 * test/browser/bundle.test.ts does, to check it is flagged) must still be able to resolve it.
 */
const FS = 'node:fs/promises';
const FS_SYNC = 'node:fs';
let fsModule: Promise<Fs> | undefined;
let fsSyncModule: Promise<FsSync> | undefined;
export const loadFs = (): Promise<Fs> => (fsModule ??= import(FS) as Promise<Fs>);
/** The synchronous `fs`, for what must run in a process's 'exit' hook. */
export const loadFsSync = (): Promise<FsSync> => (fsSyncModule ??= import(FS_SYNC) as Promise<FsSync>);

/** The directory part of `path`, with its trailing separator ('' for a bare file name). */
export const parentOf = (path: string): string => path.replace(/[^/\\]*$/, '');
