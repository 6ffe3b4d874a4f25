/**
 * A marketplace database as it looks before the messaging migrations: data
 * written by plain SQL against the base tables only (no messaging column,
 * trigger or function exists yet).
 */
import type { Database } from '../../functions/database/port';
import { BASE_TABLES } from '../../migrations/20250101000000_base_marketplace_schema';

export { BASE_TABLES };

const company = (n: number) => `c0000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const seller = (n: number) => `50000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

/** Companies and their people: `who` is [seller number, role, joined]. */
const COMPANIES: { n: number; name: string; created: string; people: [number, 'owner' | 'admin' | 'member', string][] }[] = [
  {
    n: 1,
    name: 'Nordic Motors AB',
    created: '2019-03-04 09:15:00.123456+00',
    people: [
      [1, 'owner', '2019-03-04 09:20:00.5+00'],
      [2, 'admin', '2019-05-10 08:00:00+00'],
      [3, 'admin', '2020-01-15 12:30:00.25+00'],
      [4, 'member', '2020-02-01 10:00:00+00'],
      [5, 'member', '2021-06-30 16:45:10.987654+00'],
      [6, 'member', '2022-11-11 11:11:11+00'],
      [7, 'member', '2023-04-01 07:00:00+00'],
    ],
  },
  {
    n: 2,
    name: 'City Cars Ltd',
    created: '2020-07-01 10:00:00+00',
    people: [
      [8, 'owner', '2020-07-01 10:05:00+00'],
      [9, 'member', '2020-08-01 10:00:00+00'],
      [10, 'member', '2021-01-01 10:00:00+00'],
      [11, 'member', '2024-02-29 23:59:59.999999+00'],
    ],
  },
  {
    n: 3,
    name: "Family Garage (admin, no owner) O'Brien",
    created: '2021-02-02 02:02:02+00',
    people: [
      [12, 'admin', '2021-02-02 03:00:00+00'],
      [13, 'member', '2021-03-03 03:00:00+00'],
      [14, 'member', '2022-04-04 04:00:00+00'],
    ],
  },
  {
    n: 4,
    name: 'Members Only Motors',
    created: '2022-05-05 05:05:05+00',
    people: [
      [15, 'member', '2022-05-06 09:00:00+00'],
      [16, 'member', '2022-05-07 09:00:00+00'],
      [17, 'member', '2023-01-01 00:00:00+00'],
    ],
  },
  { n: 5, name: 'Empty Dealership', created: '2024-12-31 23:00:00+00', people: [] },
];

/** Independent sellers (company_id NULL); one legacy sole trader is flagged 'owner'. */
const INDEPENDENT: [number, 'owner' | 'member', string][] = [
  [18, 'member', '2019-09-09 09:09:09+00'],
  [19, 'member', '2023-10-10 10:10:10.10101+00'],
  [20, 'owner', '2018-01-01 00:00:00+00'],
];

export const EXISTING_COMPANY_IDS = COMPANIES.map((c) => company(c.n));

/** Fills the base tables the way the marketplace did before the migrations. Returns row counts. */
export async function seedExistingMarketplace(db: Database): Promise<Record<string, number>> {
  for (const c of COMPANIES) {
    await db.query('INSERT INTO companies (id, name, created_at) VALUES ($1, $2, $3)', [company(c.n), c.name, c.created]);
    for (const [n, role, joined] of c.people) {
      await db.query('INSERT INTO sellers (id, company_id, name, email, role, created_at) VALUES ($1, $2, $3, $4, $5, $6)', [
        seller(n),
        company(c.n),
        `Seller ${n} of ${c.name}`,
        `seller${n}@${c.name.toLowerCase().replace(/[^a-z]+/g, '-')}.example`,
        role,
        joined,
      ]);
    }
  }
  for (const [n, role, joined] of INDEPENDENT) {
    await db.query('INSERT INTO sellers (id, company_id, name, email, role, created_at) VALUES ($1, NULL, $2, $3, $4, $5)', [
      seller(n),
      `Independent seller ${n}`,
      `private${n}@mail.example`,
      role,
      joined,
    ]);
  }

  await db.query(`
    INSERT INTO buyers (name, email, created_at)
    SELECT 'Buyer ' || g, 'buyer' || g || '@mail.example', timestamptz '2024-01-01 08:00:00+00' + g * interval '7 hours 13 minutes 0.123457 seconds'
      FROM generate_series(1, 15) g`);

  // Six listings per seller: every status, and a legacy company listing with company_id NULL.
  await db.query(`
    INSERT INTO listed_cars (seller_id, company_id, make, model, year, price_cents, status, created_at, updated_at)
    SELECT s.id,
           CASE WHEN g = 6 THEN NULL ELSE s.company_id END,
           (ARRAY['Volvo', 'Saab', 'Toyota', 'BMW', 'Kia', 'Tesla'])[g],
           (ARRAY['V60', '9-3', 'Corolla', '320d', 'Ceed', 'Model 3'])[g],
           2008 + g + (hashtext(s.email) & 7),
           1500000 + g * 123457 + (hashtext(s.email) & 1023) * 1000,
           (ARRAY['draft', 'active', 'sold', 'archived', 'active', 'active'])[g],
           s.created_at + g * interval '3 days 4 hours 0.000001 seconds',
           s.created_at + g * interval '5 days'
      FROM sellers s CROSS JOIN generate_series(1, 6) g`);

  // Conversations on every listing that was ever published: open ones on active listings,
  // closed ones everywhere; a few legacy rows have no seller recorded.
  await db.query(`
    WITH l AS (SELECT id, seller_id, status, created_at, row_number() OVER (ORDER BY created_at, id) AS n
                 FROM listed_cars WHERE status <> 'draft'),
         b AS (SELECT id, row_number() OVER (ORDER BY email) AS n FROM buyers)
    INSERT INTO conversations (listing_id, buyer_id, seller_id, status, created_at, last_message_at)
    SELECT l.id, b.id,
           CASE WHEN (l.n + b.n) % 11 = 0 THEN NULL ELSE l.seller_id END,
           CASE WHEN l.status = 'active' AND (l.n + b.n) % 3 <> 0 THEN 'open' ELSE 'closed' END,
           l.created_at + b.n * interval '1 day 0.5 seconds',
           CASE WHEN (l.n + b.n) % 7 = 0 THEN NULL ELSE l.created_at + b.n * interval '1 day 2 hours' END
      FROM l JOIN b ON (l.n + b.n) % 5 < 2`);

  // Messages both ways; buyers' messages to a conversation without a seller have no recipient.
  await db.query(`
    INSERT INTO messages (conversation_id, sender_type, sender_id, recipient_id, body, created_at)
    SELECT c.id,
           CASE WHEN g % 2 = 1 OR c.seller_id IS NULL THEN 'buyer' ELSE 'seller' END,
           CASE WHEN g % 2 = 1 OR c.seller_id IS NULL THEN c.buyer_id ELSE c.seller_id END,
           CASE WHEN g % 2 = 1 OR c.seller_id IS NULL THEN c.seller_id ELSE c.buyer_id END,
           CASE g WHEN 1 THEN 'Hi, is the car still available?' WHEN 2 THEN 'Yes, it is. When would you like to see it?'
                  WHEN 3 THEN 'Saturday at 10? Also: any service history (''full'', I hope)?' ELSE 'See you then 👍' END,
           c.created_at + g * interval '1 hour 0.000003 seconds'
      FROM conversations c CROSS JOIN generate_series(1, 4) g`);

  const counts: Record<string, number> = {};
  for (const table of BASE_TABLES) {
    const [row] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
    counts[table] = row!.n;
  }
  return counts;
}

/**
 * A bigger marketplace for timing-sensitive tests: `companies` companies with
 * an owner, an admin and members, `listings` listings and some conversations.
 */
export async function seedBulkMarketplace(db: Database, { companies = 20, sellersPerCompany = 10, listings = 10_000, conversations = 2_000 } = {}) {
  await db.query(
    `INSERT INTO companies (name) SELECT 'Bulk dealer ' || g FROM generate_series(1, $1) g`,
    [companies],
  );
  await db.query(
    `INSERT INTO sellers (company_id, name, email, role)
     SELECT c.id, c.name || ' seller ' || g, md5(c.id::text) || '.' || g || '@bulk.example',
            CASE g WHEN 1 THEN 'owner' WHEN 2 THEN 'admin' ELSE 'member' END
       FROM companies c CROSS JOIN generate_series(1, $1) g`,
    [sellersPerCompany],
  );
  await db.query(`INSERT INTO buyers (name, email) SELECT 'Bulk buyer ' || g, 'bulk' || g || '@buyers.example' FROM generate_series(1, 200) g`);
  await db.query(
    `WITH s AS (SELECT id, company_id, row_number() OVER (ORDER BY id) - 1 AS n, count(*) OVER () AS total FROM sellers)
     INSERT INTO listed_cars (seller_id, company_id, make, model, year, price_cents, status)
     SELECT s.id, s.company_id, 'Volvo', 'XC' || (g % 90), 2000 + g % 25, 1000000 + g, CASE WHEN g % 10 = 0 THEN 'sold' ELSE 'active' END
       FROM generate_series(1, $1) g JOIN s ON s.n = g % s.total`,
    [listings],
  );
  await db.query(
    `WITH l AS (SELECT id, seller_id, row_number() OVER (ORDER BY id) AS n FROM listed_cars WHERE status = 'active'),
          b AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM buyers)
     INSERT INTO conversations (listing_id, buyer_id, seller_id, status)
     SELECT l.id, b.id, l.seller_id, CASE WHEN l.n % 4 = 0 THEN 'closed' ELSE 'open' END
       FROM l JOIN b ON b.n = 1 + l.n % 200 WHERE l.n <= $1`,
    [conversations],
  );
}
