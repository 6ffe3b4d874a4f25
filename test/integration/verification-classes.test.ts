/**
 * The routing invariant of the verification (functions/verification/verify.ts) names each
 * company-scoped violation class with its count (README: How routing works).
 *
 * Each test starts from clean rows written the ordinary way, then corrupts ONE row with the
 * routing triggers off (`SET LOCAL session_replication_role = replica` skips ordinary triggers,
 * so no guard can correct or refuse the write: this is how a corrupted database looks, whatever
 * the triggers of the day enforce), commits, and checks the verification names exactly that
 * class with count 1. A conversation's corrupting hand-over also writes its ownership log row,
 * so the history stays an unbroken chain and the routing invariant is the only failed check.
 */
import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CHECK_FAILED_METRIC, INVARIANT_VIOLATIONS_METRIC, publishVerificationMetrics } from '../../functions/handlers/scheduled-verification';
import type { Database } from '../../functions/database/port';
import {
  INVARIANT_VIOLATION_CLASSES,
  INVARIANT_VIOLATIONS_SQL,
  verifyInstallation,
  type CheckResult,
  type InvariantViolationClass,
} from '../../functions/verification/verify';
import { createMigratedDatabase, createTestDatabase, type TestDatabase } from '../helpers/database';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../infra/names';
import * as m from '../helpers/marketplace';
import { invariantViolations } from '../helpers/routing-checks';

let t: TestDatabase;

interface Fixture {
  /** Company A: owner, an active member, a member removed the ordinary way (holds nothing). */
  companyA: string;
  ownerA: string;
  memberA: string;
  removedA: string;
  /** Company B's owner. */
  ownerB: string;
  /** An independent seller (no company). */
  independent: string;
  /** Active listing of company A, listed and held by memberA. */
  listingA: string;
  /** Sold listing of company A. */
  soldA: string;
  /** Active independent listing of `independent`. */
  listingI: string;
  /** Open conversations on listingA, soldA and listingI. */
  conversationA: string;
  conversationSold: string;
  conversationI: string;
}

let f: Fixture;

async function buildFixture(db: Database): Promise<Fixture> {
  const companyA = await m.company(db);
  const companyB = await m.company(db);
  const ownerA = await m.seller(db, companyA, 'owner');
  const memberA = await m.seller(db, companyA, 'member');
  const removedA = await m.seller(db, companyA, 'member');
  await db.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [removedA]);
  const ownerB = await m.seller(db, companyB, 'owner');
  const independent = await m.seller(db, null, 'member');
  const listingA = await m.listing(db, memberA, companyA);
  const soldA = await m.listing(db, memberA, companyA);
  const listingI = await m.listing(db, independent, null);
  const buyer = await m.buyer(db);
  const conversationA = await m.conversation(db, listingA, buyer);
  const conversationSold = await m.conversation(db, soldA, buyer);
  const conversationI = await m.conversation(db, listingI, buyer);
  await db.query(`UPDATE listed_cars SET status = 'sold' WHERE id = $1`, [soldA]);
  return { companyA, ownerA, memberA, removedA, ownerB, independent, listingA, soldA, listingI, conversationA, conversationSold, conversationI };
}

/** Runs `work` in one committed transaction with every ordinary trigger skipped. */
async function corrupt(work: (tx: Database) => Promise<unknown>): Promise<void> {
  await t.db.transaction(async (tx) => {
    await tx.query(`SET LOCAL session_replication_role = replica`);
    await work(tx);
  });
}

async function setListingHolder(listingId: string, holder: string | null): Promise<void> {
  await corrupt((tx) =>
    tx.query(
      `UPDATE listed_cars SET current_owner_id = $2::uuid,
              current_owner_type = CASE WHEN $2::uuid IS NULL THEN 'unassigned' ELSE 'seller' END
        WHERE id = $1`,
      [listingId, holder],
    ),
  );
}

/** Hands a conversation to `holder` and logs it (the chain stays unbroken), triggers off. */
async function setConversationHolder(conversationId: string, holder: string | null): Promise<void> {
  await corrupt(async (tx) => {
    await tx.query(
      `INSERT INTO conversation_ownership_log (conversation_id, listing_id, company_id, previous_owner_id, new_owner_id, reason, actor)
       SELECT c.id, c.listing_id, l.company_id, c.seller_id, $2::uuid, 'manual_transfer', 'verification-classes test'
         FROM conversations c JOIN listed_cars l ON l.id = c.listing_id WHERE c.id = $1`,
      [conversationId, holder],
    );
    await tx.query(`UPDATE conversations SET seller_id = $2::uuid WHERE id = $1`, [conversationId, holder]);
  });
}

function zeroCounts(): Record<InvariantViolationClass, number> {
  return Object.fromEntries(INVARIANT_VIOLATION_CLASSES.map((c) => [c, 0])) as Record<InvariantViolationClass, number>;
}

async function invariant(): Promise<{ check: CheckResult; failed: string[] }> {
  const report = await verifyInstallation(t.db);
  const check = report.checks.find((c) => c.name === 'routing invariant')!;
  expect(report.ok).toBe(report.checks.every((c) => c.ok));
  // The tests' own definition of the invariant (test/helpers/routing-checks.ts, written apart on
  // purpose) agrees with the verification's on every state here, class by class.
  const ours = zeroCounts();
  for (const v of await invariantViolations(t.db)) ours[v.violation as InvariantViolationClass] += 1;
  expect(ours, "the tests' invariant (COMPANY_SCOPED_INVARIANT_SQL) counts as the verification does").toEqual(check.violations);
  return { check, failed: report.checks.filter((c) => !c.ok).map((c) => c.name) };
}

/** The verification names exactly `violation`, once, with `id` as its example, and nothing else fails. */
async function expectOnly(violation: InvariantViolationClass, id: string): Promise<void> {
  const { check, failed } = await invariant();
  expect(failed).toEqual(['routing invariant']);
  expect(check.ok).toBe(false);
  expect(check.violations).toEqual({ ...zeroCounts(), [violation]: 1 });
  expect(check.detail).toBe(`${violation}: 1 (e.g. ${id})`);
  expect(await t.db.query(INVARIANT_VIOLATIONS_SQL)).toEqual([{ violation, count: 1, examples: id }]);
}

beforeEach(async () => {
  t = await createMigratedDatabase();
  f = await buildFixture(t.db);
});
afterEach(async () => {
  await t?.drop();
});

describe('the routing invariant names each violation class', () => {
  it('is green, with every class at 0, on clean data', async () => {
    const { check, failed } = await invariant();
    expect(failed).toEqual([]);
    expect(check).toMatchObject({ ok: true, violations: zeroCounts() });
    expect(await t.db.query(INVARIANT_VIOLATIONS_SQL)).toEqual([]);
  });

  it('listing_unheld: an active listing with no holder', async () => {
    await setListingHolder(f.listingA, null);
    await expectOnly('listing_unheld', f.listingA);
  });

  it('listing_holder_inactive: an active listing held by a removed member', async () => {
    await setListingHolder(f.listingA, f.removedA);
    await expectOnly('listing_holder_inactive', f.listingA);
  });

  it("listing_holder_outside_company: an active listing held by another company's active member", async () => {
    await setListingHolder(f.listingA, f.ownerB);
    await expectOnly('listing_holder_outside_company', f.listingA);
  });

  it('listing_holder_not_its_seller: an active independent listing held by an active member who is not its seller', async () => {
    await setListingHolder(f.listingI, f.ownerA);
    await expectOnly('listing_holder_not_its_seller', f.listingI);
  });

  it('conversation_holder_inactive: an open conversation held by a removed member', async () => {
    await setConversationHolder(f.conversationA, f.removedA);
    await expectOnly('conversation_holder_inactive', f.conversationA);
  });

  it("conversation_holder_inactive also on a listing that is not active (it is the holder's status that counts)", async () => {
    await setConversationHolder(f.conversationSold, f.removedA);
    await expectOnly('conversation_holder_inactive', f.conversationSold);
  });

  it("conversation_holder_outside_company: an open conversation held by another company's active member", async () => {
    await setConversationHolder(f.conversationA, f.ownerB);
    await expectOnly('conversation_holder_outside_company', f.conversationA);
  });

  it("conversation_holder_not_its_seller: an open conversation on an independent listing held by someone else", async () => {
    await setConversationHolder(f.conversationI, f.ownerA);
    await expectOnly('conversation_holder_not_its_seller', f.conversationI);
  });

  it('an open conversation nobody holds on an active listing is unassigned, no violation', async () => {
    await setConversationHolder(f.conversationA, null);
    const { check, failed } = await invariant();
    expect(failed).toEqual([]);
    expect(check.violations).toEqual(zeroCounts());
  });

  it('an open conversation nobody holds on a listing that is not active is no violation', async () => {
    await setConversationHolder(f.conversationSold, null);
    const { check, failed } = await invariant();
    expect(failed).toEqual([]);
    expect(check.violations).toEqual(zeroCounts());
  });

  it('a member of the company other than the lister may hold a company listing and its conversations', async () => {
    await setListingHolder(f.listingA, f.ownerA);
    await setConversationHolder(f.conversationA, f.ownerA);
    const { failed } = await invariant();
    expect(failed).toEqual([]);
  });

  it('counts every row once, lists at most three example ids per class (smallest first), classes in spec order', async () => {
    const extra = await Promise.all(Array.from({ length: 4 }, () => m.listing(t.db, f.memberA, f.companyA)));
    for (const id of extra) await setListingHolder(id, f.ownerB);
    // An inactive holder outside the company counts once, as inactive.
    await setListingHolder(f.listingA, f.removedA);
    await corrupt((tx) => tx.query(`UPDATE sellers SET company_id = (SELECT company_id FROM sellers WHERE id = $2) WHERE id = $1`, [f.removedA, f.ownerB]));
    await setConversationHolder(f.conversationI, f.ownerA);

    const { check } = await invariant();
    expect(check.ok).toBe(false);
    expect(check.violations).toEqual({
      ...zeroCounts(),
      listing_holder_inactive: 1,
      listing_holder_outside_company: 4,
      conversation_holder_not_its_seller: 1,
    });
    const examples = [...extra].sort().slice(0, 3).join(', ');
    expect(check.detail).toBe(
      `listing_holder_inactive: 1 (e.g. ${f.listingA}), listing_holder_outside_company: 4 (e.g. ${examples}), ` +
        `conversation_holder_not_its_seller: 1 (e.g. ${f.conversationI})`,
    );
  });

  it('the scheduled verification emits one InvariantViolations metric per class, with its count (EMF)', async () => {
    await setListingHolder(f.listingA, f.ownerB);
    const report = await verifyInstallation(t.db);
    // The test config silences EMF. Metrics reads the setting when it is constructed, and every
    // singleMetric() constructs one: keep EMF on for the whole publication.
    const disabled = process.env.POWERTOOLS_METRICS_DISABLED;
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    const written: string[] = [];
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    try {
      publishVerificationMetrics(report, new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME }));
    } finally {
      stdout.mockRestore();
      if (disabled === undefined) delete process.env.POWERTOOLS_METRICS_DISABLED;
      else process.env.POWERTOOLS_METRICS_DISABLED = disabled;
    }
    const emf = written
      .join('')
      .split('\n')
      .filter((line) => line.includes('"_aws"'))
      .map((line) => JSON.parse(line) as Record<string, unknown> & { _aws: { CloudWatchMetrics: { Dimensions: string[][] }[] } });
    const perClass = emf.filter((line) => INVARIANT_VIOLATIONS_METRIC in line);
    expect(perClass.map((line) => line.violation)).toEqual([...INVARIANT_VIOLATION_CLASSES]);
    expect(Object.fromEntries(perClass.map((line) => [line.violation, line[INVARIANT_VIOLATIONS_METRIC]]))).toEqual({
      ...zeroCounts(),
      listing_holder_outside_company: 1,
    });
    for (const line of perClass) {
      expect(line._aws.CloudWatchMetrics[0]!.Dimensions[0]).toEqual(expect.arrayContaining(['service', 'violation']));
    }
    const invariantCheck = emf.find((line) => CHECK_FAILED_METRIC in line && line.check === 'routing invariant');
    expect(invariantCheck?.[CHECK_FAILED_METRIC]).toBe(1);
  });
});

describe('the id types check (README: Id types)', () => {
  const idTypes = async (db: Database, idType?: 'uuid' | 'bigint' | 'integer') =>
    (await verifyInstallation(db, { idType })).checks.find((c) => c.name === 'id types')!;

  it('passes when the ems_*_id domains match their tables, and when EMS_ID_TYPE is given and is theirs', async () => {
    expect(await idTypes(t.db)).toEqual({ name: 'id types', ok: true, detail: 'uuid ids, recorded as the ems_*_id domains' });
    expect(await idTypes(t.db, 'uuid')).toMatchObject({ ok: true, detail: 'uuid ids, recorded as the ems_*_id domains, as EMS_ID_TYPE says' });
  });

  it('fails naming each table whose ids are not the ones the API takes (EMS_ID_TYPE), and only this check', async () => {
    const report = await verifyInstallation(t.db, { idType: 'bigint' });
    const check = report.checks.find((c) => c.name === 'id types')!;
    expect(check.ok).toBe(false);
    expect(check.detail).toContain('the API takes bigint ids but listed_cars.id is uuid (EMS_ID_TYPE)');
    expect(check.detail.split('; ')).toHaveLength(5);
    expect(report.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['id types']);
  });

  it('fails naming what is missing where nothing was installed', async () => {
    const empty = await createTestDatabase();
    try {
      const check = await idTypes(empty.db);
      expect(check).toMatchObject({ ok: false });
      expect(check.detail).toContain('companies.id is missing');
      await empty.db.query('CREATE TABLE companies (id bigint PRIMARY KEY)');
      expect((await idTypes(empty.db)).detail).toContain('the domain ems_company_id is missing');
    } finally {
      await empty.drop();
    }
  });
});
