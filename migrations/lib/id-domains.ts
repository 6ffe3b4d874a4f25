/**
 * The entity id domains (migrations/sql/ids/ems_id_domains.sql, which makes them): each domain and
 * the base table whose `id` type it records, in that file's order. Read by migration 1 (which drops
 * them last on the way down), the pre-flight and the verification. No imports: the verification
 * Lambda bundles it.
 */
export const ID_DOMAIN_TABLES = [
  { domain: 'ems_company_id', table: 'companies' },
  { domain: 'ems_seller_id', table: 'sellers' },
  { domain: 'ems_buyer_id', table: 'buyers' },
  { domain: 'ems_listing_id', table: 'listed_cars' },
  { domain: 'ems_conversation_id', table: 'conversations' },
] as const;

export const ID_DOMAINS = ID_DOMAIN_TABLES.map((entry) => entry.domain);
