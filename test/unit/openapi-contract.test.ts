/**
 * The contract check itself (test/helpers/openapi-contract.ts) against the committed document:
 * it passes what the document describes and names each way a response can differ from it, so the
 * check api-handlers.test.ts runs on every response can fail.
 */
import { describe, expect, it } from 'vitest';
import { json } from '../../functions/http/responses';
import { OWNER_TYPES, OWNERSHIP_LOG_REASONS } from '../../functions/http/response-schemas';
import { OWNER_TYPES as DATABASE_OWNER_TYPES } from '../../migrations/20250622121000_messaging_ownership_tracking';
import { OWNERSHIP_LOG_REASONS as DATABASE_OWNERSHIP_LOG_REASONS } from '../../migrations/20261130120000_company_scoped_routing';
import { contractChecker, readOpenApiDocument } from '../helpers/openapi-contract';

const contract = contractChecker();
const health = { status: 'ok', database: 'reachable', migrations: { applied: 7, pending: [] } };
const removal = {
  sellerId: '0b0c9a53-8a9e-4a63-9b43-2f1f0f3b6c11',
  companyId: '6f9b1a2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b',
  status: 'removed',
  listingsMoved: 2,
  conversationsMoved: 1,
  movedTo: { id: '7d9f1c2e-3b4a-4c5d-8e6f-7a8b9c0d1e2f', name: 'Hannah' },
};
const refusal = (status: number, code: string, headers: Record<string, string> = {}) => json(status, { error: { code, message: 'no' } }, headers);

describe('the OpenAPI contract check', () => {
  it('passes responses as the document describes them', () => {
    expect(contract.problems('health', json(200, health))).toEqual([]);
    expect(contract.problems('removeMember', json(200, removal))).toEqual([]);
    expect(contract.problems('removeMember', json(200, { ...removal, movedTo: null }))).toEqual([]);
    expect(contract.problems('removeMember', refusal(409, 'last_admin'))).toEqual([]);
    expect(contract.problems('health', refusal(503, 'unavailable', { 'retry-after': '2' }))).toEqual([]);
  });

  it('names a body that differs from its schema: a wrong type, a missing or an extra field, a code of another status', () => {
    expect(contract.problems('removeMember', json(200, { ...removal, listingsMoved: '2' }))).toEqual([
      expect.stringMatching(/removeMember 200: body \/listingsMoved must be integer/),
    ]);
    const { movedTo: _, ...withoutMovedTo } = removal;
    expect(contract.problems('removeMember', json(200, withoutMovedTo))).toEqual([expect.stringMatching(/must have required property 'movedTo'/)]);
    expect(contract.problems('health', json(200, { ...health, version: '1' }))).toEqual([expect.stringMatching(/must NOT have additional properties/)]);
    expect(contract.problems('removeMember', refusal(409, 'not_found'))).toEqual([expect.stringMatching(/\/error\/code must be equal to one of the allowed values/)]);
  });

  it('names a status the operation does not document', () => {
    expect(contract.problems('health', refusal(404, 'not_found'))).toEqual([expect.stringMatching(/health: status 404 is not documented/)]);
    expect(contract.problems('getCompanyStats', refusal(409, 'last_admin'))).toEqual([expect.stringMatching(/status 409 is not documented/)]);
  });

  it('names a missing, invalid or undocumented header and an undocumented content type', () => {
    expect(contract.problems('health', refusal(503, 'unavailable'))).toEqual([expect.stringMatching(/required header Retry-After is missing/)]);
    expect(contract.problems('health', refusal(503, 'unavailable', { 'retry-after': 'soon' }))).toEqual([
      expect.stringMatching(/header Retry-After 'soon' .*must be integer/),
    ]);
    expect(contract.problems('health', json(200, health, { 'x-debug': '1' }))).toEqual([expect.stringMatching(/header x-debug is not documented/)]);
    expect(contract.problems('health', { ...json(200, health), headers: { 'content-type': 'text/plain', 'cache-control': 'no-store' } })).toEqual([
      expect.stringMatching(/content type 'text\/plain' is not documented/),
    ]);
  });

  it('checks against the document it is given: a wrong schema there fails a right response', () => {
    const wrong = readOpenApiDocument();
    wrong.components.schemas.RemovalSummary.properties.listingsMoved = { type: 'string' };
    expect(contractChecker(wrong).problems('removeMember', json(200, removal))).toEqual([expect.stringMatching(/\/listingsMoved must be string/)]);
  });

  it("documents the database's values where a response names them (the CHECK constraints' lists)", () => {
    expect([...OWNER_TYPES].sort()).toEqual([...DATABASE_OWNER_TYPES].sort());
    expect([...OWNERSHIP_LOG_REASONS].sort()).toEqual([...DATABASE_OWNERSHIP_LOG_REASONS].sort());
  });
});
