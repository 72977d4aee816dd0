/** The error every failed audit API call throws: the HTTP status and herald's reason. */
export class AuditApiError extends Error {
  /** HTTP status (0 when herald could not be reached). */
  readonly status: number;
  /** The query parameter herald refused, on a 400. */
  readonly parameter: string | undefined;

  constructor(status: number, message: string, parameter?: string) {
    super(message);
    this.name = 'AuditApiError';
    this.status = status;
    this.parameter = parameter;
  }

  /** Builds the error from a non-2xx response, reading herald's `{error, parameter}` body. */
  static async fromResponse(res: Response, what: string): Promise<AuditApiError> {
    const text = await res.text().catch(() => '');
    let message = text.trim();
    let parameter: string | undefined;
    try {
      const body = JSON.parse(text) as { error?: unknown; parameter?: unknown };
      if (typeof body.error === 'string') message = body.error;
      if (typeof body.parameter === 'string') parameter = body.parameter;
    } catch {
      /* herald's authentication errors are plain text */
    }
    return new AuditApiError(res.status, `${what}: HTTP ${res.status}${message ? `: ${message}` : ''}`, parameter);
  }
}
