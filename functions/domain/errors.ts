import { REFUSALS, type RefusalCode } from '../shared/refusals';

/**
 * Typed errors of the domain. Each carries a stable machine code and the HTTP
 * status it maps to; the HTTP layer maps them in one place and turns anything
 * else into a generic 500 that leaks nothing.
 */
export class DomainError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly httpStatus: number,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends DomainError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('validation_failed', message, 400, details);
  }
}

export class NotFoundError extends DomainError {
  constructor(what: string, id: string | number) {
    super('not_found', `${what} ${id} was not found`, 404, { what, id });
  }
}

/** A well-formed request the current state refuses (last admin, nobody to receive, ...). */
export class ConflictError extends DomainError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(code, message, 409, details);
  }
}

export class UnauthorizedError extends DomainError {
  constructor(message = 'A valid bearer token is required') {
    super('unauthorized', message, 401);
  }
}

export class ForbiddenError extends DomainError {
  constructor(message = 'You are not allowed to do this') {
    super('forbidden', message, 403);
  }
}

/** The database is unreachable or restarting: the caller may retry shortly. */
export class UnavailableError extends DomainError {
  constructor(message = 'The service is temporarily unavailable, please retry shortly') {
    super('unavailable', message, 503, { retryAfterSeconds: 2 });
  }
}

export class PayloadTooLargeError extends DomainError {
  constructor(limitBytes: number) {
    super('payload_too_large', `The body is larger than ${limitBytes} bytes`, 413);
  }
}

/** A refusal of the error contract (functions/shared/refusals.ts), as the database raised it, as its typed error. */
export function refusal(code: RefusalCode, message: string): DomainError {
  switch (REFUSALS[code].status) {
    case 400:
      return new ValidationError(message);
    case 401:
      return new UnauthorizedError(message);
    case 403:
      return new ForbiddenError(message);
    case 409:
      return new ConflictError(code, message);
    case 503:
      return new UnavailableError(message);
    default:
      return new DomainError(code, message, REFUSALS[code].status);
  }
}
