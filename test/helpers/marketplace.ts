/** Builders for marketplace rows, writing plain SQL the way the marketplace's own code would. */
import { randomUUID } from 'node:crypto';
import type { Database } from '../../functions/database/port';

export type Role = 'owner' | 'admin' | 'member';

export async function company(db: Database, name = `Dealer ${randomUUID().slice(0, 8)}`): Promise<string> {
  const [row] = await db.query<{ id: string }>('INSERT INTO companies (name) VALUES ($1) RETURNING id', [name]);
  return row!.id;
}

/**
 * The next id of `table` as the marketplace's own tables make it (the test databases' base tables
 * have uuid ids, or integer/bigint identity ids with EMS_ID_TYPE): a seller's and a buyer's email
 * is made of their id, so it is drawn before the row is written.
 */
const NEXT_ID = {
  uuid: 'SELECT gen_random_uuid() AS id',
  identity: (table: string) => `SELECT nextval(pg_get_serial_sequence('${table}', 'id')) AS id`,
};
const uuidIds = new WeakMap<Database, Promise<boolean>>();

function hasUuidIds(db: Database): Promise<boolean> {
  let known = uuidIds.get(db);
  if (!known) {
    known = db
      .query<{ uuid: boolean }>(`SELECT atttypid = 'uuid'::regtype AS uuid FROM pg_attribute WHERE attrelid = 'sellers'::regclass AND attname = 'id'`)
      .then(([row]) => row?.uuid ?? true);
    uuidIds.set(db, known);
  }
  return known;
}

async function nextId(db: Database, table: 'sellers' | 'buyers'): Promise<string> {
  return (await hasUuidIds(db)) ? NEXT_ID.uuid : NEXT_ID.identity(table);
}

export async function seller(
  db: Database,
  companyId: string | null,
  role: Role = 'member',
  options: { name?: string; createdAt?: string } = {},
): Promise<string> {
  const [row] = await db.query<{ id: string }>(
    `WITH next AS (${await nextId(db, 'sellers')})
     INSERT INTO sellers (id, company_id, name, email, role, created_at)
     SELECT next.id, $1, coalesce($2, $3 || ' ' || left(next.id::text, 6)), next.id || '@sellers.test', $3, coalesce($4::timestamptz, now())
     FROM next RETURNING id`,
    [companyId, options.name ?? null, role, options.createdAt ?? null],
  );
  return row!.id;
}

export async function buyer(db: Database): Promise<string> {
  const [row] = await db.query<{ id: string }>(
    `WITH next AS (${await nextId(db, 'buyers')})
     INSERT INTO buyers (id, name, email) SELECT next.id, 'Buyer ' || left(next.id::text, 6), next.id || '@buyers.test' FROM next RETURNING id`,
  );
  return row!.id;
}

export async function listing(
  db: Database,
  sellerId: string,
  companyId: string | null,
  status: 'draft' | 'active' | 'sold' | 'archived' = 'active',
): Promise<string> {
  const [row] = await db.query<{ id: string }>(
    `INSERT INTO listed_cars (seller_id, company_id, make, model, year, price_cents, status)
     VALUES ($1, $2, 'Volvo', 'V60', 2021, 2500000, $3) RETURNING id`,
    [sellerId, companyId, status],
  );
  return row!.id;
}

export async function conversation(db: Database, listingId: string, buyerId: string, sellerId: string | null = null): Promise<string> {
  const [row] = await db.query<{ id: string }>(
    `INSERT INTO conversations (listing_id, buyer_id, seller_id) VALUES ($1, $2, $3) RETURNING id`,
    [listingId, buyerId, sellerId],
  );
  return row!.id;
}

export async function recipientOf(db: Database, listingId: string) {
  const rows = await db.query<{ recipient_id: string | null; recipient_type: string | null; routing_reason: string; company_id: string | null }>(
    'SELECT * FROM get_listing_message_recipient($1)',
    [listingId],
  );
  return rows[0];
}
