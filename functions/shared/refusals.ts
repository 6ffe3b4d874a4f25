/**
 * The error contract: every refusal the API can answer, with its HTTP status and
 * what it means. The database raises them (`ems_refuse(code, message)`:
 * SQLSTATE P0001, DETAIL 'ems:<code>'), the TypeScript raises them as
 * `DomainError`s, and the HTTP layer answers `{ "error": { "code", "message" } }`
 * with this status. A new refusal touches the SQL that raises it and this table.
 */
export const REFUSALS = {
  validation_failed: { status: 400, meaning: 'The request is malformed: a bad id, type, missing or unstorable field.' },
  unauthorized: { status: 401, meaning: 'No valid bearer token, or it carries no identity.' },
  forbidden: { status: 403, meaning: 'The caller may not do this (wrong role, inactive membership, unverified or ambiguous e-mail).' },
  not_found: { status: 404, meaning: 'No such listing, conversation, member, handler or company, or not one the caller may see.' },
  method_not_allowed: { status: 405, meaning: 'The path exists, the method does not.' },
  already_removed: { status: 409, meaning: 'The member is already removed.' },
  already_active: { status: 409, meaning: 'The member is already active.' },
  last_admin: { status: 409, meaning: 'The change would leave the company without an active owner or admin.' },
  listing_not_active: { status: 409, meaning: 'The listing is not active and takes no new messages.' },
  no_recipient: { status: 409, meaning: "Nobody in the listing's company can receive its messages right now." },
  invalid_handler: { status: 409, meaning: 'A message handler must be an active member of the company.' },
  inactive_recipient: { status: 409, meaning: 'The new holder may not hold the listing (not an active member of its company).' },
  payload_too_large: { status: 413, meaning: 'The body is larger than the limit.' },
  unavailable: { status: 503, meaning: 'The database is unavailable or not migrated yet; retry shortly (Retry-After).' },
} as const satisfies Record<string, { status: number; meaning: string }>;

export type RefusalCode = keyof typeof REFUSALS;

export function isRefusalCode(code: string): code is RefusalCode {
  return Object.hasOwn(REFUSALS, code);
}
