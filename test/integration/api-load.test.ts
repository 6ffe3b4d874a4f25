/**
 * A sustained load at a fixed rate against the local API (autocannon) while
 * members are removed and reactivated: zero errors, and afterwards the
 * verification is green, every ownership chain is unbroken and no message went
 * to a member who was not active. 10 s in CI; EMS_LONG_TESTS=1 runs 60 s.
 */
import autocannon from 'autocannon';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { reactivateMember, removeMember } from '../../functions/domain/company-members';
import { DEMO } from '../../functions/local/demo-data';
import type { LocalServer } from '../../functions/local/server';
import { verifyInstallation } from '../../functions/verification/verify';
import type { TestDatabase } from '../helpers/database';
import { startLocalApi, type LocalApi } from '../helpers/local-api';
import { invariantViolationsIn, ownershipChainProblems } from '../helpers/routing-checks';

const SECONDS = process.env.EMS_LONG_TESTS === '1' ? 60 : 10;
const RATE = 100; // requests per second, overall

let api: LocalApi;
let t: TestDatabase;
let server: LocalServer;

beforeAll(async () => {
  api = await startLocalApi();
  ({ t, server } = api);
});
afterAll(async () => api?.close());

it(`${SECONDS} s at ${RATE} req/s with removals and reactivations: zero errors, invariant and history intact`, { timeout: (SECONDS + 60) * 1000 }, async () => {
  const { tokens } = api;
  const buyers = [await tokens.sign(DEMO.buyers.bob.email), await tokens.sign(DEMO.buyers.beth.email)];
  const listings = [api.demo.listings.mariaVolvo.id, api.demo.listings.mariaSaab.id, api.demo.listings.mikeAudi.id];
  let n = 0;
  const next = () => {
    n += 1;
    return { buyer: buyers[n % buyers.length]!, listing: listings[n % listings.length]! };
  };

  // Membership churn on the members whose listings the buyers write about.
  let churning = true;
  let changes = 0;
  const churn = (async () => {
    const members = [api.demo.sellers.maria.id, api.demo.sellers.mike.id];
    for (let i = 0; churning; i += 1) {
      const sellerId = members[i % members.length]!;
      const input = { companyId: api.demo.companies.northside, sellerId, actor: 'load-test' };
      await removeMember(t.db, { ...input, reason: 'load test' });
      await new Promise((r) => setTimeout(r, 50));
      await reactivateMember(t.db, { ...input, restoreListings: true });
      changes += 2;
      await new Promise((r) => setTimeout(r, 50));
    }
  })();

  const statuses = new Map<number, number>();
  const result = await autocannon({
    url: server.url,
    connections: 10,
    duration: SECONDS,
    overallRate: RATE,
    requests: [
      {
        method: 'POST',
        path: '/messages',
        setupRequest: (request) => {
          const { buyer, listing } = next();
          return {
            ...request,
            headers: { authorization: `Bearer ${buyer}`, 'content-type': 'application/json' },
            body: JSON.stringify({ listingId: listing, body: `message ${n}` }),
          };
        },
        onResponse: (status) => statuses.set(status, (statuses.get(status) ?? 0) + 1),
      },
      {
        method: 'GET',
        setupRequest: (request) => ({
          ...request,
          path: `/messages/listing/${next().listing}/recipient`,
          headers: { authorization: `Bearer ${next().buyer}` },
        }),
        onResponse: (status) => statuses.set(status, (statuses.get(status) ?? 0) + 1),
      },
    ],
  } as autocannon.Options);
  churning = false;
  await churn;

  expect(result.errors, 'connection errors').toBe(0);
  expect(result.timeouts, 'timeouts').toBe(0);
  expect([...statuses.keys()].every((s) => s >= 200 && s < 300), JSON.stringify([...statuses])).toBe(true);
  expect(result.requests.total).toBeGreaterThan(RATE * SECONDS * 0.8);
  expect(changes).toBeGreaterThan(10);

  expect((await verifyInstallation(t.db)).ok).toBe(true);
  expect(await invariantViolationsIn(t.db, api.demo.companies.northside)).toEqual([]);
  expect(await ownershipChainProblems(t.db, api.demo.companies.northside)).toEqual([]);
  // Every message has a recipient; one whose recipient is removed now was moved away from them
  // afterwards (its conversation's log has a later move away from that recipient).
  const orphaned = await t.db.query(
    `SELECT m.id FROM messages m JOIN sellers s ON s.id = m.recipient_id
      WHERE s.member_status <> 'active'
        AND NOT EXISTS (SELECT 1 FROM conversation_ownership_log l
                         WHERE l.conversation_id = m.conversation_id AND l.previous_owner_id = m.recipient_id
                           AND l.changed_at >= m.created_at)
     UNION ALL SELECT id FROM messages WHERE sender_type = 'buyer' AND recipient_id IS NULL`,
  );
  expect(orphaned).toEqual([]);
});
