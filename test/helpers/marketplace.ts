/** Builders for marketplace rows, writing plain SQL the way the marketplace's own code would. */
import { randomUUID } from 'node:crypto';
import type { Database } from '../../functions/database/port';

export type Role = 'owner' | 'admin' | 'member';

export async function company(db: Database, name = `Dealer ${randomUUID().slice(0, 8)}`): Promise<string> {
  const [row] = await db.query<{ id: string }>('INSERT INTO companies (name) VALUES ($1) RETURNING id', [name]);
  return row!.id;
}

export async function seller(
  db: Database,
  companyId: string | null,
  role: Role = 'member',
  options: { name?: string; createdAt?: string } = {},
): Promise<string> {
  const id = randomUUID();
  await db.query(
    `INSERT INTO sellers (id, company_id, name, email, role, created_at) VALUES ($1, $2, $3, $4, $5, coalesce($6::timestamptz, now()))`,
    [id, companyId, options.name ?? `${role} ${id.slice(0, 6)}`, `${id}@sellers.test`, role, options.createdAt ?? null],
  );
  return id;
}

export async function buyer(db: Database): Promise<string> {
  const id = randomUUID();
  await db.query('INSERT INTO buyers (id, name, email) VALUES ($1, $2, $3)', [id, `Buyer ${id.slice(0, 6)}`, `${id}@buyers.test`]);
  return id;
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
