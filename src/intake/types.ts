/**
 * What intake hands to contract/: the request body taken apart, with every
 * file already spooled to disk under the limits. Intake knows which parts may
 * be files and how big things may be; it knows nothing else of the contract.
 */

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
  path: string;
  size: number;
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

/** A request's scratch files: unique names in the spool directory, removed together. */
export interface Spool {
  /** a fresh, unique path in the spool directory (O_EXCL: see openSpoolFile) */
  newPath(suffix?: string): string;
  /** unlink every file this spool handed out a path for; safe to call twice, never throws */
  cleanup(): Promise<void>;
}
