/**
 * Toxiproxy's API errors: `{"error": "<message>", "status": <code>}`, with Toxiproxy's own
 * messages and statuses (api.go), so clients that match on them keep working.
 */

export class ToxiproxyApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'ToxiproxyApiError';
  }

  toJSON(): { error: string; status: number } {
    return { error: this.message, status: this.status };
  }

  /** Toxiproxy's `joinError`: `<wrapper message>: <detail>`, with the wrapper's status */
  static join(wrapper: ToxiproxyApiError, detail: string): ToxiproxyApiError {
    return new ToxiproxyApiError(`${wrapper.message}: ${detail}`, wrapper.status);
  }
}

/** Toxiproxy's catalog (api.go), same messages and statuses */
export const ApiErrors = {
  badRequestBody: new ToxiproxyApiError('bad request body', 400),
  missingField: new ToxiproxyApiError('missing required field', 400),
  proxyNotFound: new ToxiproxyApiError('proxy not found', 404),
  proxyAlreadyExists: new ToxiproxyApiError('proxy already exists', 409),
  invalidStream: new ToxiproxyApiError('stream was invalid, can be either upstream or downstream', 400),
  invalidToxicType: new ToxiproxyApiError('invalid toxic type', 400),
  toxicAlreadyExists: new ToxiproxyApiError('toxic already exists', 409),
  toxicNotFound: new ToxiproxyApiError('toxic not found', 404),
} as const;
