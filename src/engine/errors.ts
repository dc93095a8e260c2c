/**
 * An input the engine could not decode. The caller (providers/local) turns it
 * into a 400 naming the parameter: inputIndex i → the i-th image, 'mask' → mask.
 */
export class EngineInputError extends Error {
  readonly code = 'invalid_image';
  readonly inputIndex: number | 'mask';

  constructor(inputIndex: number | 'mask', message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EngineInputError';
    this.inputIndex = inputIndex;
  }
}

export const isEngineInputError = (e: unknown): e is EngineInputError => e instanceof EngineInputError;

/** Every worker is busy and the queue is full: try again shortly. */
export class EngineBusyError extends Error {
  readonly code = 'engine_overloaded';

  constructor(readonly queued: number) {
    super(`the built-in engine is busy: ${queued} jobs are already waiting`);
    this.name = 'EngineBusyError';
  }
}

export const isEngineBusyError = (e: unknown): e is EngineBusyError => e instanceof EngineBusyError;
