/**
 * Property: random histories of membership, company, role, handler, listing, conversation and
 * messaging changes, through the services and through the marketplace's own plain SQL, keep the
 * company-scoped routing promise of README "How routing works".
 *
 * Each run sets up two companies (owners, admins, members, each with a listing; sometimes a handler,
 * sometimes a member who also lists a car of their own, company_id NULL), sometimes an independent
 * seller, and buyers; then every step runs against a small model of that world (who
 * is a member of which company, with which role and status, who holds which listing and
 * conversation, the handlers) that predicts, independently of the SQL and from the README's
 * decisions, what the step must change and whether it must be refused. The steps:
 *  - members added (to a company or independent), removed / suspended / reactivated (with or
 *    without restore; service or plain SQL), moved to another company or to none and back
 *    (`UPDATE sellers SET company_id`), given another role (`UPDATE sellers SET role`), deleted
 *    (`DELETE FROM sellers`: refused by the foreign keys whenever anything still names the member
 *    after the hand-over, or last_admin);
 *  - handlers added, re-prioritised, deactivated (service), deleted or re-activated (plain SQL);
 *  - listings added (live or draft; for an inactive seller too: corrected or refused), handed over
 *    (service), moved to another company or to none and back (`UPDATE listed_cars SET company_id`),
 *    sold, put live again;
 *  - conversations handed to someone (or nobody), closed or reopened, moved to another listing
 *    (`UPDATE conversations SET seller_id / status / listing_id`);
 *  - buyer messages, through sendBuyerMessage and as a plain INSERT INTO messages.
 * After every step:
 *  - the database equals the model, and the audit and ownership-log rows the step wrote are
 *    exactly the predicted ones; a predicted refusal (last_admin, foreign keys, no_recipient, ...)
 *    happens with that code, and nothing else is refused;
 *  - the tests' company-scoped invariant (COMPANY_SCOPED_INVARIANT_SQL) returns no rows;
 *  - the lookup (get_listing_message_recipient) of every listing names exactly whom the model
 *    names, and the model only names someone the holder rule allows;
 *  - every conversation's ownership log is an unbroken chain ending at its holder, and every
 *    member's audit rows a consistent history;
 *  - every buyer message is stored for exactly the recipient the lookup named right before it
 *    was sent (nothing ran in between), and no stored message changes afterwards.
 * At the end of each run, verifyInstallation (the verification's own invariant) is ok.
 *
 * Everything runs four times: once per adapter of the `Database` port (node-postgres; the RDS Data API
 * through the real SDK client against the local Data API endpoint) on a database with uuid ids, and
 * again on one with integer ids (README: Id types). Per call:
 *  - through the adapter under test (`apiDb`): what the API runs on, i.e. the services
 *    (removeMember, reactivateMember, transferListing, updateMessageHandlers, sendBuyerMessage,
 *    getOwnershipHistory) and verifyInstallation (the verification Lambda's, on the Data API in AWS);
 *  - on node-postgres (`t.db`) under both: the plain SQL that stands for the marketplace's own code
 *    (it never goes through the Data API adapter), the fixtures (m.*), and every observation the
 *    checks make (readWorld, the log and audit rows, the invariant, the lookups, the chains), so the
 *    observer is the same whichever adapter acted.
 *
 * By default 30 runs (node-postgres) and 15 (Data API) of up to 30 steps on each id type;
 * EMS_LONG_TESTS=1: 300 runs of up to 60 steps through each; EMS_PROPERTY_RUNS / EMS_PROPERTY_SEED
 * override both.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reactivateMember, removeMember, transferListing } from '../../functions/domain/company-members';
import { updateMessageHandlers } from '../../functions/domain/company';
import { getOwnershipHistory, sendBuyerMessage } from '../../functions/domain/messaging';
import type { Database } from '../../functions/database/port';
import type { Id } from '../../functions/http/response-schemas';
import { INVARIANT_VIOLATIONS_SQL, verifyInstallation } from '../../functions/verification/verify';
import { ADAPTERS, databaseThrough, type AdapterDatabase } from '../helpers/adapters';
import { createMigratedDatabase, ROUTING_ID_TYPES, type TestDatabase } from '../helpers/database';
import * as m from '../helpers/marketplace';
import { auditChainProblems, invariantViolations, ownershipChainProblems, refusalCode } from '../helpers/routing-checks';

const LONG = process.env.EMS_LONG_TESTS === '1';
const NUM_RUNS = Number(process.env.EMS_PROPERTY_RUNS ?? (LONG ? 300 : 30));
/** Through the Data API every service call is HTTP to the local endpoint and back: fewer runs by default. */
const DATA_API_RUNS = Number(process.env.EMS_PROPERTY_RUNS ?? (LONG ? 300 : 15));
const MAX_STEPS = LONG ? 60 : 30;
const SEED = process.env.EMS_PROPERTY_SEED ? Number(process.env.EMS_PROPERTY_SEED) : undefined;
const ACTOR = 'property@test';

/** The database (set per adapter, below); `t.db` is node-postgres: the marketplace's own SQL, fixtures and every check. */
let t: TestDatabase;
/** The adapter under test: what the services and the verification run on. */
let apiDb: Database;
let sqlActor: string;
/** Set once a run failed: its leftovers may break the global invariant for the shrinking runs after it. */
let anEarlierRunFailed = false;

/* ------------------------------------------------------------------ */
/* Operations                                                          */
/* ------------------------------------------------------------------ */

type Path = 'service' | 'sql';
/** A company of the run by index (modulo their number), none (independent), or where it started. */
type CompanyTarget = number | null | 'home';
type Op =
  | { kind: 'addMember'; company: number | null; role: m.Role; withListing: boolean }
  | { kind: 'addListing'; who: number; draft: boolean }
  | { kind: 'remove'; who: number; path: Path }
  | { kind: 'suspend'; who: number }
  | { kind: 'reactivate'; who: number; restore: boolean; path: Path }
  | { kind: 'move'; who: number; to: CompanyTarget }
  | { kind: 'role'; who: number; role: m.Role }
  | { kind: 'delete'; who: number; listedNothing: boolean }
  | { kind: 'handler'; company: number; who: number; priority: number }
  | { kind: 'dropHandler'; which: number; path: Path }
  | { kind: 'handlerSql'; which: number; priority: number }
  | { kind: 'send'; buyer: number; listing: number }
  | { kind: 'sendSql'; which: number }
  | { kind: 'transfer'; listing: number; to: number }
  | { kind: 'moveListing'; listing: number; to: CompanyTarget }
  | { kind: 'editConversation'; which: number; field: 'seller' | 'status' | 'listing'; to: number; nobody: boolean }
  | { kind: 'close'; which: number }
  | { kind: 'sell'; listing: number }
  | { kind: 'relist'; listing: number };

const index = fc.nat({ max: 63 });
const path = fc.constantFrom<Path>('service', 'sql');
const role = fc.constantFrom<m.Role>('owner', 'admin', 'member');
const companyTarget: fc.Arbitrary<CompanyTarget> = fc.oneof(
  { weight: 2, arbitrary: fc.constant('home' as const) },
  { weight: 3, arbitrary: fc.nat({ max: 1 }) },
  { weight: 2, arbitrary: fc.constant(null) },
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('addMember' as const), company: fc.option(fc.nat({ max: 1 }), { freq: 5 }), role, withListing: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('addListing' as const), who: index, draft: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('remove' as const), who: index, path }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('suspend' as const), who: index }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('reactivate' as const), who: index, restore: fc.boolean(), path }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('move' as const), who: index, to: companyTarget }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('role' as const), who: index, role }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), who: index, listedNothing: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('handler' as const), company: fc.nat({ max: 1 }), who: index, priority: fc.constantFrom(1, 2, 3, 100) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('dropHandler' as const), which: index, path }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('handlerSql' as const), which: index, priority: fc.constantFrom(1, 2, 50) }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('send' as const), buyer: index, listing: index }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('sendSql' as const), which: index }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('transfer' as const), listing: index, to: index }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('moveListing' as const), listing: index, to: companyTarget }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('editConversation' as const),
      which: index,
      field: fc.constantFrom('seller' as const, 'status' as const, 'listing' as const),
      to: index,
      nobody: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('close' as const), which: index }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('sell' as const), listing: index }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('relist' as const), listing: index }) },
);
/** Steps frequent enough that a full default run always has some (the coverage check at the end). */
const FREQUENT_KINDS = ['addMember', 'remove', 'reactivate', 'move', 'role', 'delete', 'handler', 'dropHandler', 'handlerSql',
  'send', 'sendSql', 'transfer', 'moveListing', 'editConversation', 'close'] as const;

const companySetupArb = fc.record({
  owner: fc.integer({ min: 0, max: 5 }).map((n) => n > 0), // mostly with an owner; sometimes nobody can take over
  admins: fc.integer({ min: 0, max: 2 }),
  members: fc.integer({ min: 1, max: 3 }),
  sideListing: fc.boolean(), // its last member also lists a car of their own (independent, company_id NULL)
  handler: fc.boolean(), // its first member handles its messages
});
const setupArb = fc.record({
  companies: fc.tuple(companySetupArb, companySetupArb), // at least two: members and listings move between them
  independents: fc.integer({ min: 0, max: 2 }).map((n) => Math.max(0, n - 1)), // an independent seller, sometimes
  buyers: fc.integer({ min: 2, max: 3 }),
});
type Setup = typeof setupArb extends fc.Arbitrary<infer S> ? S : never;

/* ------------------------------------------------------------------ */
/* The model                                                           */
/* ------------------------------------------------------------------ */

type Status = 'active' | 'removed' | 'suspended';
interface Person { company: string | null; role: m.Role; status: Status; created: number }
interface Listing { company: string | null; seller: string; owner: string | null; type: string; status: string; original: string }
interface Conversation { listing: string; buyer: string; seller: string | null; status: string; created: number }
interface Handler { company: string; seller: string; priority: number; active: boolean; created: number; id: string }
interface World {
  people: Map<string, Person>;
  listings: Map<string, Listing>;
  /** keyed by conversation id */
  conversations: Map<string, Conversation>;
  /** keyed by `${companyId}:${sellerId}` */
  handlers: Map<string, Handler>;
  /** sellers some audit row names (seller_id or moved_to_seller_id): their DELETE is refused by a foreign key */
  audited: Set<string>;
}

async function readWorld(run: Run): Promise<World> {
  const micros = (column: string) => `(extract(epoch FROM ${column}) * 1000000)::bigint`;
  const [people, listings, conversations, handlers, audited] = await Promise.all([
    t.db.query<{ id: string; company_id: string | null; role: m.Role; member_status: Status; created: string }>(
      `SELECT id, company_id, role, member_status, ${micros('created_at')} AS created FROM sellers WHERE id = ANY ($1::ems_seller_id[])`,
      [run.everyone],
    ),
    t.db.query<{ id: string; company_id: string | null; seller_id: string; current_owner_id: string | null; current_owner_type: string; status: string; original_seller_id: string }>(
      `SELECT id, company_id, seller_id, current_owner_id, current_owner_type, status, original_seller_id FROM listed_cars WHERE id = ANY ($1::ems_listing_id[])`,
      [run.listings],
    ),
    t.db.query<{ id: string; listing_id: string; buyer_id: string; seller_id: string | null; status: string; created: string }>(
      `SELECT id, listing_id, buyer_id, seller_id, status, ${micros('created_at')} AS created FROM conversations WHERE listing_id = ANY ($1::ems_listing_id[])`,
      [run.listings],
    ),
    t.db.query<{ id: string; company_id: string; seller_id: string; priority: number; is_active: boolean; created: string }>(
      `SELECT id, company_id, seller_id, priority, is_active, ${micros('created_at')} AS created FROM company_message_handlers WHERE company_id = ANY ($1::ems_company_id[])`,
      [run.companies],
    ),
    t.db.query<{ id: string }>(
      `SELECT seller_id AS id FROM company_member_audit WHERE seller_id = ANY ($1::ems_seller_id[])
       UNION SELECT moved_to_seller_id FROM company_member_audit WHERE moved_to_seller_id = ANY ($1::ems_seller_id[])`,
      [run.everyone],
    ),
  ]);
  const world: World = { people: new Map(), listings: new Map(), conversations: new Map(), handlers: new Map(), audited: new Set(audited.map((a) => a.id)) };
  for (const p of people) world.people.set(p.id, { company: p.company_id, role: p.role, status: p.member_status, created: Number(p.created) });
  for (const l of listings) {
    world.listings.set(l.id, { company: l.company_id, seller: l.seller_id, owner: l.current_owner_id, type: l.current_owner_type, status: l.status, original: l.original_seller_id });
  }
  for (const c of conversations) {
    world.conversations.set(c.id, { listing: c.listing_id, buyer: c.buyer_id, seller: c.seller_id, status: c.status, created: Number(c.created) });
  }
  for (const h of handlers) {
    world.handlers.set(`${h.company_id}:${h.seller_id}`, { company: h.company_id, seller: h.seller_id, priority: h.priority, active: h.is_active, created: Number(h.created), id: h.id });
  }
  return world;
}

/**
 * An id a service returned, as node-postgres reads the same id from the database (what the model
 * keys by): a uuid is a string, an integer id a number; typed string, as every id of this file.
 */
const asRead = (id: Id) => id as string;
/** In the database's order of ids: uuids as text, integer ids as numbers (node-postgres reads them as numbers). */
const compareIds = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const byId = <V>([a]: [string, V], [b]: [string, V]) => compareIds(a, b);
const sorted = <V>(map: Map<string, V>): [string, V][] => [...map.entries()].sort(byId);
const byCreation = (a: { created: number; id: string }, b: { created: number; id: string }) =>
  a.created - b.created || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const isAdminish = (r: m.Role) => r === 'owner' || r === 'admin';

/** The holder rule (README): an active member of the listing's company; for an independent listing, its own seller. */
function canHold(w: World, holder: string | null, listing: { company: string | null; seller: string }): boolean {
  if (holder === null) return false;
  const p = w.people.get(holder);
  if (!p || p.status !== 'active') return false;
  return listing.company === null ? holder === listing.seller : p.company === listing.company;
}

/** The company fallback chain: active handlers (priority, fewest open conversations, oldest), oldest active admin, active owner. */
function fallback(w: World, company: string | null, exclude: string | null): { id: string; type: string } | null {
  if (company === null) return null;
  const member = (id: string) => id !== exclude && w.people.get(id)?.status === 'active' && w.people.get(id)?.company === company;
  const openCount = (sellerId: string) => [...w.conversations.values()].filter((c) => c.seller === sellerId && c.status === 'open').length;
  const [handler] = [...w.handlers.values()]
    .filter((h) => h.company === company && h.active && member(h.seller))
    .sort((a, b) => a.priority - b.priority || openCount(a.seller) - openCount(b.seller) || byCreation(a, b));
  if (handler) return { id: handler.seller, type: 'company_handler' };
  for (const r of ['admin', 'owner'] as const) {
    const [first] = [...w.people.entries()]
      .filter(([id, p]) => p.role === r && member(id))
      .map(([id, p]) => ({ id, created: p.created }))
      .sort(byCreation);
    if (first) return { id: first.id, type: `company_${r}` };
  }
  return null;
}

/** Who a write about the listing is routed to: `preferred` if the rule allows, else its holder if allowed, else the company fallback. */
function recipientFor(w: World, listingId: string, preferred: string | null): string | null {
  const l = w.listings.get(listingId)!;
  if (canHold(w, preferred, l)) return preferred;
  if (canHold(w, l.owner, l)) return l.owner;
  return fallback(w, l.company, null)?.id ?? null;
}

/** What get_listing_message_recipient must answer. */
function lookup(w: World, listingId: string): { recipient_id: string | null; routing_reason: string } {
  const l = w.listings.get(listingId)!;
  if (l.status !== 'active') return { recipient_id: null, routing_reason: 'listing_not_active' };
  if (canHold(w, l.owner, l)) return { recipient_id: l.owner, routing_reason: 'owner_active' };
  const f = fallback(w, l.company, null);
  return f ? { recipient_id: f.id, routing_reason: `owner_inactive_${f.type}` } : { recipient_id: null, routing_reason: 'no_active_recipient' };
}

interface ExpectedAudit {
  company_id: string | null;
  seller_id: string;
  action: string;
  previous_status: string;
  new_status: string;
  listings_moved: number;
  listings_restored: number;
  conversations_moved: number;
  moved_to_seller_id: string | null;
  actor: string;
}

interface ExpectedLog {
  conversation_id: string;
  previous_owner_id: string | null;
  new_owner_id: string | null;
  reason: string;
}

/** What a step must do: the world after it, and the audit and ownership-log rows it writes. */
interface Expectation {
  world: World;
  audit: ExpectedAudit[];
  log: ExpectedLog[];
}

/** A conversation the step opens: its id is known only once it ran. */
const NEW_CONVERSATION = '(new conversation)';

/** Hands a conversation to `to` (logged when its holder changes). */
function moveConversation(x: Expectation, id: string, to: string | null, reason: string): boolean {
  const c = x.world.conversations.get(id)!;
  if (c.seller === to) return false;
  x.log.push({ conversation_id: id, previous_owner_id: c.seller, new_owner_id: to, reason });
  x.world.conversations.set(id, { ...c, seller: to });
  return true;
}

/**
 * One listing whose holder may no longer hold it, to whoever may (company fallback; independent: its
 * seller), else parked; its open conversations held by someone who may not hold them follow.
 */
function reassignListing(x: Expectation, listingId: string, reason: string): void {
  const w = x.world;
  const l = w.listings.get(listingId)!;
  let target: { id: string; type: string } | null;
  if (l.company === null) target = canHold(w, l.seller, l) ? { id: l.seller, type: 'seller' } : null;
  else target = fallback(w, l.company, null);
  const to = target?.id ?? null;
  if (l.owner !== to || (to === null && l.status === 'active')) {
    w.listings.set(listingId, { ...l, owner: to, type: target?.type ?? 'unassigned', status: to === null && l.status === 'active' ? 'pending_reassignment' : l.status });
  }
  for (const [id, c] of sorted(w.conversations)) {
    if (c.listing === listingId && c.status === 'open' && c.seller !== to && !canHold(w, c.seller, l)) moveConversation(x, id, to, reason);
  }
}

/**
 * What `sellerId` holds of `company` goes to the company fallback (excluding them), or is parked.
 * Scope 'member' (they may hold nothing any more): all their active listings and open conversations
 * of the company, then anything else they still hold, each to whoever may hold it. 'company' (they
 * left while active): what they hold of the company. 'handler': the listings they hold as handler.
 */
function moveHoldings(x: Expectation, sellerId: string, company: string | null, reason: string, scope: 'member' | 'company' | 'handler') {
  const w = x.world;
  const logged = x.log.length;
  const target = fallback(w, company, sellerId);
  const moved: string[] = [];
  for (const [id, l] of sorted(w.listings)) {
    if (company !== null && l.owner === sellerId && l.status === 'active' && l.company === company && (scope !== 'handler' || l.type === 'company_handler')) {
      w.listings.set(id, { ...l, owner: target?.id ?? null, type: target?.type ?? 'unassigned', status: target ? l.status : 'pending_reassignment' });
      moved.push(id);
    }
  }
  for (const [id, c] of sorted(w.conversations)) {
    const ofCompany = company !== null && w.listings.get(c.listing)!.company === company;
    if (c.seller === sellerId && c.status === 'open' && (moved.includes(c.listing) || (scope !== 'handler' && ofCompany))) {
      moveConversation(x, id, target?.id ?? null, reason);
    }
  }
  let leftovers = 0;
  if (scope === 'member') {
    // Whatever company it belongs to (or none): a member who may hold nothing keeps no active listing.
    for (const [id, l] of sorted(w.listings)) {
      if (l.owner === sellerId && l.status === 'active') {
        reassignListing(x, id, reason);
        leftovers += 1;
      }
    }
    const held = sorted(w.conversations).filter(([, c]) => c.seller === sellerId && c.status === 'open').map(([id]) => id);
    for (const id of held) moveConversation(x, id, recipientFor(w, w.conversations.get(id)!.listing, null), reason);
  }
  // What moved: every conversation this hand-over moved off them (one log row each).
  const conversations = x.log.slice(logged).filter((e) => e.previous_owner_id === sellerId).length;
  return { listings: moved.length + leftovers, conversations, movedTo: target?.id ?? null };
}

/** A reactivated member gets back what they listed in their current company and a fallback still holds, with its conversations. */
function restoreHoldings(x: Expectation, sellerId: string) {
  const w = x.world;
  const company = w.people.get(sellerId)!.company;
  let listings = 0;
  let conversations = 0;
  for (const [id, l] of sorted(w.listings)) {
    if (l.original === sellerId && l.seller === sellerId && l.type !== 'seller' && (l.status === 'active' || l.status === 'pending_reassignment') && l.company === company) {
      const heldBy = l.owner;
      w.listings.set(id, { ...l, owner: sellerId, type: 'seller', status: 'active' });
      listings += 1;
      for (const [cid, c] of sorted(w.conversations)) {
        if (c.listing === id && c.status === 'open' && c.seller === heldBy && moveConversation(x, cid, sellerId, 'member_reactivated')) conversations += 1;
      }
    }
  }
  return { listings, conversations };
}


const otherActiveAdmin = (w: World, company: string, sellerId: string) =>
  [...w.people.entries()].some(([id, p]) => id !== sellerId && p.company === company && p.status === 'active' && isAdminish(p.role));

/**
 * A change of a member's status, company or role, by any path (the triggers on sellers): the last
 * active owner or admin of a company may not stop being one; leaving (status) hands everything
 * over, leaving the company while active hands over what they hold of it, a reactivation may
 * restore; one audit row per status change or company move while active. Returns a refusal.
 */
function updateMember(x: Expectation, sellerId: string, change: Partial<Pick<Person, 'status' | 'company' | 'role'>>, options: { restore?: boolean; actor: string }) {
  const w = x.world;
  const old = w.people.get(sellerId)!;
  const next: Person = { ...old, ...change };
  if (old.status === next.status && old.company === next.company && old.role === next.role) return undefined;
  const staysAdmin = next.status === 'active' && next.company === old.company && isAdminish(next.role);
  if (old.status === 'active' && old.company !== null && isAdminish(old.role) && !staysAdmin && !otherActiveAdmin(w, old.company, sellerId)) return 'last_admin';
  w.people.set(sellerId, next);
  if (old.status === next.status && old.company === next.company) return undefined; // a role change moves nothing
  const audit = (company: string | null, action: string, counts: Partial<ExpectedAudit> = {}) =>
    x.audit.push({
      company_id: company,
      seller_id: sellerId,
      action,
      previous_status: old.status,
      new_status: next.status,
      listings_moved: 0,
      listings_restored: 0,
      conversations_moved: 0,
      moved_to_seller_id: null,
      actor: options.actor,
      ...counts,
    });
  const removal = next.status === 'suspended' ? 'suspended' : 'removed';
  if (old.status === 'active' && next.status !== 'active') {
    const moved = moveHoldings(x, sellerId, old.company, 'member_removed', 'member');
    audit(old.company, removal, { listings_moved: moved.listings, conversations_moved: moved.conversations, moved_to_seller_id: moved.movedTo });
  } else if (old.status === 'active' && next.status === 'active') {
    if (old.company !== null) {
      const moved = moveHoldings(x, sellerId, old.company, 'member_left_company', 'company');
      audit(old.company, 'left_company', { listings_moved: moved.listings, conversations_moved: moved.conversations, moved_to_seller_id: moved.movedTo });
    }
  } else if (next.status === 'active') {
    const restored = options.restore ? restoreHoldings(x, sellerId) : { listings: 0, conversations: 0 };
    audit(next.company, 'reactivated', { listings_restored: restored.listings, conversations_moved: restored.conversations });
  } else if (next.status !== old.status) {
    audit(old.company, removal);
  }
  return undefined;
}

/** A plain write that leaves the listing active: its holder must be allowed, else corrected (fallback; independent: its seller), else refused. */
function validateListing(x: Expectation, listingId: string): string | undefined {
  const w = x.world;
  const l = w.listings.get(listingId)!;
  if (l.status !== 'active' || canHold(w, l.owner, l)) return undefined;
  const target = l.company === null ? (canHold(w, l.seller, l) ? { id: l.seller, type: 'seller' } : null) : fallback(w, l.company, null);
  if (!target) return 'no_recipient';
  w.listings.set(listingId, { ...l, owner: target.id, type: target.type });
  return undefined;
}

/** After a plain write changed a listing's company or status: its open conversations held by someone the rule no longer allows follow. */
function rerouteConversations(x: Expectation, listingId: string) {
  const w = x.world;
  const l = w.listings.get(listingId)!;
  const stray = sorted(w.conversations).filter(([, c]) => c.listing === listingId && c.status === 'open' && c.seller !== null && !canHold(w, c.seller, l));
  if (stray.length === 0) return;
  const target = recipientFor(w, listingId, null);
  for (const [id] of stray) moveConversation(x, id, target, 'owner_inactive');
}

function comparable(w: World) {
  const obj = <V, U>(map: Map<string, V>, f: (v: V) => U) => Object.fromEntries(sorted(map).map(([k, v]) => [k, f(v)]));
  return {
    people: obj(w.people, (p) => ({ company: p.company, role: p.role, status: p.status })),
    listings: obj(w.listings, (l) => l),
    conversations: obj(w.conversations, (c) => ({ listing: c.listing, buyer: c.buyer, seller: c.seller, status: c.status })),
    handlers: obj(w.handlers, (h) => ({ priority: h.priority, active: h.active })),
    audited: [...w.audited].sort(compareIds),
  };
}

/** The code of an expected refusal: the services' typed errors, the triggers' `ems:<code>` refusals, and foreign keys. */
function refusalOf(error: unknown): string | undefined {
  const code = refusalCode(error);
  if (code) return code;
  const e = error as { code?: string; detail?: string };
  if (e?.detail?.startsWith('ems:')) return e.detail.slice(4);
  return e?.code === '23503' ? 'foreign_key' : undefined;
}

/* ------------------------------------------------------------------ */
/* One run                                                             */
/* ------------------------------------------------------------------ */

interface Run {
  companies: string[];
  /** current sellers in creation order (stable indices; a deleted one leaves) */
  people: string[];
  /** every seller the run created, deleted ones included */
  everyone: string[];
  /** the company each seller / listing started in ('home') */
  home: Map<string, string | null>;
  listings: string[];
  buyers: string[];
  /** messages this run stored: id → recipient */
  messages: Map<string, string>;
  trace: string[];
}

async function createRun(setup: Setup): Promise<Run> {
  const run: Run = { companies: [], people: [], everyone: [], home: new Map(), listings: [], buyers: [], messages: new Map(), trace: [] };
  const addListing = async (sellerId: string, companyId: string | null) => {
    const listingId = await m.listing(t.db, sellerId, companyId);
    run.listings.push(listingId);
    run.home.set(listingId, companyId);
  };
  const addSeller = async (companyId: string | null, r: m.Role, createdAt?: string) => {
    const id = await m.seller(t.db, companyId, r, { createdAt });
    run.people.push(id);
    run.everyone.push(id);
    run.home.set(id, companyId);
    await addListing(id, companyId);
    return id;
  };
  for (const c of setup.companies) {
    const companyId = await m.company(t.db);
    run.companies.push(companyId);
    if (c.owner) await addSeller(companyId, 'owner', '2020-01-01');
    for (let i = 0; i < c.admins; i += 1) await addSeller(companyId, 'admin', `2020-02-0${i + 1}`);
    const members: string[] = [];
    for (let i = 0; i < c.members; i += 1) members.push(await addSeller(companyId, 'member'));
    if (c.sideListing) await addListing(members.at(-1)!, null);
    if (c.handler) await updateMessageHandlers(apiDb, { companyId, actor: ACTOR, changes: [{ sellerId: members[0]!, priority: 10 }] });
  }
  for (let i = 0; i < setup.independents; i += 1) await addSeller(null, 'member');
  for (let i = 0; i < setup.buyers; i += 1) run.buyers.push(await m.buyer(t.db));
  return run;
}

const pick = <T>(items: readonly T[], i: number): T => items[i % items.length]!;

async function maxIds() {
  const [row] = await t.db.query<{ log: number; audit: number }>(
    `SELECT coalesce((SELECT max(id) FROM conversation_ownership_log), 0) AS log, coalesce((SELECT max(id) FROM company_member_audit), 0) AS audit`,
  );
  return row!;
}

/**
 * Runs one operation, checks it against the model, returns a line for the trace. A service call goes
 * through the adapter under test (`apiDb`); plain SQL is the marketplace's own code, which runs on
 * node-postgres (`t.db`) whichever adapter the API uses, and so do the fixtures and all the checks.
 */
async function step(run: Run, op: Op): Promise<string> {
  const before = await readWorld(run);
  const x: Expectation = { world: structuredClone(before), audit: [], log: [] };
  const w = x.world;
  const ids = await maxIds();
  const companyName = (id: string | null | undefined) => (id === null || id === undefined ? 'none' : `C${run.companies.indexOf(id)}`);
  const label = (id: string | null) => {
    if (id === null) return 'nobody';
    const p = before.people.get(id);
    return p ? `${p.role}#${run.everyone.indexOf(id)}@${companyName(p.company)}(${p.status})` : `#${run.everyone.indexOf(id)}`;
  };
  const listingLabel = (id: string) => {
    const l = before.listings.get(id);
    return `listing#${run.listings.indexOf(id)}@${companyName(l?.company)}(${l?.status}, held by ${label(l?.owner ?? null)})`;
  };
  const conversationLabel = (id: string) => {
    const c = before.conversations.get(id)!;
    return `conversation of buyer#${run.buyers.indexOf(c.buyer)} on listing#${run.listings.indexOf(c.listing)} (${c.status}, held by ${label(c.seller)})`;
  };
  const companyOf = (target: CompanyTarget, home: string | null): string | null =>
    target === 'home' ? home : target === null ? null : pick(run.companies, target);
  const person = (i: number) => pick(run.people, i);
  const conversationsById = sorted(before.conversations).map(([id]) => id);
  let refusal: string | undefined; // predicted refusal
  let action: () => Promise<unknown>;
  let checkResult: (result: unknown) => void | Promise<void> = () => undefined;
  let line: string;

  if (run.people.length === 0) return 'nobody left, skipped';

  switch (op.kind) {
    case 'addMember': {
      const companyId = op.company === null ? null : pick(run.companies, op.company);
      line = `add ${op.role} @${companyName(companyId)}${op.withListing ? ' with a listing' : ''}`;
      action = async () => {
        const id = await m.seller(t.db, companyId, op.role);
        run.people.push(id);
        run.everyone.push(id);
        run.home.set(id, companyId);
        const [row] = await t.db.query<{ created: string }>(`SELECT (extract(epoch FROM created_at) * 1000000)::bigint AS created FROM sellers WHERE id = $1`, [id]);
        w.people.set(id, { company: companyId, role: op.role, status: 'active', created: Number(row!.created) });
        if (op.withListing) {
          const listingId = await m.listing(t.db, id, companyId);
          run.listings.push(listingId);
          run.home.set(listingId, companyId);
          w.listings.set(listingId, { company: companyId, seller: id, owner: id, type: 'seller', status: 'active', original: id });
        }
      };
      break;
    }
    case 'addListing': {
      // A new listing of any seller, as the marketplace writes it: of an inactive one it is corrected or refused.
      const sellerId = person(op.who);
      const p = before.people.get(sellerId)!;
      const status = op.draft ? 'draft' : 'active';
      line = `add ${status} listing for ${label(sellerId)}`;
      const provisional = '(new listing)';
      w.listings.set(provisional, { company: p.company, seller: sellerId, owner: sellerId, type: 'seller', status, original: sellerId });
      refusal = validateListing(x, provisional);
      action = async () => {
        const listingId = await m.listing(t.db, sellerId, p.company, status);
        run.listings.push(listingId);
        run.home.set(listingId, p.company);
        w.listings.set(listingId, w.listings.get(provisional)!);
        w.listings.delete(provisional);
      };
      break;
    }
    case 'remove':
    case 'suspend': {
      const id = person(op.who);
      const p = before.people.get(id)!;
      const next: Status = op.kind === 'remove' ? 'removed' : 'suspended';
      const via: Path = op.kind === 'remove' ? op.path : 'sql';
      const companyId = p.company ?? run.companies[0]!;
      line = `${op.kind} ${label(id)} via ${via}`;
      if (via === 'service' && p.company === null) refusal = 'not_found'; // the service names a company
      else if (via === 'service' && p.status === 'removed') refusal = 'already_removed';
      else refusal = updateMember(x, id, { status: next }, { actor: via === 'service' ? ACTOR : sqlActor });
      if (via === 'service' && !refusal) {
        const audit = x.audit[0]!;
        checkResult = (result) =>
          expect(result).toEqual({
            sellerId: id,
            companyId,
            status: 'removed',
            listingsMoved: audit.listings_moved,
            conversationsMoved: audit.conversations_moved,
            movedTo: audit.moved_to_seller_id ? { id: audit.moved_to_seller_id, name: expect.any(String) } : null,
          });
      }
      action =
        via === 'service'
          ? () => removeMember(apiDb, { companyId, sellerId: id, actor: ACTOR, reason: 'property' })
          : () => t.db.query(`UPDATE sellers SET member_status = $2 WHERE id = $1`, [id, next]);
      break;
    }
    case 'reactivate': {
      const id = person(op.who);
      const p = before.people.get(id)!;
      const companyId = p.company ?? run.companies[0]!;
      line = `reactivate ${label(id)} via ${op.path}${op.restore ? ' with restore' : ''}`;
      if (op.path === 'service' && p.company === null) refusal = 'not_found';
      else if (op.path === 'service' && p.status === 'active') refusal = 'already_active';
      else refusal = updateMember(x, id, { status: 'active' }, { restore: op.restore, actor: op.path === 'service' ? ACTOR : sqlActor });
      if (op.path === 'service' && !refusal) {
        const audit = x.audit[0]!;
        checkResult = (result) =>
          expect(result).toEqual({
            sellerId: id,
            companyId,
            status: 'active',
            listingsRestored: audit.listings_restored,
            conversationsRestored: audit.conversations_moved,
          });
      }
      action =
        op.path === 'service'
          ? () => reactivateMember(apiDb, { companyId, sellerId: id, actor: ACTOR, restoreListings: op.restore })
          : () =>
              t.db.transaction(async (tx) => {
                // The marketplace's own code: a plain UPDATE, asking for the restore by a setting.
                if (op.restore) await tx.query(`SET LOCAL ems.restore_listings = 'on'`);
                await tx.query(`UPDATE sellers SET member_status = 'active' WHERE id = $1`, [id]);
              });
      break;
    }
    case 'move': {
      const id = person(op.who);
      const to = companyOf(op.to, run.home.get(id) ?? null);
      line = `move ${label(id)} to ${op.to === 'home' ? 'home ' : ''}${companyName(to)}`;
      refusal = updateMember(x, id, { company: to }, { actor: sqlActor });
      action = () => t.db.query('UPDATE sellers SET company_id = $2 WHERE id = $1', [id, to]);
      break;
    }
    case 'role': {
      const id = person(op.who);
      line = `make ${label(id)} ${op.role}`;
      refusal = updateMember(x, id, { role: op.role }, { actor: sqlActor });
      action = () => t.db.query('UPDATE sellers SET role = $2 WHERE id = $1', [id, op.role]);
      break;
    }
    case 'delete': {
      // Half of the time someone who never listed anything (a listing names its seller: that alone refuses the delete).
      const listedNothing = run.people.filter((p) => ![...before.listings.values()].some((l) => l.seller === p || l.original === p));
      const id = op.listedNothing && listedNothing.length > 0 ? pick(listedNothing, op.who) : person(op.who);
      const p = before.people.get(id)!;
      line = `delete ${label(id)}`;
      // The last active owner or admin stays; an active member hands over first, like a removal (no audit row).
      if (p.status === 'active' && p.company !== null && isAdminish(p.role) && !otherActiveAdmin(w, p.company, id)) refusal = 'last_admin';
      else {
        if (p.status === 'active') moveHoldings(x, id, p.company, 'member_removed', 'member');
        // Their handler rows go; an active one hands down what it holds as handler.
        for (const [key, h] of sorted(w.handlers)) {
          if (h.seller !== id) continue;
          w.handlers.delete(key);
          if (h.active) moveHoldings(x, id, h.company, 'handler_changed', 'handler');
        }
        // Then the foreign keys decide: anything still naming them refuses the delete.
        const named =
          w.audited.has(id) ||
          [...w.listings.values()].some((l) => l.seller === id || l.original === id || l.owner === id) ||
          [...w.conversations.values()].some((c) => c.seller === id);
        if (named) refusal = 'foreign_key';
        else w.people.delete(id);
      }
      action = async () => {
        await t.db.query('DELETE FROM sellers WHERE id = $1', [id]);
        run.people.splice(run.people.indexOf(id), 1);
      };
      break;
    }
    case 'handler': {
      const companyId = pick(run.companies, op.company);
      const id = person(op.who);
      const p = before.people.get(id)!;
      line = `handler ${label(id)} for C${run.companies.indexOf(companyId)} priority ${op.priority} via service`;
      if (p.status !== 'active' || p.company !== companyId) refusal = 'invalid_handler';
      else {
        const key = `${companyId}:${id}`;
        const existing = w.handlers.get(key);
        w.handlers.set(key, { company: companyId, seller: id, created: 0, id: '', ...existing, priority: op.priority, active: true });
      }
      action = () => updateMessageHandlers(apiDb, { companyId, actor: ACTOR, changes: [{ sellerId: id, priority: op.priority }] });
      break;
    }
    case 'dropHandler': {
      const rows = [...before.handlers.entries()].sort(([, a], [, b]) => byCreation(a, b));
      if (rows.length === 0) return 'drop handler: no handlers, skipped';
      const [key, h] = pick(rows, op.which);
      line = `${op.path === 'service' ? 'deactivate' : 'delete'} handler ${label(h.seller)} of C${run.companies.indexOf(h.company)} via ${op.path}${h.active ? '' : ' (inactive)'}`;
      if (op.path === 'service') w.handlers.set(key, { ...h, active: false });
      else w.handlers.delete(key);
      if (h.active) moveHoldings(x, h.seller, h.company, 'handler_changed', 'handler');
      action =
        op.path === 'service'
          ? () => updateMessageHandlers(apiDb, { companyId: h.company, actor: ACTOR, changes: [{ sellerId: h.seller, active: false }] })
          : () => t.db.query('DELETE FROM company_message_handlers WHERE company_id = $1 AND seller_id = $2', [h.company, h.seller]);
      break;
    }
    case 'handlerSql': {
      const rows = [...before.handlers.entries()].sort(([, a], [, b]) => byCreation(a, b));
      if (rows.length === 0) return 'handler by SQL: no handlers, skipped';
      const [key, h] = pick(rows, op.which);
      line = `handler ${label(h.seller)} of C${run.companies.indexOf(h.company)} active, priority ${op.priority} via sql`;
      const p = before.people.get(h.seller);
      if (p?.status !== 'active' || p.company !== h.company) refusal = 'invalid_handler';
      else w.handlers.set(key, { ...h, priority: op.priority, active: true });
      action = () =>
        t.db.query('UPDATE company_message_handlers SET priority = $3, is_active = true WHERE company_id = $1 AND seller_id = $2', [h.company, h.seller, op.priority]);
      break;
    }
    case 'send': {
      const buyerId = pick(run.buyers, op.buyer);
      const listingId = pick(run.listings, op.listing);
      const listing = before.listings.get(listingId)!;
      // sendBuyerMessage writes into the buyer's conversation about the listing (an open one first, then the newest).
      const [existingId] = [...before.conversations.entries()]
        .filter(([, c]) => c.listing === listingId && c.buyer === buyerId)
        .sort(([ia, a], [ib, b]) => Number(b.status === 'open') - Number(a.status === 'open') || b.created - a.created || (ia < ib ? -1 : 1))
        .map(([id]) => id);
      const existing = existingId ? before.conversations.get(existingId) : undefined;
      const expected = lookup(before, listingId);
      const target = expected.recipient_id;
      line = `send buyer#${run.buyers.indexOf(buyerId)} → ${listingLabel(listingId)}${existing ? ` into its ${existing.status} conversation held by ${label(existing.seller)}` : ''}`;
      if (listing.status !== 'active') refusal = 'listing_not_active';
      else if (target === null) refusal = 'no_recipient';
      else {
        line += ` expecting ${label(target)}`;
        let conversationId = existingId;
        if (!existingId) {
          conversationId = NEW_CONVERSATION;
          w.conversations.set(NEW_CONVERSATION, { listing: listingId, buyer: buyerId, seller: target, status: 'open', created: 0 });
          x.log.push({ conversation_id: NEW_CONVERSATION, previous_owner_id: null, new_owner_id: target, reason: 'conversation_started' });
        } else {
          moveConversation(x, existingId, target, canHold(before, existing!.seller, listing) ? 'routed_to_recipient' : 'owner_inactive');
          w.conversations.set(existingId, { ...w.conversations.get(existingId)!, status: 'open' });
        }
        checkResult = async (result) => {
          const message = result as Awaited<ReturnType<typeof sendBuyerMessage>>;
          expect(message).toMatchObject({
            listingId,
            recipient: { id: target },
            conversationOpened: !existing,
            conversationReopened: existing?.status === 'closed',
          });
          if (existingId) expect(message.conversationId).toBe(existingId);
          else renameNewConversation(x, asRead(message.conversationId));
          run.messages.set(asRead(message.messageId), asRead(message.recipient.id));
          // Through the service too: the history of this conversation ends at the recipient.
          const history = await getOwnershipHistory(apiDb, conversationId === NEW_CONVERSATION ? message.conversationId : conversationId!);
          expect(history.at(-1)?.newOwnerId).toBe(target);
        };
      }
      // Lookup = delivery: what the lookup names right before the send (nothing runs in between) is the model's recipient.
      expect(await m.recipientOf(t.db, listingId), `lookup before: ${line}`).toMatchObject(expected);
      action = () => sendBuyerMessage(apiDb, { buyerId, listingId, body: `message ${run.messages.size + 1}` });
      break;
    }
    case 'sendSql': {
      if (conversationsById.length === 0) return 'send by SQL: no conversation, skipped';
      const id = pick(conversationsById, op.which);
      const c = before.conversations.get(id)!;
      const listing = before.listings.get(c.listing)!;
      const expected = lookup(before, c.listing);
      const target = expected.recipient_id;
      line = `plain INSERT INTO messages of ${conversationLabel(id)}, ${listingLabel(c.listing)}`;
      if (target === null) refusal = 'no_recipient'; // a listing that is not active, or nobody left
      else {
        line += ` expecting ${label(target)}`;
        moveConversation(x, id, target, canHold(before, c.seller, listing) ? 'routed_to_recipient' : 'owner_inactive');
        w.conversations.set(id, { ...w.conversations.get(id)!, status: 'open' });
        checkResult = (result) => {
          const [row] = result as { id: string; recipient_id: string }[];
          expect(row?.recipient_id).toBe(target);
          run.messages.set(row!.id, row!.recipient_id);
        };
      }
      expect(await m.recipientOf(t.db, c.listing), `lookup before: ${line}`).toMatchObject(expected);
      action = () =>
        t.db.query(`INSERT INTO messages (conversation_id, sender_type, sender_id, body) VALUES ($1, 'buyer', $2, $3) RETURNING id, recipient_id`, [
          id,
          c.buyer,
          `plain message ${run.messages.size + 1}`,
        ]);
      break;
    }
    case 'transfer': {
      const listingId = pick(run.listings, op.listing);
      const l = before.listings.get(listingId)!;
      const to = person(op.to);
      const p = before.people.get(to)!;
      const companyId = l.company ?? run.companies[0]!;
      line = `transfer ${listingLabel(listingId)} → ${label(to)} via service`;
      if (p.status !== 'active' || p.company !== companyId) refusal = 'inactive_recipient';
      else if (l.company !== companyId) refusal = 'not_found';
      else {
        w.listings.set(listingId, { ...l, owner: to, type: 'seller', status: l.status === 'pending_reassignment' ? 'active' : l.status });
        if (l.status === 'pending_reassignment') rerouteConversations(x, listingId);
        let moved = 0;
        for (const [id, c] of sorted(w.conversations)) {
          if (c.listing === listingId && c.status === 'open' && moveConversation(x, id, to, 'manual_transfer')) moved += 1;
        }
        checkResult = (result) => expect(result).toEqual({ listingId, newOwnerId: to, conversationsMoved: moved });
      }
      action = () => transferListing(apiDb, { companyId, listingId, toSellerId: to, actor: ACTOR });
      break;
    }
    case 'moveListing': {
      const listingId = pick(run.listings, op.listing);
      const l = before.listings.get(listingId)!;
      const to = companyOf(op.to, run.home.get(listingId) ?? null);
      line = `move ${listingLabel(listingId)} to ${op.to === 'home' ? 'home ' : ''}${companyName(to)}`;
      w.listings.set(listingId, { ...l, company: to });
      refusal = validateListing(x, listingId);
      if (!refusal && l.company !== to) rerouteConversations(x, listingId);
      action = () => t.db.query('UPDATE listed_cars SET company_id = $2, updated_at = now() WHERE id = $1', [listingId, to]);
      break;
    }
    case 'editConversation': {
      if (conversationsById.length === 0) return 'edit conversation: none, skipped';
      const id = pick(conversationsById, op.which);
      const c = before.conversations.get(id)!;
      let edited: Conversation;
      let sql: string;
      let value: string | null;
      if (op.field === 'seller') {
        value = op.nobody ? null : person(op.to);
        edited = { ...c, seller: value };
        sql = 'UPDATE conversations SET seller_id = $2 WHERE id = $1';
        line = `hand ${conversationLabel(id)} to ${label(value)}`;
      } else if (op.field === 'status') {
        value = c.status === 'open' ? 'closed' : 'open';
        edited = { ...c, status: value };
        sql = 'UPDATE conversations SET status = $2 WHERE id = $1';
        line = `${value === 'open' ? 'reopen' : 'close'} ${conversationLabel(id)}`;
      } else {
        value = pick(run.listings, op.to);
        edited = { ...c, listing: value };
        sql = 'UPDATE conversations SET listing_id = $2 WHERE id = $1';
        line = `move ${conversationLabel(id)} to ${listingLabel(value)}`;
      }
      // Open after the edit: held by whom the edit names if the rule allows, else corrected to the listing's recipient.
      let reason = 'manual_transfer';
      if (edited.status === 'open') {
        // (a BEFORE UPDATE trigger: it sees the conversation as it was, e.g. in the fallback's open-conversation counts)
        const routed = recipientFor(w, edited.listing, edited.seller);
        if (routed !== edited.seller) {
          edited = { ...edited, seller: routed };
          reason = 'owner_inactive';
        }
      }
      w.conversations.set(id, { ...edited, seller: c.seller });
      moveConversation(x, id, edited.seller, reason);
      action = () => t.db.query(sql, [id, value]);
      break;
    }
    case 'close': {
      const open = conversationsById.filter((id) => before.conversations.get(id)!.status === 'open');
      if (open.length === 0) return 'close: no open conversation, skipped';
      const id = pick(open, op.which);
      line = `close ${conversationLabel(id)}`;
      w.conversations.set(id, { ...before.conversations.get(id)!, status: 'closed' });
      action = () => t.db.query(`UPDATE conversations SET status = 'closed' WHERE id = $1`, [id]);
      break;
    }
    case 'sell':
    case 'relist': {
      const listingId = pick(run.listings, op.listing);
      const l = before.listings.get(listingId)!;
      const status = op.kind === 'sell' ? 'sold' : 'active';
      line = `${op.kind} ${listingLabel(listingId)}`;
      w.listings.set(listingId, { ...l, status });
      refusal = validateListing(x, listingId);
      if (!refusal && l.status !== status) rerouteConversations(x, listingId);
      action = () => t.db.query(`UPDATE listed_cars SET status = $2, updated_at = now() WHERE id = $1`, [listingId, status]);
      break;
    }
  }

  // Run it: a predicted refusal must happen, with that code; anything else must succeed.
  let outcome: string;
  try {
    const result = await action();
    if (refusal) throw new Error(`expected refusal ${refusal}, but it succeeded`);
    await checkResult(result);
    outcome = 'ok';
  } catch (error) {
    const code = refusalOf(error);
    if (!refusal || code !== refusal) {
      throw new Error(`${line}: ${refusal ? `expected refusal ${refusal}, got` : 'unexpected error'}: ${(error as Error).message}`, { cause: error });
    }
    outcome = `refused ${code}`;
  }
  line = `${line} → ${outcome}`;
  if (refusal) Object.assign(x, { world: structuredClone(before), audit: [], log: [] }); // a refusal changes nothing
  for (const a of x.audit) {
    x.world.audited.add(a.seller_id);
    if (a.moved_to_seller_id) x.world.audited.add(a.moved_to_seller_id);
  }

  // The database equals the model.
  const after = await readWorld(run);
  expect(comparable(after), `state after: ${line}`).toEqual(comparable(x.world));

  // The ownership-log rows this step wrote: exactly the predicted moves (per conversation, in order).
  const logRows = await t.db.query<ExpectedLog>(
    `SELECT conversation_id, previous_owner_id, new_owner_id, reason FROM conversation_ownership_log WHERE id > $1 ORDER BY id`,
    [ids.log],
  );
  const byConversation = (a: ExpectedLog, b: ExpectedLog) => (a.conversation_id < b.conversation_id ? -1 : a.conversation_id > b.conversation_id ? 1 : 0);
  expect([...logRows].sort(byConversation), `ownership log written by: ${line}`).toEqual([...x.log].sort(byConversation));

  // The audit rows this step wrote.
  const auditRows = await t.db.query(
    `SELECT company_id, seller_id, action, previous_status, new_status, listings_moved, listings_restored, conversations_moved,
            moved_to_seller_id, actor
       FROM company_member_audit WHERE id > $1 ORDER BY id`,
    [ids.audit],
  );
  expect(auditRows, `audit written by: ${line}`).toEqual(x.audit);

  await checkAfterEveryStep(run, x.world, line);
  return line;
}

/** The conversation a send opened gets its id (in the expected world and log). */
function renameNewConversation(x: Expectation, id: string) {
  const c = x.world.conversations.get(NEW_CONVERSATION)!;
  x.world.conversations.delete(NEW_CONVERSATION);
  x.world.conversations.set(id, c);
  for (const entry of x.log) if (entry.conversation_id === NEW_CONVERSATION) entry.conversation_id = id;
}

/* ------------------------------------------------------------------ */
/* Checks after every step                                             */
/* ------------------------------------------------------------------ */

async function checkAfterEveryStep(run: Run, world: World, line: string) {
  // (a) the invariant, the tests' own definition, on the whole database.
  let violations = await invariantViolations(t.db);
  // Leftovers of an earlier failed run (already a failure) must not mislead the shrinking.
  if (anEarlierRunFailed) violations = violations.filter((v) => run.listings.includes(v.listing_id));
  expect(violations, `invariant after: ${line}`).toEqual([]);

  // (b) lookup: every listing's recipient is exactly the model's, and the model names only someone the rule allows.
  const lookups = await t.db.query<{ listing_id: string; recipient_id: string | null; routing_reason: string }>(
    `SELECT x.id AS listing_id, r.recipient_id, r.routing_reason
       FROM unnest($1::ems_listing_id[]) AS x(id) CROSS JOIN LATERAL get_listing_message_recipient(x.id) r ORDER BY x.id`,
    [run.listings],
  );
  const expected = [...run.listings].sort(compareIds).map((id) => ({ listing_id: id, ...lookup(world, id) }));
  expect(lookups, `lookups after: ${line}`).toEqual(expected);
  for (const e of expected) {
    if (e.recipient_id !== null) expect(canHold(world, e.recipient_id, world.listings.get(e.listing_id)!), `model names a holder the rule allows`).toBe(true);
  }

  // (c) unbroken ownership chains; consistent member audit histories.
  expect(await ownershipChainProblems(t.db, { listings: run.listings }), `ownership chains after: ${line}`).toEqual([]);
  expect(await auditChainProblems(t.db, { sellers: run.people }), `audit chains after: ${line}`).toEqual([]);

  // (d) every stored buyer message: one this run sent, to the recipient the lookup named then, and the
  // recipient's status at the message's time (the last audit row before it; none: created active)
  // was active. The steps run one at a time, so created_at orders messages and audit rows.
  const messages = await t.db.query<{ id: string; recipient_id: string | null; status_then: string | null }>(
    `SELECT msg.id, msg.recipient_id,
            (SELECT a.new_status FROM company_member_audit a
              WHERE a.seller_id = msg.recipient_id AND a.created_at < msg.created_at ORDER BY a.id DESC LIMIT 1) AS status_then
       FROM messages msg JOIN conversations c ON c.id = msg.conversation_id
      WHERE c.listing_id = ANY ($1::ems_listing_id[]) AND msg.sender_type = 'buyer'`,
    [run.listings],
  );
  expect(messages.length, `messages after: ${line}`).toBe(run.messages.size);
  for (const message of messages) {
    expect(message.recipient_id, `message ${message.id}`).toBe(run.messages.get(message.id));
    expect(message.status_then ?? 'active', `recipient of message ${message.id} at its time`).toBe('active');
  }
}

/* ------------------------------------------------------------------ */
/* The property                                                        */
/* ------------------------------------------------------------------ */

/* For the three bugs this property found, each reduced to its minimal reproduction (below). */
async function independentSellerWithLiveListing() {
  const sellerId = await m.seller(t.db, null, 'member');
  const listingId = await m.listing(t.db, sellerId, null);
  return { sellerId, listingId };
}
const listingRow = async (listingId: string) =>
  (await t.db.query('SELECT status, current_owner_id, current_owner_type FROM listed_cars WHERE id = $1', [listingId]))[0];
/** Leaves the shared database consistent for the property (a listing that is not active is outside the invariant). */
const retire = (listingId: string) => t.db.query(`UPDATE listed_cars SET status = 'archived' WHERE id = $1`, [listingId]);

const COMBINATIONS = ADAPTERS.flatMap((adapter) => ROUTING_ID_TYPES.map((idType) => ({ adapter, idType })));

for (const { adapter, idType } of COMBINATIONS) {
  describe(`through ${adapter}, on ${idType} ids`, () => {
    let through: AdapterDatabase | undefined;
    beforeAll(async () => {
      t = await createMigratedDatabase(idType);
      through = await databaseThrough(adapter, t);
      apiDb = through.db;
      anEarlierRunFailed = false;
      const [row] = await t.db.query<{ user: string }>('SELECT session_user::text AS user');
      sqlActor = row!.user;
    });
    afterAll(async () => {
      await through?.close();
      await t?.drop();
    });

    // The smallest sequence the property first shrank to, kept as a plain example.
    it('re-prioritising an active handler leaves what it holds as handler where it is', async () => {
      const companyId = await m.company(t.db);
      const owner = await m.seller(t.db, companyId, 'owner', { createdAt: '2020-01-01' });
      const handler = await m.seller(t.db, companyId, 'member', { createdAt: '2020-03-01' });
      const member = await m.seller(t.db, companyId, 'member');
      await updateMessageHandlers(apiDb, { companyId, actor: ACTOR, changes: [{ sellerId: handler, priority: 10 }] });
      const listingId = await m.listing(t.db, member, companyId);
      const { conversationId } = await sendBuyerMessage(apiDb, { buyerId: await m.buyer(t.db), listingId, body: 'Is it available?' });
      await removeMember(apiDb, { companyId, sellerId: member, actor: ACTOR, reason: 'left' });
      const holder = async () =>
        (await t.db.query('SELECT l.current_owner_id, l.current_owner_type, c.seller_id AS conversation_owner FROM listed_cars l JOIN conversations c ON c.listing_id = l.id WHERE l.id = $1', [listingId]))[0];
      expect(await holder()).toEqual({ current_owner_id: handler, current_owner_type: 'company_handler', conversation_owner: handler });

      await updateMessageHandlers(apiDb, { companyId, actor: ACTOR, changes: [{ sellerId: handler, priority: 5 }] });

      expect(await holder(), `not handed on to the owner ${owner}`).toEqual({ current_owner_id: handler, current_owner_type: 'company_handler', conversation_owner: handler });
      expect((await getOwnershipHistory(apiDb, conversationId)).map((h) => h.reason)).toEqual(['conversation_started', 'member_removed']);
    });

    /* Three bugs this property found, each reduced to its minimal reproduction (helpers above the loop). */
    // Plain SQL only (the marketplace's own code, on node-postgres): nothing the adapter does, so once.
    it.runIf(adapter === 'pg')('removing a seller without a company parks their live independent listing', async () => {
      const { sellerId, listingId } = await independentSellerWithLiveListing();
      try {
        await t.db.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [sellerId]);
        // As for a company member's independent listing after a removal (README: "goes to whoever may hold it, or is parked").
        expect(await listingRow(listingId)).toEqual({ status: 'pending_reassignment', current_owner_id: null, current_owner_type: 'unassigned' });
      } finally {
        await retire(listingId);
      }
    });

    it.runIf(adapter === 'pg')('the lookup of a live independent listing whose holder may not hold it answers no_active_recipient', async () => {
      const { sellerId, listingId } = await independentSellerWithLiveListing();
      try {
        // The state the bug above leaves (made here without any trigger, so this stands on its own).
        await t.db.transaction(async (tx) => {
          await tx.query('SET LOCAL session_replication_role = replica');
          await tx.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [sellerId]);
        });
        expect(await m.recipientOf(t.db, listingId)).toMatchObject({ recipient_id: null, routing_reason: 'no_active_recipient' });
      } finally {
        await retire(listingId);
      }
    });

    it("a removal's audit row counts the conversations moved off the member with their independent listing", async () => {
      const companyId = await m.company(t.db);
      await m.seller(t.db, companyId, 'owner');
      const member = await m.seller(t.db, companyId, 'member');
      const independent = await m.listing(t.db, member, null);
      const conversationId = await m.conversation(t.db, independent, await m.buyer(t.db));
      await removeMember(apiDb, { companyId, sellerId: member, actor: ACTOR, reason: 'left' });
      // The conversation moved off them (parked with its listing: nobody else may hold it), logged...
      expect((await getOwnershipHistory(apiDb, conversationId)).map((h) => [h.previousOwnerId, h.newOwnerId, h.reason])).toEqual([
        [null, member, 'conversation_started'],
        [member, null, 'member_removed'],
      ]);
      // ...and the audit row counts it.
      const [audit] = await t.db.query('SELECT listings_moved, conversations_moved FROM company_member_audit WHERE seller_id = $1', [member]);
      expect(audit).toEqual({ listings_moved: 1, conversations_moved: 1 });
    });

    it(
      'random histories across two companies (moves, roles, deletes, handlers, listing and conversation edits, messages) keep the company-scoped routing promise',
      async () => {
        const numRuns = adapter === 'data-api' ? DATA_API_RUNS : NUM_RUNS;
        const statements = () => through?.endpoint?.requests.filter((r) => r.operation === 'ExecuteStatement').length ?? 0;
        let runs = 0;
        let steps = 0;
        const refusals = new Map<string, number>();
        const tried = new Map<string, number>();
        const done = new Map<string, number>();
        await fc.assert(
          fc.asyncProperty(setupArb, fc.array(opArb, { minLength: 1, maxLength: MAX_STEPS, size: 'max' }), async (setup, ops) => {
            runs += 1;
            const run = await createRun(setup);
            try {
              await checkAfterEveryStep(run, await readWorld(run), 'setup');
              for (const op of ops) {
                const line = await step(run, op);
                run.trace.push(line);
                steps += 1;
                const refused = /refused (\w+)/.exec(line)?.[1];
                if (refused) refusals.set(refused, (refusals.get(refused) ?? 0) + 1);
                if (!line.includes('skipped')) tried.set(op.kind, (tried.get(op.kind) ?? 0) + 1);
                if (line.endsWith('→ ok')) done.set(op.kind, (done.get(op.kind) ?? 0) + 1);
              }
              const report = await verifyInstallation(apiDb);
              const failed = report.checks.filter((c) => !c.ok && !(anEarlierRunFailed && c.name === 'routing invariant'));
              expect(failed, 'verifyInstallation at the end of the run').toEqual([]);
            } catch (error) {
              anEarlierRunFailed = true;
              const trace = run.trace.map((l, i) => `  ${i + 1}. ${l}`).join('\n');
              throw new Error(`${(error as Error).message}\nsetup ${JSON.stringify(setup)}, steps so far:\n${trace}`, { cause: error });
            }
          }),
          {
            numRuns,
            seed: SEED,
            endOnFailure: process.env.EMS_PROPERTY_NO_SHRINK === '1',
            // Bounds the time, mostly the shrinking of a failure (each attempt replays a whole run).
            interruptAfterTimeLimit: LONG ? undefined : 40_000,
          },
        );

        // After all runs (and any shrinking): the whole database is consistent, by both definitions of the invariant.
        expect(await invariantViolations(t.db)).toEqual([]);
        expect(await t.db.query(INVARIANT_VIOLATIONS_SQL)).toEqual([]);
        const report = await verifyInstallation(apiDb);
        expect(report.checks.filter((c) => !c.ok)).toEqual([]);
        // A very slow machine may stop early (time limit): still a meaningful number of runs.
        expect(runs).toBeGreaterThanOrEqual(Math.min(numRuns, 10));
        expect(steps).toBeGreaterThan(runs * 5);
        // The services really ran on the adapter named: under 'data-api' their statements reached the endpoint.
        if (through?.endpoint) expect(statements()).toBeGreaterThan(runs * 5);
        console.info(
          `routing property through ${adapter} on ${idType} ids: ${runs} runs, ${steps} steps, done ${JSON.stringify(Object.fromEntries(done))}, refusals ${JSON.stringify(Object.fromEntries(refusals))}`,
        );
        // The generator really mixed: every frequent kind of step ran somewhere in a full default run.
        if (runs >= 30) expect(FREQUENT_KINDS.filter((kind) => !tried.has(kind)), 'kinds of step that never ran').toEqual([]);
      },
      LONG ? 1_800_000 : 120_000,
    );
  });
}
