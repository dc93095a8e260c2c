/** Neutral requests and provider calls for the pure translation tests (no files are read). */
import type { InputImage, EditRequest } from '../../src/types.js';
import type { ProviderCall } from '../../src/providers/types.js';

export function inputImage(i: number, width = 1024, height = 1024, format: InputImage['format'] = 'png'): InputImage {
  return { param: i === 0 ? 'image' : `image[${i}]`, path: `/nonexistent/image${i}.${format}`, bytes: 1000, format, width, height, hasAlpha: false, filename: null };
}

export function editRequest(overrides: Partial<EditRequest> = {}): EditRequest {
  return {
    id: 'req_test',
    model: { requested: 'm', id: 'm', family: 'gpt-image' },
    prompt: 'make it warmer',
    images: [inputImage(0)],
    mask: null,
    n: 1,
    size: 'auto',
    quality: 'auto',
    background: 'auto',
    outputFormat: 'png',
    outputCompression: null,
    inputFidelity: null,
    moderation: 'auto',
    responseFormat: 'b64_json',
    stream: false,
    partialImages: 0,
    user: null,
    operation: 'edit',
    style: null,
    ...overrides,
  };
}

export function providerCall(model: string, request: Partial<EditRequest> = {}, call: Partial<ProviderCall> = {}): ProviderCall {
  const req = editRequest(request);
  return { request: req, model, n: 1, index: 0, mask: null, maskedImage: null, outputFormat: req.outputFormat, seed: 1234, ...call };
}
