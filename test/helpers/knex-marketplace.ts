/**
 * A marketplace built the way a knex code base builds it: the schema builder's types (`string` is
 * varchar(255), `enu` a text column with a CHECK named <table>_<column>_check, references that are
 * nullable and unindexed), columns and constraints of its own beyond the documented ones, and rows
 * written by the marketplace's own code.
 */
import knexFactory, { type Knex } from 'knex';

export type KnexIds = 'uuid' | 'increments';

export async function createKnexMarketplace(url: string, ids: KnexIds): Promise<void> {
  const knex = knexFactory({ client: 'pg', connection: url });
  try {
    const id = (t: Knex.CreateTableBuilder) => (ids === 'uuid' ? t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()')) : t.increments('id'));
    const ref = (t: Knex.CreateTableBuilder, column: string) => (ids === 'uuid' ? t.uuid(column) : t.integer(column).unsigned());
    await knex.schema.createTable('companies', (t) => {
      id(t);
      t.string('name').notNullable();
      t.string('website');
      t.timestamps(true, true);
    });
    await knex.schema.createTable('sellers', (t) => {
      id(t);
      ref(t, 'company_id').references('companies.id');
      t.string('name').notNullable();
      t.string('email').notNullable().unique();
      t.enu('role', ['owner', 'admin', 'member']).notNullable().defaultTo('member');
      t.string('phone');
      t.timestamps(true, true);
    });
    await knex.schema.createTable('buyers', (t) => {
      id(t);
      t.string('name').notNullable();
      t.string('email').notNullable().unique();
      t.timestamps(true, true);
    });
    await knex.schema.createTable('listed_cars', (t) => {
      id(t);
      ref(t, 'seller_id').references('sellers.id');
      ref(t, 'company_id').references('companies.id');
      t.string('make').notNullable();
      t.string('model').notNullable();
      t.integer('year').notNullable();
      t.bigInteger('price_cents').notNullable();
      t.enu('status', ['draft', 'active', 'sold', 'archived']).notNullable().defaultTo('draft');
      t.integer('mileage_km');
      t.timestamps(true, true);
      t.check('?? > 0', ['price_cents'], 'listed_cars_price_positive');
    });
    await knex.schema.createTable('conversations', (t) => {
      id(t);
      ref(t, 'listing_id').notNullable().references('listed_cars.id');
      ref(t, 'buyer_id').notNullable().references('buyers.id');
      ref(t, 'seller_id').references('sellers.id');
      t.enu('status', ['open', 'closed']).notNullable().defaultTo('open');
      t.timestamp('last_message_at');
      t.timestamps(true, true);
    });
    await knex.schema.createTable('messages', (t) => {
      id(t);
      ref(t, 'conversation_id').notNullable().references('conversations.id');
      t.enu('sender_type', ['buyer', 'seller']).notNullable();
      ref(t, 'sender_id').notNullable();
      ref(t, 'recipient_id');
      t.text('body').notNullable();
      t.boolean('read').notNullable().defaultTo(false);
      t.timestamps(true, true);
    });

    const [company] = await knex('companies').insert({ name: 'Fjord Cars', website: 'https://fjord.example' }).returning('id');
    const people = await knex('sellers')
      .insert([
        { company_id: company.id, name: 'Olivia Owner', email: 'olivia@fjord.example', role: 'owner' },
        { company_id: company.id, name: 'Adam Admin', email: 'adam@fjord.example', role: 'admin' },
        { company_id: company.id, name: 'Mia Member', email: 'mia@fjord.example', role: 'member', phone: '+47 1234' },
        { company_id: null, name: 'Ivan Independent', email: 'ivan@mail.example', role: 'member' },
      ])
      .returning('id');
    const buyers = await knex('buyers')
      .insert([1, 2, 3].map((n) => ({ name: `Buyer ${n}`, email: `buyer${n}@mail.example` })))
      .returning('id');
    const statuses = ['draft', 'active', 'sold', 'archived', 'active'];
    const listings = await knex('listed_cars')
      .insert(
        people.flatMap((seller, s) =>
          statuses.map((status, n) => ({
            seller_id: seller.id,
            company_id: s < 3 ? company.id : null,
            make: 'Volvo',
            model: `V${60 + n}`,
            year: 2015 + n,
            price_cents: 1_000_000 + n,
            status,
            mileage_km: 10_000 * n,
          })),
        ),
      )
      .returning(['id', 'seller_id', 'status']);
    for (const [i, listing] of listings.filter((l) => l.status !== 'draft').entries()) {
      const buyer = buyers[i % buyers.length]!;
      const [conversation] = await knex('conversations')
        .insert({ listing_id: listing.id, buyer_id: buyer.id, seller_id: listing.seller_id, status: listing.status === 'active' ? 'open' : 'closed' })
        .returning('id');
      await knex('messages').insert([
        { conversation_id: conversation.id, sender_type: 'buyer', sender_id: buyer.id, recipient_id: listing.seller_id, body: 'Still for sale?' },
        { conversation_id: conversation.id, sender_type: 'seller', sender_id: listing.seller_id, recipient_id: buyer.id, body: 'Yes.' },
      ]);
    }
  } finally {
    await knex.destroy();
  }
}
