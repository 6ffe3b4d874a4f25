/**
 * A small demo marketplace for `npm start`: fixed ids, inserted only where
 * missing, so re-running changes nothing (and never undoes what you did through the API).
 */
import type { Database } from '../database/port';

const id = (n: number) => `00000000-0000-4000-8000-${n.toString().padStart(12, '0')}`;

export const DEMO = {
  companies: { northside: id(1), harbor: id(2) },
  sellers: {
    olivia: { id: id(101), company: id(1), name: 'Olivia Owner', email: 'olivia@northside.example', role: 'owner' },
    adam: { id: id(102), company: id(1), name: 'Adam Admin', email: 'adam@northside.example', role: 'admin' },
    hannah: { id: id(103), company: id(1), name: 'Hannah Handler', email: 'hannah@northside.example', role: 'member' },
    maria: { id: id(104), company: id(1), name: 'Maria Member', email: 'maria@northside.example', role: 'member' },
    mike: { id: id(105), company: id(1), name: 'Mike Member', email: 'mike@northside.example', role: 'member' },
    henry: { id: id(201), company: id(2), name: 'Henry Harbor', email: 'henry@harbor.example', role: 'owner' },
    holly: { id: id(202), company: id(2), name: 'Holly Harbor', email: 'holly@harbor.example', role: 'member' },
    ian: { id: id(301), company: null, name: 'Ian Independent', email: 'ian@independent.example', role: 'member' },
  },
  buyers: {
    bob: { id: id(401), name: 'Bob Buyer', email: 'bob@buyers.example' },
    beth: { id: id(402), name: 'Beth Buyer', email: 'beth@buyers.example' },
  },
  listings: {
    mariaVolvo: { id: id(501), seller: id(104), company: id(1), make: 'Volvo', model: 'XC60', year: 2021, price: 3_450_000 },
    mariaSaab: { id: id(502), seller: id(104), company: id(1), make: 'Saab', model: '9-3', year: 2011, price: 650_000 },
    mikeAudi: { id: id(503), seller: id(105), company: id(1), make: 'Audi', model: 'A4', year: 2019, price: 2_190_000 },
    hollyMini: { id: id(504), seller: id(202), company: id(2), make: 'Mini', model: 'Cooper', year: 2018, price: 1_290_000 },
    ianFord: { id: id(505), seller: id(301), company: null, make: 'Ford', model: 'Focus', year: 2016, price: 790_000 },
  },
  conversations: {
    bobMariaVolvo: { id: id(601), listing: id(501), buyer: id(401), seller: id(104) },
    bethMikeAudi: { id: id(602), listing: id(503), buyer: id(402), seller: id(105) },
  },
} as const;

export async function loadDemoData(db: Database): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query(`SELECT set_config('ems.actor', 'demo-seed', true)`);
    await tx.query(
      `INSERT INTO companies (id, name) VALUES ($1, 'Northside Motors'), ($2, 'Harbor Cars') ON CONFLICT (id) DO NOTHING`,
      [DEMO.companies.northside, DEMO.companies.harbor],
    );
    for (const s of Object.values(DEMO.sellers)) {
      await tx.query(
        `INSERT INTO sellers (id, company_id, name, email, role) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING`,
        [s.id, s.company, s.name, s.email, s.role],
      );
    }
    for (const b of Object.values(DEMO.buyers)) {
      await tx.query(`INSERT INTO buyers (id, name, email) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`, [b.id, b.name, b.email]);
    }
    await tx.query(
      `INSERT INTO company_message_handlers (company_id, seller_id, priority) VALUES ($1, $2, 10)
       ON CONFLICT (company_id, seller_id) DO NOTHING`,
      [DEMO.companies.northside, DEMO.sellers.hannah.id],
    );
    for (const l of Object.values(DEMO.listings)) {
      await tx.query(
        `INSERT INTO listed_cars (id, seller_id, company_id, make, model, year, price_cents, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'active') ON CONFLICT (id) DO NOTHING`,
        [l.id, l.seller, l.company, l.make, l.model, l.year, l.price],
      );
    }
    for (const c of Object.values(DEMO.conversations)) {
      await tx.query(
        `INSERT INTO conversations (id, listing_id, buyer_id, seller_id, last_message_at) VALUES ($1, $2, $3, $4, now())
         ON CONFLICT (id) DO NOTHING`,
        [c.id, c.listing, c.buyer, c.seller],
      );
    }
  });
}
