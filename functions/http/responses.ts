/** HTTP responses, and the one place where errors become HTTP. */
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { DomainError } from '../domain/errors';
import { translateDatabaseError } from '../domain/transactions';

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyStructuredResultV2 {
  return { statusCode, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) };
}

export function errorResponse(statusCode: number, code: string, message: string, headers: Record<string, string> = {}) {
  return json(statusCode, { error: { code, message } }, headers);
}

/** What any error outside the error contract answers: nothing about it (it is logged). */
export const INTERNAL_ERROR = {
  status: 500,
  code: 'internal_error',
  message: 'Something went wrong on our side; it has been logged.',
  meaning: 'An unexpected error; it has been logged.',
} as const;

export interface MappedError {
  readonly response: APIGatewayProxyStructuredResultV2;
  /** Unexpected errors are logged in full by the caller; their response says nothing. */
  readonly unexpected: boolean;
}

export function mapError(error: unknown): MappedError {
  const translated = translateDatabaseError(error);
  if (translated instanceof DomainError) {
    const retryAfter = translated.details?.retryAfterSeconds;
    const headers: Record<string, string> = retryAfter ? { 'retry-after': String(retryAfter) } : {};
    return { response: errorResponse(translated.httpStatus, translated.code, translated.message, headers), unexpected: false };
  }
  return { response: errorResponse(INTERNAL_ERROR.status, INTERNAL_ERROR.code, INTERNAL_ERROR.message), unexpected: true };
}
