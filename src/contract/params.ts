/**
 * The values and ranges of the edit contract's parameters (CONTRACT.md),
 * in one place: validate.ts enforces them and the API document
 * (contract/schemas.ts) is built from them, so the two cannot drift. The
 * order of each list is the order error messages name the values in.
 * Per-model values (sizes, qualities, prompt length) are in models.ts.
 */

export const N_RANGE = { min: 1, max: 10 } as const;
export const OUTPUT_COMPRESSION_RANGE = { min: 0, max: 100 } as const;
export const PARTIAL_IMAGES_RANGE = { min: 0, max: 3 } as const;

export const BACKGROUNDS = ['auto', 'transparent', 'opaque'] as const;
export const OUTPUT_FORMATS = ['png', 'jpeg', 'webp'] as const;
export const INPUT_FIDELITIES = ['low', 'high'] as const;
export const MODERATIONS = ['auto', 'low'] as const;
export const RESPONSE_FORMATS = ['url', 'b64_json'] as const;
export const STYLES = ['vivid', 'natural'] as const;
