/**
 * Baseline: the marketplace's own tables as they exist before the messaging
 * migrations (ARCHITECTURE.md §3). On a database that already has them (the real
 * case: production) every statement is a no-op.
 *
 * `down` deliberately drops nothing: these tables hold the marketplace's data,
 * so `npx knex migrate:rollback --all` removes only what the four messaging
 * migrations added.
 */
import type { Knex } from 'knex';

export const BASE_TABLES = ['companies', 'sellers', 'buyers', 'listed_cars', 'conversations', 'messages'] as const;

/** Columns the messaging migrations rely on; the runner's pre-flight checks them. */
export const REQUIRED_BASE_COLUMNS: Record<(typeof BASE_TABLES)[number], readonly string[]> = {
  companies: ['id', 'name', 'created_at'],
  sellers: ['id', 'company_id', 'name', 'email', 'role', 'created_at'],
  buyers: ['id', 'name', 'email', 'created_at'],
  listed_cars: ['id', 'seller_id', 'company_id', 'make', 'model', 'year', 'price_cents', 'status', 'created_at', 'updated_at'],
  conversations: ['id', 'listing_id', 'buyer_id', 'seller_id', 'status', 'created_at', 'last_message_at'],
  messages: ['id', 'conversation_id', 'sender_type', 'sender_id', 'recipient_id', 'body', 'created_at'],
};

const STATEMENTS = [
  `CREATE TABLE IF NOT EXISTS companies (
     id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
     name text NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now()
   )`,
  `-- squawk-ignore require-lock-timeout, require-statement-timeout -- runs only on an empty database: where the marketplace tables exist, up() returns before any DDL
   CREATE TABLE IF NOT EXISTS sellers (
     id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
     company_id uuid REFERENCES companies (id),
     name text NOT NULL,
     email text NOT NULL UNIQUE,
     role text NOT NULL DEFAULT 'member' CONSTRAINT sellers_role_check CHECK (role IN ('owner', 'admin', 'member')),
     created_at timestamptz NOT NULL DEFAULT now()
   )`,
  `CREATE INDEX IF NOT EXISTS sellers_company_id_idx ON sellers (company_id)`,
  `CREATE TABLE IF NOT EXISTS buyers (
     id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
     name text NOT NULL,
     email text NOT NULL UNIQUE,
     created_at timestamptz NOT NULL DEFAULT now()
   )`,
  `CREATE TABLE IF NOT EXISTS listed_cars (
     id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
     seller_id uuid NOT NULL REFERENCES sellers (id),
     company_id uuid REFERENCES companies (id),
     make text NOT NULL,
     model text NOT NULL,
     -- squawk-ignore prefer-bigint-over-int -- mirrors the marketplace's existing column; a model year fits in int
     year integer NOT NULL,
     price_cents bigint NOT NULL,
     status text NOT NULL DEFAULT 'draft' CONSTRAINT listed_cars_status_check CHECK (status IN ('draft', 'active', 'sold', 'archived')),
     created_at timestamptz NOT NULL DEFAULT now(),
     updated_at timestamptz NOT NULL DEFAULT now()
   )`,
  `CREATE INDEX IF NOT EXISTS listed_cars_seller_id_idx ON listed_cars (seller_id)`,
  `CREATE INDEX IF NOT EXISTS listed_cars_company_id_idx ON listed_cars (company_id)`,
  `CREATE TABLE IF NOT EXISTS conversations (
     id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
     listing_id uuid NOT NULL REFERENCES listed_cars (id),
     buyer_id uuid NOT NULL REFERENCES buyers (id),
     seller_id uuid REFERENCES sellers (id),
     status text NOT NULL DEFAULT 'open' CONSTRAINT conversations_status_check CHECK (status IN ('open', 'closed')),
     created_at timestamptz NOT NULL DEFAULT now(),
     last_message_at timestamptz
   )`,
  `CREATE INDEX IF NOT EXISTS conversations_listing_id_idx ON conversations (listing_id)`,
  `CREATE INDEX IF NOT EXISTS conversations_buyer_id_idx ON conversations (buyer_id)`,
  `CREATE INDEX IF NOT EXISTS conversations_seller_id_idx ON conversations (seller_id)`,
  `CREATE TABLE IF NOT EXISTS messages (
     id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
     conversation_id uuid NOT NULL REFERENCES conversations (id),
     sender_type text NOT NULL CONSTRAINT messages_sender_type_check CHECK (sender_type IN ('buyer', 'seller')),
     sender_id uuid NOT NULL,
     recipient_id uuid,
     body text NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now()
   )`,
  `CREATE INDEX IF NOT EXISTS messages_conversation_id_idx ON messages (conversation_id, created_at)`,
];

export async function up(knex: Knex): Promise<void> {
  const existing = await knex.raw(
    `SELECT count(*)::int AS n FROM unnest(?::text[]) AS t(name) WHERE to_regclass(t.name) IS NOT NULL`,
    [BASE_TABLES as unknown as string[]],
  );
  // An existing marketplace database: leave its tables exactly as they are.
  if ((existing.rows[0] as { n: number }).n === BASE_TABLES.length) return;
  for (const statement of STATEMENTS) await knex.raw(statement);
}

export async function down(): Promise<void> {
  // Never drops the marketplace's tables: see the comment at the top.
}
