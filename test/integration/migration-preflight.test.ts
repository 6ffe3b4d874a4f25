/**
 * The pre-flight (functions/migration-runner/preflight.ts) on marketplaces the migrations cannot be
 * installed on as they are: `npm run migrate:messaging` and the knex CLI refuse before any change,
 * with one report naming every problem and the query that finds it; once fixed as the report says,
 * the migrations go green, and a database they were installed on stays green.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMessagingMigrations, type RunnerReport } from '../../functions/migration-runner/runner';
import { runPreflight, type PreflightProblem } from '../../functions/migration-runner/preflight';
import { PgDatabase } from '../../functions/database/pg-adapter';
import { apiRoutes } from '../../functions/domain/api-routes';
import { verifyInstallation } from '../../functions/verification/verify';
import { MESSAGING_MIGRATION_NAMES } from '../../migrations';
import { ID_DOMAINS as ID_DOMAIN_NAMES } from '../../migrations/lib/id-domains';
import { schemaCatalog, type SchemaCatalog } from '../helpers/catalog';
import { commandEnv, runCommand, type CommandResult } from '../helpers/cli';
import { createTestDatabase, type TestDatabase, databasesDroppedAfterAll } from '../helpers/database';
import { createKnexMarketplace } from '../helpers/knex-marketplace';
import { ALL_MIGRATION_NAMES, recordedMigrations, rollbackAll } from '../helpers/migrations';
import { contentFingerprint } from '../helpers/snapshot';

const database = databasesDroppedAfterAll();

/** The catalog without knex's bookkeeping, which a knex command creates before it runs anything. */
async function marketplaceCatalog(t: TestDatabase): Promise<SchemaCatalog> {
  const catalog = await schemaCatalog(t.db);
  const ours = (row: Record<string, unknown>) => !Object.values(row).some((v) => typeof v === 'string' && /^(relation )?knex_migrations/.test(v));
  return Object.fromEntries(Object.entries(catalog).map(([part, rows]) => [part, rows.filter(ours)])) as SchemaCatalog;
}

/** What a refused run must leave: the schema and every row as they were. */
async function state(t: TestDatabase) {
  return { catalog: await marketplaceCatalog(t), rows: await contentFingerprint(t.db) };
}

const problemLines = (text: string) => text.split('\n').filter((line) => /^\d+\. /.test(line));

/** Runs every problem's query: each must find what its problem names. */
async function expectEveryQueryFindsRows(t: TestDatabase, problems: readonly PreflightProblem[]) {
  for (const problem of problems) {
    if (!problem.find) continue;
    const rows = await t.db.query(problem.find.replace(/;$/, ''));
    expect(rows.length, `${problem.problem}\n${problem.find}`).toBeGreaterThan(0);
  }
}

const migrate = (t: TestDatabase, extra: Record<string, string> = {}) =>
  runCommand('npm run -s migrate:messaging', commandEnv(t.url, extra), { timeoutMs: 120_000 });

describe('bigserial ids and a listing without a seller', () => {
  // The marketplace of the report this pre-flight answers: documented columns, bigserial ids, one
  // listing whose seller_id is NULL. Migration 1 used to add six columns to sellers, then fail.
  const BIGSERIAL_MARKETPLACE = `
    CREATE TABLE companies (id bigserial PRIMARY KEY, name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
    CREATE TABLE sellers (id bigserial PRIMARY KEY, company_id bigint REFERENCES companies (id), name text NOT NULL,
      email text NOT NULL UNIQUE, role text NOT NULL DEFAULT 'member', created_at timestamptz NOT NULL DEFAULT now());
    CREATE TABLE buyers (id bigserial PRIMARY KEY, name text NOT NULL, email text NOT NULL UNIQUE, created_at timestamptz NOT NULL DEFAULT now());
    CREATE TABLE listed_cars (id bigserial PRIMARY KEY, seller_id bigint REFERENCES sellers (id), company_id bigint REFERENCES companies (id),
      make text NOT NULL, model text NOT NULL, year integer NOT NULL, price_cents bigint NOT NULL, status text NOT NULL DEFAULT 'draft',
      created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
    CREATE INDEX listed_cars_seller_id_idx ON listed_cars (seller_id);
    CREATE TABLE conversations (id bigserial PRIMARY KEY, listing_id bigint NOT NULL REFERENCES listed_cars (id),
      buyer_id bigint NOT NULL REFERENCES buyers (id), seller_id bigint REFERENCES sellers (id), status text NOT NULL DEFAULT 'open',
      created_at timestamptz NOT NULL DEFAULT now(), last_message_at timestamptz);
    CREATE INDEX conversations_listing_id_idx ON conversations (listing_id);
    CREATE TABLE messages (id bigserial PRIMARY KEY, conversation_id bigint NOT NULL REFERENCES conversations (id), sender_type text NOT NULL,
      sender_id bigint NOT NULL, recipient_id bigint, body text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
    INSERT INTO companies (name) VALUES ('Acme Autos');
    INSERT INTO sellers (company_id, name, email, role) VALUES (1, 'Olivia', 'olivia@acme.example', 'owner'), (1, 'Sam', 'sam@acme.example', 'member');
    INSERT INTO buyers (name, email) VALUES ('Bob', 'bob@mail.example');
    INSERT INTO listed_cars (seller_id, company_id, make, model, year, price_cents, status)
      VALUES (2, 1, 'Volvo', 'V60', 2020, 2500000, 'active'), (NULL, 1, 'Saab', '9-3', 2008, 500000, 'active');
    INSERT INTO conversations (listing_id, buyer_id, seller_id) VALUES (1, 1, 2);
    INSERT INTO messages (conversation_id, sender_type, sender_id, recipient_id, body) VALUES (1, 'buyer', 1, 2, 'Still for sale?');`;

  let t: TestDatabase;
  let before: Awaited<ReturnType<typeof state>>;
  beforeAll(async () => {
    t = await database();
    await t.db.query(BIGSERIAL_MARKETPLACE);
    before = await state(t);
  });

  it('npm run migrate:messaging refuses before any change: exit 1, the problem with the query that finds it (bigint ids are no problem)', async () => {
    const result = await migrate(t);
    expect(result.code, result.stdout + result.stderr).toBe(1);
    expect(result.stdout).toContain('FAILED during preflight: listed_cars.seller_id is NULL in 1 listing.');
    expect(result.stdout).toContain('Nothing was changed: fix it and run again.');
    expect(result.stdout).toContain('Find: SELECT id FROM listed_cars WHERE seller_id IS NULL;');
    expect(result.stdout).not.toMatch(/Applying/);
    // What the report's queries find, run as a user would copy them.
    expect(await t.db.query('SELECT id FROM listed_cars WHERE seller_id IS NULL')).toEqual([{ id: 2 }]);
    expect(await state(t)).toEqual(before);
    expect(await recordedMigrations(t.db)).toEqual([]);
  });

  it('the runner reports the same problems as data (--json, the deploy), each with a query that finds its rows', async () => {
    const report = await runMessagingMigrations({ connectionString: t.url });
    expect(report.ok).toBe(false);
    expect(report.failure?.stage).toBe('preflight');
    expect(report.applied).toEqual([]);
    expect(report.preflight?.problems.map((p) => p.problem)).toEqual(['listed_cars.seller_id is NULL in 1 listing.']);
    await expectEveryQueryFindsRows(t, report.preflight!.problems);
    expect(await state(t)).toEqual(before);
  });

  it('`npx knex migrate:latest` refuses with the same report, and the marketplace is as it was', async () => {
    const result = await runCommand('npx knex migrate:latest', commandEnv(t.url), { viaBin: true, timeoutMs: 120_000 });
    expect(result.code, result.stdout + result.stderr).not.toBe(0);
    expect(result.stdout + result.stderr).toContain('listed_cars.seller_id is NULL in 1 listing.');
    expect(await state(t)).toEqual(before);
    expect((await recordedMigrations(t.db)).filter((name) => MESSAGING_MIGRATION_NAMES.includes(name))).toEqual([]);
  });

  it('with the listing given its seller, the migrations install on the bigint ids: each id domain is bigint, the verification is green', async () => {
    await t.db.query(`UPDATE listed_cars SET seller_id = 2 WHERE seller_id IS NULL`);
    const report = await runMessagingMigrations({ connectionString: t.url });
    expect(report.failure, report.failure?.message).toBeUndefined();
    expect(await recordedMigrations(t.db)).toEqual(ALL_MIGRATION_NAMES);
    expect(await idDomains(t)).toEqual(Object.fromEntries(ID_DOMAIN_NAMES.map((d) => [d, 'bigint'])));
    // Sam leaves: his listing goes to the owner, as on uuid ids.
    await t.db.query(`UPDATE sellers SET member_status = 'removed' WHERE id = 2`);
    expect(await t.db.query(`SELECT id::text, current_owner_id::text FROM listed_cars ORDER BY id`)).toEqual([
      { id: '1', current_owner_id: '1' },
      { id: '2', current_owner_id: '1' },
    ]);
    const verification = await verifyInstallation(t.db);
    expect(verification.checks.filter((c) => !c.ok)).toEqual([]);
  });
});

describe('ids of more than one type', () => {
  it('are refused naming each, since the API takes one form of id (EMS_ID_TYPE), and nothing changes', async () => {
    const t = await database();
    await createKnexMarketplace(t.url, 'increments');
    await t.db.query(`ALTER TABLE messages ALTER COLUMN id TYPE bigint`);
    const before = await state(t);
    const report = await runMessagingMigrations({ connectionString: t.url });
    expect(report.failure?.stage).toBe('preflight');
    expect(report.preflight?.problems.map((p) => p.problem)).toEqual([
      'Ids of more than one type: companies.id is integer, sellers.id is integer, buyers.id is integer, listed_cars.id is integer, conversations.id is integer and messages.id is bigint.',
    ]);
    await expectEveryQueryFindsRows(t, report.preflight!.problems);
    expect(await state(t)).toEqual(before);
  });
});

/** The id domains the migrations recorded, and the type each stands for. */
async function idDomains(t: TestDatabase): Promise<Record<string, string>> {
  const rows = await t.db.query<{ typname: string; base: string }>(
    `SELECT typname, format_type(typbasetype, typtypmod) AS base FROM pg_type WHERE typtype = 'd' AND typname LIKE 'ems\\_%\\_id' ORDER BY typname`,
  );
  return Object.fromEntries(rows.map((r) => [r.typname, r.base]));
}

describe.each([
  { ids: 'uuid' as const, type: 'uuid', missingSeller: 'gen_random_uuid()' },
  { ids: 'increments' as const, type: 'integer', missingSeller: '999999' },
])('a marketplace built the knex way with $type ids, and a problem of every kind', ({ ids, type, missingSeller }) => {
  let t: TestDatabase;
  let before: Awaited<ReturnType<typeof state>>;
  let refused: RunnerReport;
  const id = async (sql: string) => String((await t.db.query<{ id: string }>(sql))[0]!.id);

  beforeAll(async () => {
    t = await database();
    await createKnexMarketplace(t.url, ids);
    const company = await id(`SELECT id FROM companies`);
    await t.db.query(`
      -- A listing without a seller, and one whose seller is gone (no foreign key says otherwise).
      INSERT INTO listed_cars (seller_id, company_id, make, model, year, price_cents, status)
        VALUES (NULL, '${company}', 'Saab', '9-3', 2008, 500000, 'active');
      ALTER TABLE listed_cars DROP CONSTRAINT listed_cars_seller_id_foreign;
      INSERT INTO listed_cars (seller_id, company_id, make, model, year, price_cents, status)
        VALUES (${missingSeller}, '${company}', 'Saab', '9-5', 2009, 600000, 'sold');
      -- A role, a listing status and a conversation status the routing does not know.
      ALTER TABLE sellers DROP CONSTRAINT sellers_role_check;
      UPDATE sellers SET role = 'manager' WHERE email = 'mia@fjord.example';
      ALTER TABLE listed_cars DROP CONSTRAINT listed_cars_status_check,
        ADD CONSTRAINT listed_cars_status_check CHECK (status IN ('draft', 'active', 'sold', 'archived', 'reserved'));
      ALTER TABLE listed_cars ADD CONSTRAINT listed_cars_status_valid CHECK (status IN ('draft', 'active', 'sold', 'archived', 'reserved'));
      ALTER TABLE listed_cars ALTER COLUMN status TYPE varchar(16);
      UPDATE listed_cars SET status = 'reserved' WHERE model = 'V61' AND seller_id = (SELECT id FROM sellers WHERE email = 'olivia@fjord.example');
      ALTER TABLE conversations ALTER COLUMN status DROP NOT NULL, ALTER COLUMN status DROP DEFAULT;
      UPDATE conversations SET status = NULL WHERE id = (SELECT id FROM conversations WHERE status = 'closed' ORDER BY id LIMIT 1);
      -- Rows the API writes that the marketplace's columns would refuse.
      ALTER TABLE conversations ALTER COLUMN seller_id SET NOT NULL;
      ALTER TABLE messages ADD COLUMN channel text NOT NULL DEFAULT 'web';
      ALTER TABLE messages ALTER COLUMN channel DROP DEFAULT;
      ALTER TABLE messages ALTER COLUMN sender_id TYPE varchar(64) USING sender_id::text;
      -- Objects of the marketplace's own under names the migrations use.
      ALTER TABLE sellers ADD COLUMN member_status boolean NOT NULL DEFAULT true,
        ADD CONSTRAINT sellers_member_status_check CHECK (member_status IS NOT NULL);
      CREATE INDEX sellers_lower_email_idx ON sellers (lower(email));
      CREATE VIEW active_company_members AS SELECT id, name FROM sellers WHERE member_status;
      CREATE FUNCTION get_member_statistics(company ${type}) RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM sellers WHERE company_id = company';
      CREATE FUNCTION touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN NEW.updated_at := now(); RETURN NEW; END';
      CREATE TRIGGER listed_cars_track_ownership BEFORE UPDATE ON listed_cars FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
      -- A big conversations table without an index on listing_id (knex indexes no reference).
      INSERT INTO conversations (listing_id, buyer_id, seller_id, status)
        SELECT l.id, b.id, l.seller_id, 'closed' FROM generate_series(1, 3400) g
          JOIN LATERAL (SELECT id, seller_id FROM listed_cars WHERE status = 'active' AND seller_id IS NOT NULL ORDER BY id OFFSET g % 3 LIMIT 1) l ON true
          CROSS JOIN buyers b;`);
    await t.db.query('ANALYZE');
    before = await state(t);
  });

  it('the runner refuses with every problem, each with the query that finds its rows, and changes nothing', async () => {
    refused = await runMessagingMigrations({ connectionString: t.url });
    expect(refused.failure?.stage).toBe('preflight');
    expect(refused.applied).toEqual([]);
    const problems = refused.preflight!.problems.map((p) => p.problem);
    const expected = [
      new RegExp(`^Columns that refer to ids have another type than the ids: messages\\.sender_id is character varying\\(64\\) but buyers\\.id is ${type}\\.$`),
      /^listed_cars\.status is character varying\(16\): too short for 'pending_reassignment' \(20 characters\)\.$/,
      /^conversations\.seller_id does not allow NULL\.$/,
      /^conversations\.status defaults to nothing, not 'open'\.$/,
      /^NOT NULL columns without a default: messages\.channel\.$/,
      /^Tables, views or indexes of yours have names the migrations use: .*\bactive_company_members\b/,
      /^Columns of yours have names the migrations use: sellers\.member_status\.$/,
      /^Constraints of yours have names the migrations use: sellers\.sellers_member_status_check\.$/,
      /^Triggers of yours have names the migrations use: listed_cars\.listed_cars_track_ownership\.$/,
      /^Functions of yours have names the migrations use: get_member_statistics\.$/,
      /^listed_cars_status_check is yours, not a list of the statuses the routing knows: .*'reserved'/,
      /^The CHECK constraint listed_cars_status_valid on listed_cars\.status would refuse 'pending_reassignment'/,
      /^listed_cars\.seller_id is NULL in 1 listing\.$/,
      /^listed_cars\.seller_id names a seller that does not exist in 1 listing\.$/,
      /^sellers\.role holds values the routing does not know: 'manager' \(1 row\)\.$/,
      /^listed_cars\.status holds values the routing does not know: 'reserved' \(1 row\)\.$/,
      /^conversations\.status holds values the routing does not know: NULL \(1 row\)\.$/,
      /^conversations has no index on listing_id \(about 10,2\d\d rows\)\.$/,
    ];
    expect(problems, problems.join('\n')).toHaveLength(expected.length);
    for (const [i, pattern] of expected.entries()) expect(problems[i], problems.join('\n')).toMatch(pattern);
    expect(problems.find((p) => p.startsWith('Tables, views'))).toContain('sellers_lower_email_idx');
    await expectEveryQueryFindsRows(t, refused.preflight!.problems);
    expect(refused.preflight!.problems.find((p) => p.problem.startsWith('conversations has no index'))?.fix).toBe(
      'CREATE INDEX CONCURRENTLY conversations_listing_id_idx ON conversations (listing_id);',
    );
    expect(await state(t)).toEqual(before);
  });

  it('npm run migrate:messaging prints the same report and exits 1', async () => {
    const result = await migrate(t);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).toContain('The pre-flight found 18 problems. Nothing was changed: fix them and run again.');
    expect(problemLines(result.stdout)).toEqual(refused.preflight!.problems.map((p, i) => `${i + 1}. ${p.problem}`));
    for (const p of refused.preflight!.problems) if (p.find) expect(result.stdout).toContain(`Find: ${p.find}`);
    expect(await state(t)).toEqual(before);
  });

  it('`npx knex migrate:up <first messaging migration>.js` refuses with the same report before changing anything', async () => {
    const result: CommandResult = await runCommand(`npx knex migrate:up ${MESSAGING_MIGRATION_NAMES[0]}`, commandEnv(t.url), {
      viaBin: true,
      timeoutMs: 120_000,
    });
    expect(result.code).not.toBe(0);
    expect(problemLines(result.stdout + result.stderr).slice(0, refused.preflight!.problems.length)).toEqual(
      refused.preflight!.problems.map((p, i) => `${i + 1}. ${p.problem}`),
    );
    expect(await state(t)).toEqual(before);
    expect(await recordedMigrations(t.db)).toEqual([]);
  });

  let fixed: SchemaCatalog;
  it('fixed as the report says, the migrations, the verification and the routing go green', async () => {
    const client = new pg.Client({ connectionString: t.url });
    await client.connect();
    try {
      // The fixes the report spells out (the index is built CONCURRENTLY, outside a transaction).
      for (const problem of refused.preflight!.problems) if (problem.fix) await client.query(problem.fix);
      // The rest: the data and the marketplace's own objects.
      await client.query(`
        UPDATE listed_cars SET seller_id = (SELECT id FROM sellers WHERE email = 'olivia@fjord.example') WHERE seller_id IS NULL;
        DELETE FROM listed_cars l WHERE NOT EXISTS (SELECT 1 FROM sellers s WHERE s.id = l.seller_id);
        ALTER TABLE listed_cars ADD CONSTRAINT listed_cars_seller_id_foreign FOREIGN KEY (seller_id) REFERENCES sellers (id);
        UPDATE sellers SET role = 'member' WHERE role = 'manager';
        UPDATE listed_cars SET status = 'active' WHERE status = 'reserved';
        ALTER TABLE listed_cars DROP CONSTRAINT listed_cars_status_check,
          ADD CONSTRAINT listed_cars_status_check CHECK (status IN ('draft', 'active', 'sold', 'archived'));
        UPDATE conversations SET status = 'closed' WHERE status IS NULL;
        ALTER TABLE messages ALTER COLUMN channel SET DEFAULT 'web';
        ALTER TABLE messages ALTER COLUMN sender_id TYPE ${type} USING sender_id::${type};
        ALTER VIEW active_company_members RENAME TO enabled_sellers;
        ALTER TABLE sellers RENAME COLUMN member_status TO enabled;
        ALTER TABLE sellers RENAME CONSTRAINT sellers_member_status_check TO sellers_enabled_check;
        ALTER INDEX sellers_lower_email_idx RENAME TO sellers_email_lower_idx;
        ALTER FUNCTION get_member_statistics(${type}) RENAME TO company_seller_count;
        ALTER TRIGGER listed_cars_track_ownership ON listed_cars RENAME TO listed_cars_touch_updated_at;`);
    } finally {
      await client.end();
    }
    fixed = await marketplaceCatalog(t);

    const report = await runMessagingMigrations({ connectionString: t.url });
    expect(report.failure, report.failure?.message).toBeUndefined();
    expect(report.preflight?.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(await recordedMigrations(t.db)).toEqual(ALL_MIGRATION_NAMES);
    expect(await idDomains(t)).toEqual(Object.fromEntries(ID_DOMAIN_NAMES.map((d) => [d, type])));

    // Mia, a member who listed active cars, leaves: what she held goes to her company, never nowhere.
    await t.db.query(`UPDATE sellers SET member_status = 'removed' WHERE email = 'mia@fjord.example'`);
    const held = await t.db.query<{ holder: string; active: boolean }>(
      `SELECT s.email AS holder, s.member_status = 'active' AS active
         FROM listed_cars l JOIN sellers s ON s.id = l.current_owner_id
        WHERE l.status = 'active' AND l.seller_id = (SELECT id FROM sellers WHERE email = 'mia@fjord.example')`,
    );
    expect(held.length).toBeGreaterThan(0);
    for (const row of held) expect(row).toMatchObject({ active: true });
    expect(held.map((r) => r.holder)).not.toContain('mia@fjord.example');
    const verification = await verifyInstallation(t.db);
    expect(verification.checks.filter((c) => !c.ok)).toEqual([]);
  });

  it("the API's route functions, as the API's login user, on these ids: the owner takes Mia back with her listings, a buyer's message reaches her", async () => {
    const api = new PgDatabase(t.apiUrl, { max: 1, applicationName: 'ems-test-api' });
    try {
      const owner = { identity: 'olivia@fjord.example', emailVerified: 'true' };
      const mia = await id(`SELECT id::text AS id FROM sellers WHERE email = 'mia@fjord.example'`);
      const back = await apiRoutes.reactivateMember(api, owner, mia, true, 'came back');
      expect(back.listingsRestored).toBeGreaterThan(0);
      const listing = await id(`SELECT id::text AS id FROM listed_cars WHERE seller_id = '${mia}' AND status = 'active' ORDER BY id LIMIT 1`);
      const sent = await apiRoutes.sendMessage(api, { identity: 'buyer1@mail.example', emailVerified: 'true' }, listing, 'Is it still for sale?');
      expect(String(sent.recipient?.id)).toBe(mia);
      const recipient = await apiRoutes.getListingRecipient(api, { identity: 'buyer2@mail.example', emailVerified: 'true' }, listing);
      expect(String(recipient.recipientId)).toBe(mia);
    } finally {
      await api.close();
    }
  });

  it('run again, with nothing to apply: the pre-flight finds nothing to say and the run is green', async () => {
    const report = await runMessagingMigrations({ connectionString: t.url });
    expect(report.ok, report.failure?.message).toBe(true);
    expect(report.applied).toEqual([]);
    expect(report.preflight).toBeUndefined();
  });

  it('rolled back, the marketplace has its schema back as it was once fixed', async () => {
    await t.db.query(`UPDATE sellers SET member_status = 'active' WHERE email = 'mia@fjord.example'`);
    await rollbackAll(t.url);
    expect(await marketplaceCatalog(t)).toEqual(fixed);
  });
});

describe("a CHECK of the marketplace's on listed_cars.status", () => {
  it("is reported when it would refuse 'pending_reassignment', whether it lists the statuses or excludes that one, and not otherwise", async () => {
    const t = await createTestDatabase();
    try {
      await runMessagingMigrations({ connectionString: t.url, createBaseSchema: true }).then((r) => {
        if (!r.ok) throw new Error('setup: migrating failed');
      });
      await rollbackAll(t.url);
      // The pre-flight alone (every migration pending): it changes nothing, so each case starts alike.
      const refusedChecks = async (constraint: string) => {
        await t.db.query(`ALTER TABLE listed_cars ADD CONSTRAINT listed_cars_status_rule ${constraint} NOT VALID`);
        try {
          const report = await runPreflight((sql, params) => t.db.query(sql, params), { applied: [] });
          return report.problems.map((p) => p.problem).filter((p) => p.includes('listed_cars_status_rule'));
        } finally {
          await t.db.query('ALTER TABLE listed_cars DROP CONSTRAINT listed_cars_status_rule');
        }
      };
      expect(await refusedChecks(`CHECK (status <> 'pending_reassignment')`)).toEqual([
        expect.stringMatching(/^The CHECK constraint listed_cars_status_rule on listed_cars\.status would refuse 'pending_reassignment'/),
      ]);
      expect(await refusedChecks(`CHECK (length(status) < 12)`)).toHaveLength(1);
      expect(await refusedChecks(`CHECK (status <> 'reserved')`)).toEqual([]);
      expect(await refusedChecks(`CHECK (status IN ('draft', 'active', 'sold', 'archived', 'pending_reassignment'))`)).toEqual([]);
    } finally {
      await t.drop();
    }
  });
});
