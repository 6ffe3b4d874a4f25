/**
 * Benchmark data: a realistic marketplace in the BASE schema only (the tables as
 * they exist before the messaging migrations), so the migrations can then be
 * measured on it. Everything is set-based SQL (generate_series, INSERT ... SELECT),
 * never row by row: the full size (1,000,000 listings, 2,000,000 conversations)
 * loads in a few minutes on 2 cores.
 *
 * Shape (scaled by the size's factor; the figures here are the full size):
 * - 10,000 companies, each with an owner, usually (9 in 10) an admin, and members;
 *   3 "big" companies of 50,000 listings each, 3 admins and 300 members;
 * - the "biggest member" (a plain member of big company #1): 10,000 active listings
 *   (plus 1,000 sold) and 20,000 open conversations (plus 4,000 closed);
 * - 20% independent sellers (company_id NULL) holding 15% of the listings;
 * - other listings spread over the other companies' sellers with a skew
 *   (a few sellers hold thousands, most a handful);
 * - listing statuses: active 60%, sold 20%, archived 12%, draft 8%;
 * - conversations on active listings (open 60%, closed 40%) and on sold/archived
 *   ones (closed), each with the listing's seller as its seller;
 * - a few messages (about 5% of conversations have one, some a reply).
 *
 * Usage: `tsx test/bench/generate.ts <database-url> [--smoke|--full]` on a database
 * where the baseline migration has run (`npm run bench` does all of this itself).
 */
import pg from 'pg';

export type SizeName = 'smoke' | 'quick' | 'full';

export interface BenchSize {
  readonly name: SizeName;
  readonly scale: number;
  readonly companies: number;
  readonly sellers: number;
  readonly buyers: number;
  readonly listings: number;
  readonly conversations: number;
  /** Companies holding `bigCompanyListings` listings each; #1 has the biggest member. */
  readonly bigCompanies: number;
  readonly bigCompanyListings: number;
  readonly bigCompanyMembers: number;
  readonly biggestMemberActiveListings: number;
  readonly biggestMemberOpenConversations: number;
}

function sized(name: SizeName, scale: number): BenchSize {
  const n = (full: number, min = 1) => Math.max(min, Math.round(full * scale));
  return {
    name,
    scale,
    companies: n(10_000, 20),
    sellers: n(100_000, 300),
    buyers: n(250_000, 500),
    listings: n(1_000_000, 3_000),
    conversations: n(2_000_000, 5_000),
    bigCompanies: 3,
    bigCompanyListings: n(50_000, 150),
    bigCompanyMembers: n(300, 8),
    biggestMemberActiveListings: n(10_000, 30),
    biggestMemberOpenConversations: n(20_000, 60),
  };
}

export const SIZES: Record<SizeName, BenchSize> = {
  smoke: sized('smoke', 0.005),
  quick: sized('quick', 0.1),
  full: sized('full', 1),
};

export interface GeneratedMarketplace {
  readonly size: BenchSize;
  readonly biggestCompanyId: string;
  readonly biggestMemberId: string;
  readonly counts: Record<string, number>;
  readonly timingsMs: Record<string, number>;
  readonly totalMs: number;
  /** Foreign-key triggers were skipped during the load (session_replication_role = replica; superuser only). */
  readonly fkChecksSkipped: boolean;
}

const MAKES_MODELS = [
  'Toyota|Corolla', 'Toyota|RAV4', 'Toyota|Yaris', 'Volkswagen|Golf', 'Volkswagen|Passat', 'Volkswagen|Tiguan',
  'Ford|Focus', 'Ford|Fiesta', 'Ford|Kuga', 'BMW|320d', 'BMW|X3', 'Mercedes-Benz|C 220', 'Mercedes-Benz|GLC',
  'Audi|A4', 'Audi|Q5', 'Skoda|Octavia', 'Skoda|Fabia', 'Volvo|V60', 'Volvo|XC60', 'Renault|Clio', 'Peugeot|308',
  'Opel|Astra', 'Hyundai|i30', 'Kia|Ceed', 'Tesla|Model 3', 'Nissan|Qashqai', 'Mazda|CX-5', 'Honda|Civic',
  'Fiat|500', 'Seat|Leon',
];
const FIRST_NAMES = ['Anna', 'Ben', 'Carla', 'David', 'Eva', 'Felix', 'Greta', 'Hugo', 'Ines', 'Jonas', 'Klara', 'Lukas', 'Mia', 'Noah', 'Olivia', 'Paul', 'Rosa', 'Sven', 'Tara', 'Umar'];
const LAST_NAMES = ['Andersen', 'Becker', 'Costa', 'Dubois', 'Evans', 'Fischer', 'Garcia', 'Hansen', 'Ivanova', 'Jensen', 'Kowalski', 'Larsen', 'Meyer', 'Nowak', 'Olsen', 'Petrov', 'Rossi', 'Schmidt', 'Thomsen', 'Weber'];

const BASE_TABLE_NAMES = ['companies', 'sellers', 'buyers', 'listed_cars', 'conversations', 'messages'] as const;

const sqlArray = (values: readonly string[]) => `ARRAY[${values.map((v) => `'${v.replace(/'/g, "''")}'`).join(', ')}]`;
const personName = (n: string) =>
  `(${sqlArray(FIRST_NAMES)})[1 + (${n}) % ${FIRST_NAMES.length}] || ' ' || (${sqlArray(LAST_NAMES)})[1 + ((${n}) / ${FIRST_NAMES.length}) % ${LAST_NAMES.length}]`;

/**
 * INSERT INTO listed_cars from `source`, a query with columns seller_id, company_id and
 * forced_status (NULL: drawn from the status mix). The inner subquery has volatile
 * target columns, so PostgreSQL evaluates random() once per row and never flattens it.
 */
function insertListings(source: string): string {
  return `
    INSERT INTO listed_cars (id, seller_id, company_id, make, model, year, price_cents, status, created_at, updated_at)
    SELECT gen_random_uuid(), x.seller_id, x.company_id, split_part(x.mm, '|', 1), split_part(x.mm, '|', 2), x.year,
           x.price_cents,
           coalesce(x.forced_status, CASE WHEN x.r < 0.60 THEN 'active' WHEN x.r < 0.80 THEN 'sold'
                                          WHEN x.r < 0.92 THEN 'archived' ELSE 'draft' END),
           x.created_at, x.created_at + x.u * (now() - x.created_at)
      FROM (SELECT src.seller_id, src.company_id, src.forced_status,
                   (${sqlArray(MAKES_MODELS)})[1 + floor(random() * ${MAKES_MODELS.length})::int] AS mm,
                   2008 + floor(random() * 18)::int AS year,
                   (150000 + round(power(random(), 2) * 9000000 / 100) * 100)::bigint AS price_cents,
                   random() AS r, random() AS u,
                   now() - random() * interval '730 days' AS created_at
              FROM (${source}) src) x`;
}

/** Conversations from `source` (listing_id, listing_created, seller_id, status), each with a random buyer. */
function insertConversations(source: string, buyers: number): string {
  return `
    INSERT INTO conversations (id, listing_id, buyer_id, seller_id, status, created_at, last_message_at)
    SELECT gen_random_uuid(), x.listing_id, b.id, x.seller_id, x.status, x.created_at,
           x.created_at + x.u * (now() - x.created_at)
      FROM (SELECT src.listing_id, src.seller_id, src.status,
                   1 + floor(random() * ${buyers})::int AS buyer_k,
                   src.listing_created + random() * (now() - src.listing_created) AS created_at,
                   random() AS u
              FROM (${source}) src) x
      JOIN g_buyers b ON b.k = x.buyer_k`;
}

export async function generateMarketplace(
  connectionString: string,
  size: BenchSize,
  log: (line: string) => void = () => undefined,
): Promise<GeneratedMarketplace> {
  const client = new pg.Client({ connectionString, application_name: 'ems-bench-generate' });
  await client.connect();
  const timingsMs: Record<string, number> = {};
  const started = Date.now();
  const step = async (name: string, sql: string | string[]) => {
    const t0 = Date.now();
    for (const statement of Array.isArray(sql) ? sql : [sql]) await client.query(statement);
    timingsMs[name] = (timingsMs[name] ?? 0) + (Date.now() - t0);
  };
  const count = async (sql: string) => Number((await client.query<{ n: string }>(sql)).rows[0]!.n);

  try {
    const existing = await count('SELECT count(*) AS n FROM listed_cars');
    if (existing > 0) throw new Error('generateMarketplace needs an empty base schema (listed_cars already has rows)');

    await client.query(`SET temp_buffers = '256MB'`);
    await client.query(`SET work_mem = '256MB'`);
    await client.query(`SET maintenance_work_mem = '512MB'`);
    await client.query('SET synchronous_commit = off');
    // A bulk load of consistent data: skip the per-row foreign-key triggers (as pg_restore
    // --disable-triggers does). Superuser only; elsewhere the checks simply run.
    let fkChecksSkipped = false;
    try {
      await client.query('SET session_replication_role = replica');
      fkChecksSkipped = true;
    } catch {
      fkChecksSkipped = false;
    }
    await client.query('SELECT setseed(0.4242)');

    // Secondary indexes are dropped for the load and rebuilt after it (much faster than
    // maintaining them row by row); primary keys and unique constraints stay.
    const secondaryIndexes = (
      await client.query<{ name: string; def: string }>(
        `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
           FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
           LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid
          WHERE t.relname = ANY($1) AND t.relnamespace = current_schema()::regnamespace AND c.oid IS NULL
          ORDER BY 1`,
        [[...BASE_TABLE_NAMES]],
      )
    ).rows;
    for (const index of secondaryIndexes) await client.query(`DROP INDEX ${index.name}`);

    const K = size.bigCompanies;
    const C = size.companies;
    log(`generating ${size.name}: ${C} companies, ${size.sellers} sellers, ${size.listings} listings, ${size.conversations} conversations`);

    // Companies.
    await step('companies', [
      `CREATE TEMP TABLE g_companies AS
         SELECT c AS n, gen_random_uuid() AS id, now() - interval '6 years' + random() * interval '1500 days' AS created_at
           FROM generate_series(1, ${C}) c`,
      `INSERT INTO companies (id, name, created_at)
         SELECT id, CASE WHEN n <= ${K} THEN 'Big Dealer Group ' || n ELSE 'Dealer ' || n || ' Motors' END, created_at
           FROM g_companies ORDER BY n`,
    ]);

    // Sellers: an owner per company, an admin in 9 companies out of 10 (3 in the big ones),
    // the big companies' members (the biggest member first), other members spread with a
    // skew over the other companies, then independent sellers (no company).
    const companySellers = Math.round(size.sellers * 0.8);
    await step('sellers', [
      `CREATE TEMP TABLE g_sellers (n serial PRIMARY KEY, id uuid NOT NULL DEFAULT gen_random_uuid(), company_n int,
         company_id uuid, role text NOT NULL, kind text NOT NULL, created_at timestamptz NOT NULL)`,
      `INSERT INTO g_sellers (company_n, company_id, role, kind, created_at)
         SELECT n, id, 'owner', 'owner', created_at FROM g_companies ORDER BY n`,
      `INSERT INTO g_sellers (company_n, company_id, role, kind, created_at)
         SELECT c.n, c.id, 'admin', 'admin', c.created_at + interval '1 day' + a * interval '20 days' + random() * interval '10 days'
           FROM g_companies c CROSS JOIN LATERAL generate_series(1, CASE WHEN c.n <= ${K} THEN 3 ELSE 1 END) a
          WHERE c.n <= ${K} OR c.n % 10 <> 0
          ORDER BY c.n, a`,
      `INSERT INTO g_sellers (company_n, company_id, role, kind, created_at)
         SELECT c.n, c.id, 'member', CASE WHEN c.n = 1 AND m = 1 THEN 'biggest_member' ELSE 'big_member' END,
                c.created_at + interval '90 days' + random() * interval '600 days'
           FROM g_companies c CROSS JOIN LATERAL generate_series(1, ${size.bigCompanyMembers}) m
          WHERE c.n <= ${K}
          ORDER BY c.n, m`,
    ]);
    const remainingMembers = Math.max(0, companySellers - (await count('SELECT count(*) AS n FROM g_sellers')));
    await step('sellers', [
      `INSERT INTO g_sellers (company_n, company_id, role, kind, created_at)
         SELECT c.n, c.id, 'member', 'member', c.created_at + interval '30 days' + random() * interval '1000 days'
           FROM (SELECT ${K} + 1 + floor(power(random(), 1.5) * ${C - K})::int AS k FROM generate_series(1, ${remainingMembers})) x
           JOIN g_companies c ON c.n = x.k`,
      `INSERT INTO g_sellers (company_n, company_id, role, kind, created_at)
         SELECT NULL, NULL, 'member', 'independent', now() - random() * interval '2000 days'
           FROM generate_series(1, ${Math.max(1, size.sellers - companySellers)})`,
      `INSERT INTO sellers (id, company_id, name, email, role, created_at)
         SELECT id, company_id, ${personName('n')}, 'seller' || n || '@bench.example', role, created_at
           FROM g_sellers ORDER BY n`,
    ]);

    await step('buyers', [
      `CREATE TEMP TABLE g_buyers AS
         SELECT k, gen_random_uuid() AS id, now() - random() * interval '1500 days' AS created_at
           FROM generate_series(1, ${size.buyers}) k`,
      `ALTER TABLE g_buyers ADD PRIMARY KEY (k)`,
      `INSERT INTO buyers (id, name, email, created_at)
         SELECT id, ${personName('k + 7')}, 'buyer' || k || '@bench.example', created_at FROM g_buyers ORDER BY k`,
    ]);

    // Listings.
    const biggestMemberOther = Math.max(1, Math.round(size.biggestMemberActiveListings / 10));
    const independentListings = Math.round(size.listings * 0.15);
    const bigListings = K * size.bigCompanyListings;
    const otherListings = Math.max(0, size.listings - bigListings - independentListings);
    await step('listings', [
      `CREATE TEMP TABLE g_pool_big AS
         SELECT company_n, row_number() OVER (PARTITION BY company_n ORDER BY n)::int AS k, id, company_id
           FROM g_sellers WHERE company_n <= ${K} AND kind <> 'biggest_member'`,
      `CREATE TEMP TABLE g_big_sizes AS
         SELECT company_n, count(*)::int AS pool,
                ${size.bigCompanyListings} - CASE WHEN company_n = 1 THEN ${size.biggestMemberActiveListings + biggestMemberOther} ELSE 0 END AS listings
           FROM g_pool_big GROUP BY company_n`,
      `CREATE TEMP TABLE g_pool_other AS
         SELECT row_number() OVER (ORDER BY random())::int AS k, id, company_id FROM g_sellers WHERE company_n > ${K}`,
      `ALTER TABLE g_pool_other ADD PRIMARY KEY (k)`,
      `CREATE TEMP TABLE g_pool_indep AS
         SELECT row_number() OVER (ORDER BY n)::int AS k, id FROM g_sellers WHERE kind = 'independent'`,
      insertListings(
        `SELECT s.id AS seller_id, s.company_id, CASE WHEN g <= ${size.biggestMemberActiveListings} THEN 'active' ELSE 'sold' END AS forced_status
           FROM g_sellers s CROSS JOIN generate_series(1, ${size.biggestMemberActiveListings + biggestMemberOther}) g
          WHERE s.kind = 'biggest_member'`,
      ),
      insertListings(
        `SELECT p.id AS seller_id, p.company_id, NULL::text AS forced_status
           FROM (SELECT z.company_n, 1 + floor(random() * z.pool)::int AS k
                   FROM g_big_sizes z CROSS JOIN LATERAL generate_series(1, greatest(z.listings, 0))) y
           JOIN g_pool_big p ON p.company_n = y.company_n AND p.k = y.k`,
      ),
      insertListings(
        `SELECT p.id AS seller_id, NULL::uuid AS company_id, NULL::text AS forced_status
           FROM (SELECT 1 + floor(random() * (SELECT count(*) FROM g_pool_indep))::int AS k
                   FROM generate_series(1, ${independentListings})) y
           JOIN g_pool_indep p ON p.k = y.k`,
      ),
      insertListings(
        `SELECT p.id AS seller_id, p.company_id, NULL::text AS forced_status
           FROM (SELECT 1 + floor(power(random(), 2) * (SELECT count(*) FROM g_pool_other))::int AS k
                   FROM generate_series(1, ${otherListings})) y
           JOIN g_pool_other p ON p.k = y.k`,
      ),
    ]);

    const [ids] = (
      await client.query<{ company_id: string; seller_id: string }>(
        `SELECT company_id, id AS seller_id FROM g_sellers WHERE kind = 'biggest_member'`,
      )
    ).rows;
    const biggest = ids!;

    // Conversations.
    const bmClosed = Math.round(size.biggestMemberOpenConversations / 5);
    const others = Math.max(0, size.conversations - size.biggestMemberOpenConversations - bmClosed);
    const onActive = Math.round(others * 0.85);
    const onInactive = others - onActive;
    await step('conversations', [
      `CREATE TEMP TABLE g_bm_active AS
         SELECT row_number() OVER ()::int AS k, id, created_at FROM listed_cars
          WHERE seller_id = '${biggest.seller_id}' AND status = 'active'`,
      `ALTER TABLE g_bm_active ADD PRIMARY KEY (k)`,
      `CREATE TEMP TABLE g_active AS
         SELECT row_number() OVER ()::int AS k, id, seller_id, created_at FROM listed_cars
          WHERE status = 'active' AND seller_id <> '${biggest.seller_id}'`,
      `ALTER TABLE g_active ADD PRIMARY KEY (k)`,
      `CREATE TEMP TABLE g_inactive AS
         SELECT row_number() OVER ()::int AS k, id, seller_id, created_at FROM listed_cars
          WHERE status IN ('sold', 'archived') AND seller_id <> '${biggest.seller_id}'`,
      `ALTER TABLE g_inactive ADD PRIMARY KEY (k)`,
      `ANALYZE g_bm_active; ANALYZE g_active; ANALYZE g_inactive; ANALYZE g_buyers`,
      insertConversations(
        `SELECT l.id AS listing_id, l.created_at AS listing_created, '${biggest.seller_id}'::uuid AS seller_id,
                CASE WHEN y.g <= ${size.biggestMemberOpenConversations} THEN 'open' ELSE 'closed' END AS status
           FROM (SELECT g, 1 + floor(random() * (SELECT count(*) FROM g_bm_active))::int AS k
                   FROM generate_series(1, ${size.biggestMemberOpenConversations + bmClosed}) g) y
           JOIN g_bm_active l ON l.k = y.k`,
        size.buyers,
      ),
      insertConversations(
        `SELECT l.id AS listing_id, l.created_at AS listing_created, l.seller_id,
                CASE WHEN y.r < 0.6 THEN 'open' ELSE 'closed' END AS status
           FROM (SELECT 1 + floor(random() * (SELECT count(*) FROM g_active))::int AS k, random() AS r
                   FROM generate_series(1, ${onActive})) y
           JOIN g_active l ON l.k = y.k`,
        size.buyers,
      ),
      insertConversations(
        `SELECT l.id AS listing_id, l.created_at AS listing_created, l.seller_id, 'closed' AS status
           FROM (SELECT 1 + floor(random() * (SELECT count(*) FROM g_inactive))::int AS k
                   FROM generate_series(1, ${onInactive})) y
           JOIN g_inactive l ON l.k = y.k`,
        size.buyers,
      ),
    ]);

    // A few messages: about 5% of conversations got one from the buyer, a third of those a reply.
    await step('messages', [
      `INSERT INTO messages (conversation_id, sender_type, sender_id, recipient_id, body, created_at)
         SELECT id, 'buyer', buyer_id, seller_id, 'Hello, is this car still available?', created_at
           FROM conversations TABLESAMPLE BERNOULLI (5) REPEATABLE (42)`,
      `INSERT INTO messages (conversation_id, sender_type, sender_id, recipient_id, body, created_at)
         SELECT m.conversation_id, 'seller', c.seller_id, m.sender_id, 'Yes it is. When would you like to see it?',
                m.created_at + interval '2 hours'
           FROM messages m TABLESAMPLE BERNOULLI (33) REPEATABLE (7)
           JOIN conversations c ON c.id = m.conversation_id`,
    ]);

    await client.query('RESET session_replication_role').catch(() => undefined);
    await step('indexes', secondaryIndexes.map((index) => index.def));
    // A production database is vacuumed and analyzed; so is this one.
    await step('vacuum analyze', BASE_TABLE_NAMES.map((t) => `VACUUM (ANALYZE) ${t}`));

    const counts: Record<string, number> = {};
    for (const table of BASE_TABLE_NAMES) {
      counts[table] = await count(`SELECT count(*) AS n FROM ${table}`);
    }
    counts.biggest_company_listings = await count(`SELECT count(*) AS n FROM listed_cars WHERE company_id = '${biggest.company_id}'`);
    counts.biggest_member_active_listings = await count(
      `SELECT count(*) AS n FROM listed_cars WHERE seller_id = '${biggest.seller_id}' AND status = 'active'`,
    );
    counts.biggest_member_open_conversations = await count(
      `SELECT count(*) AS n FROM conversations WHERE seller_id = '${biggest.seller_id}' AND status = 'open'`,
    );
    counts.independent_sellers = await count('SELECT count(*) AS n FROM sellers WHERE company_id IS NULL');
    counts.companies_without_admin = await count(
      `SELECT count(*) AS n FROM companies c WHERE NOT EXISTS (SELECT 1 FROM sellers s WHERE s.company_id = c.id AND s.role = 'admin')`,
    );
    counts.database_bytes = await count('SELECT pg_database_size(current_database()) AS n');

    return {
      size,
      biggestCompanyId: biggest.company_id,
      biggestMemberId: biggest.seller_id,
      counts,
      timingsMs,
      totalMs: Date.now() - started,
      fkChecksSkipped,
    };
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const url = args.find((a) => !a.startsWith('--')) ?? process.env.DATABASE_URL;
  if (!url) {
    console.error('usage: tsx test/bench/generate.ts <database-url> [--smoke|--full]  (base schema applied, tables empty)');
    process.exit(2);
  }
  const size = args.includes('--full') ? SIZES.full : args.includes('--smoke') ? SIZES.smoke : SIZES.quick;
  const result = await generateMarketplace(url, size, (line) => console.log(line));
  console.log(JSON.stringify(result, null, 2));
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
