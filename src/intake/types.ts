/**
 * What intake hands to contract/: the request body taken apart, with every
 * file already spooled to disk under the limits. Intake knows which parts may
 * be files and how big things may be; it knows nothing else of the contract.
 */
import type { HeldBytes } from '../held-bytes.js';

export interface SpooledFile {
  /** 'image' or 'mask' */
  role: 'image' | 'mask';
  /** the field as sent: 'image', 'image[]', 'image[3]', 'mask', or 'images[0]' / 'mask' for JSON */
  field: string;
  /** how errors name this file: 'image', 'image[1]', 'mask', 'images[0].image_url' */
  param: string;
  /** for 'image[N]' the N; otherwise null (order of arrival is kept in `files`) */
  explicitIndex: number | null;
  filename: string | null;
  /** the part's Content-Type as declared by the client (informational only) */
  declaredType: string | null;
  /** where the file is on disk; '' when it is held in memory (`data`) */
  path: string;
  size: number;
  /** the whole file, when it was small enough to stay in memory (see spool.ts), as the pieces it arrived in (held-bytes.ts); then nothing is on disk */
  data?: HeldBytes;
  /** the file's first bytes (all of it when short), kept as it was written, for probing without reading it back */
  head?: Buffer;
}

/** A text field: multipart gives strings, JSON gives JSON values. */
export type FieldValue = string | number | boolean | null | object;

export interface IntakeResult {
  kind: 'multipart' | 'json';
  /** text fields in order of arrival; repeated names appear repeatedly */
  fields: Array<[name: string, value: FieldValue]>;
  /** files in order of arrival */
  files: SpooledFile[];
  /** body bytes read from the client */
  bytesIn: number;
}

/** A request's scratch room: memory for small files, unique names in the spool directory, freed together. */
export interface Spool {
  /** a file larger than this is written to disk (0: every file is) */
  readonly memoryFileLimit: number;
  /** room to keep `bytes` more of an upload in memory, from the shared budget; false: write it to disk */
  reserve(bytes: number): boolean;
  /** gives back room reserved for a file that went to disk after all */
  release(bytes: number): void;
  /** a fresh, unique path in the spool directory (O_EXCL: see openSpoolFile) */
  newPath(suffix?: string): string;
  /** frees its memory and unlinks every file it handed out a path for; safe to call twice, never throws */
  cleanup(): Promise<void>;
}
