/**
 * A small demo marketplace for `npm start`, on whatever ids the marketplace has (uuid, bigint or
 * integer: README, Id types): the database assigns the ids, and each demo row is found again by
 * what names it (a company's name, a person's e-mail, a listing's seller and car, a conversation's
 * listing and buyer). Inserted only where missing, so re-running changes nothing (and never undoes
 * what you did through the API); `loadDemoData` answers the ids either way.
 */
import type { Database } from '../database/port';

export const DEMO = {
  companies: { northside: { name: 'Northside Motors' }, harbor: { name: 'Harbor Cars' } },
  sellers: {
    olivia: { company: 'northside', name: 'Olivia Owner', email: 'olivia@northside.example', role: 'owner' },
    adam: { company: 'northside', name: 'Adam Admin', email: 'adam@northside.example', role: 'admin' },
    hannah: { company: 'northside', name: 'Hannah Handler', email: 'hannah@northside.example', role: 'member' },
    maria: { company: 'northside', name: 'Maria Member', email: 'maria@northside.example', role: 'member' },
    mike: { company: 'northside', name: 'Mike Member', email: 'mike@northside.example', role: 'member' },
    henry: { company: 'harbor', name: 'Henry Harbor', email: 'henry@harbor.example', role: 'owner' },
    holly: { company: 'harbor', name: 'Holly Harbor', email: 'holly@harbor.example', role: 'member' },
    ian: { company: null, name: 'Ian Independent', email: 'ian@independent.example', role: 'member' },
  },
  buyers: {
    bob: { name: 'Bob Buyer', email: 'bob@buyers.example' },
    beth: { name: 'Beth Buyer', email: 'beth@buyers.example' },
  },
  /** Northside's message handler (priority 10). */
  handler: 'hannah',
  listings: {
    mariaVolvo: { seller: 'maria', make: 'Volvo', model: 'XC60', year: 2021, price: 3_450_000 },
    mariaSaab: { seller: 'maria', make: 'Saab', model: '9-3', year: 2011, price: 650_000 },
    mikeAudi: { seller: 'mike', make: 'Audi', model: 'A4', year: 2019, price: 2_190_000 },
    hollyMini: { seller: 'holly', make: 'Mini', model: 'Cooper', year: 2018, price: 1_290_000 },
    ianFord: { seller: 'ian', make: 'Ford', model: 'Focus', year: 2016, price: 790_000 },
  },
  conversations: {
    bobMariaVolvo: { listing: 'mariaVolvo', buyer: 'bob' },
    bethMikeAudi: { listing: 'mikeAudi', buyer: 'beth' },
  },
} as const;

type Demo = typeof DEMO;
type CompanyKey = keyof Demo['companies'];
type SellerKey = keyof Demo['sellers'];
type BuyerKey = keyof Demo['buyers'];
type ListingKey = keyof Demo['listings'];
type ConversationKey = keyof Demo['conversations'];

/**
 * The demo rows with the ids the database gave them, each as text (`id::text`: a UUID or the
 * digits of an integer), the form a path parameter takes.
 */
export interface DemoData {
  readonly companies: Record<CompanyKey, string>;
  readonly sellers: { readonly [K in SellerKey]: Demo['sellers'][K] & { readonly id: string; readonly companyId: string | null } };
  readonly buyers: { readonly [K in BuyerKey]: Demo['buyers'][K] & { readonly id: string } };
  readonly listings: { readonly [K in ListingKey]: Demo['listings'][K] & { readonly id: string; readonly companyId: string | null } };
  readonly conversations: { readonly [K in ConversationKey]: Demo['conversations'][K] & { readonly id: string } };
}

/** The id of the row `find` names, inserting it with `insert` first where it is missing. */
async function findOrInsert(db: Database, find: [string, unknown[]], insert: [string, unknown[]]): Promise<string> {
  const [found] = await db.query<{ id: string }>(find[0], find[1]);
  if (found) return found.id;
  const [inserted] = await db.query<{ id: string }>(insert[0], insert[1]);
  if (!inserted) throw new Error(`demo data: ${insert[0]} inserted no row`);
  return inserted.id;
}

export async function loadDemoData(db: Database): Promise<DemoData> {
  return db.transaction(async (tx) => {
    await tx.query(`SELECT set_config('ems.actor', 'demo-seed', true)`);
    const company = ({ name }: { name: string }) =>
      findOrInsert(
        tx,
        ['SELECT id::text AS id FROM companies WHERE name = $1 ORDER BY id LIMIT 1', [name]],
        ['INSERT INTO companies (name) VALUES ($1) RETURNING id::text AS id', [name]],
      );
    const companies: DemoData['companies'] = { northside: await company(DEMO.companies.northside), harbor: await company(DEMO.companies.harbor) };
    const companyOf = (key: CompanyKey | null) => (key === null ? null : companies[key]);

    const seller = async <K extends SellerKey>(key: K) => {
      const s = DEMO.sellers[key];
      const companyId = companyOf(s.company);
      const id = await findOrInsert(
        tx,
        ['SELECT id::text AS id FROM sellers WHERE email = $1', [s.email]],
        ['INSERT INTO sellers (company_id, name, email, role) VALUES ($1, $2, $3, $4) RETURNING id::text AS id', [companyId, s.name, s.email, s.role]],
      );
      return { ...s, id, companyId };
    };
    const sellers: DemoData['sellers'] = {
      olivia: await seller('olivia'),
      adam: await seller('adam'),
      hannah: await seller('hannah'),
      maria: await seller('maria'),
      mike: await seller('mike'),
      henry: await seller('henry'),
      holly: await seller('holly'),
      ian: await seller('ian'),
    };

    const buyer = async <K extends BuyerKey>(key: K) => {
      const b = DEMO.buyers[key];
      const id = await findOrInsert(
        tx,
        ['SELECT id::text AS id FROM buyers WHERE email = $1', [b.email]],
        ['INSERT INTO buyers (name, email) VALUES ($1, $2) RETURNING id::text AS id', [b.name, b.email]],
      );
      return { ...b, id };
    };
    const buyers: DemoData['buyers'] = { bob: await buyer('bob'), beth: await buyer('beth') };

    await tx.query(
      `INSERT INTO company_message_handlers (company_id, seller_id, priority) VALUES ($1, $2, 10)
       ON CONFLICT (company_id, seller_id) DO NOTHING`,
      [companies.northside, sellers[DEMO.handler].id],
    );

    const listing = async <K extends ListingKey>(key: K) => {
      const l = DEMO.listings[key];
      const lister = sellers[l.seller];
      const id = await findOrInsert(
        tx,
        ['SELECT id::text AS id FROM listed_cars WHERE seller_id = $1 AND make = $2 AND model = $3 AND year = $4 ORDER BY id LIMIT 1', [lister.id, l.make, l.model, l.year]],
        [
          `INSERT INTO listed_cars (seller_id, company_id, make, model, year, price_cents, status)
           VALUES ($1, $2, $3, $4, $5, $6, 'active') RETURNING id::text AS id`,
          [lister.id, lister.companyId, l.make, l.model, l.year, l.price],
        ],
      );
      return { ...l, id, companyId: lister.companyId };
    };
    const listings: DemoData['listings'] = {
      mariaVolvo: await listing('mariaVolvo'),
      mariaSaab: await listing('mariaSaab'),
      mikeAudi: await listing('mikeAudi'),
      hollyMini: await listing('hollyMini'),
      ianFord: await listing('ianFord'),
    };

    const conversation = async <K extends ConversationKey>(key: K) => {
      const c = DEMO.conversations[key];
      const [about, from] = [listings[c.listing], buyers[c.buyer]];
      const id = await findOrInsert(
        tx,
        ['SELECT id::text AS id FROM conversations WHERE listing_id = $1 AND buyer_id = $2 ORDER BY id LIMIT 1', [about.id, from.id]],
        [
          'INSERT INTO conversations (listing_id, buyer_id, seller_id, last_message_at) VALUES ($1, $2, $3, now()) RETURNING id::text AS id',
          [about.id, from.id, sellers[about.seller].id],
        ],
      );
      return { ...c, id };
    };
    const conversations: DemoData['conversations'] = {
      bobMariaVolvo: await conversation('bobMariaVolvo'),
      bethMikeAudi: await conversation('bethMikeAudi'),
    };
    return { companies, sellers, buyers, listings, conversations };
  });
}
