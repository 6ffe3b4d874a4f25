/**
 * Property: random sequences of membership, handler, transfer and messaging
 * operations on a fresh company keep the routing contract of ARCHITECTURE.md §3.
 *
 * Every step runs against a small model of the company (who owns what, who is
 * active, the handlers) that predicts, independently of the SQL, what the step
 * must change and whether it must be refused. After every step:
 *  - the database equals the model (listings, conversations, statuses, handlers),
 *    and the audit and ownership-log rows the step wrote are exactly the predicted ones;
 *  - (a) INVARIANT_VIOLATIONS_SQL returns no rows;
 *  - (b) every conversation's ownership log is an unbroken chain ending at its owner;
 *  - (c) every buyer message went to a member who was active when it committed
 *    (read right after the send returns, and from the audit trail at the message's time).
 * At the end of each run, verifyInstallation is ok.
 *
 * EMS_LONG_TESTS=1: 300 runs of up to 60 steps; EMS_PROPERTY_RUNS / EMS_PROPERTY_SEED override.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { reactivateMember, removeMember, transferListing } from '../../functions/domain/company-members';
import { updateMessageHandlers } from '../../functions/domain/company';
import { getOwnershipHistory, sendBuyerMessage } from '../../functions/domain/messaging';
import { INVARIANT_VIOLATIONS_SQL, verifyInstallation } from '../../functions/verification/verify';
import { createMigratedDatabase, type TestDatabase } from '../helpers/database';
import * as m from '../helpers/marketplace';
import { auditChainProblems, invariantViolationsIn, ownershipChainProblems, refusalCode } from '../helpers/routing-checks';

const LONG = process.env.EMS_LONG_TESTS === '1';
const NUM_RUNS = Number(process.env.EMS_PROPERTY_RUNS ?? (LONG ? 300 : 30));
const MAX_STEPS = LONG ? 60 : 30;
const SEED = process.env.EMS_PROPERTY_SEED ? Number(process.env.EMS_PROPERTY_SEED) : undefined;
const ACTOR = 'property@test';

let t: TestDatabase;
let sqlActor: string;
/** Set once a run failed: its leftovers may break the global invariant for the shrinking runs after it. */
let anEarlierRunFailed = false;

beforeAll(async () => {
  t = await createMigratedDatabase();
  const [row] = await t.db.query<{ user: string }>('SELECT session_user::text AS user');
  sqlActor = row!.user;
});
afterAll(async () => t?.drop());

/* ------------------------------------------------------------------ */
/* Operations                                                          */
/* ------------------------------------------------------------------ */

type Path = 'service' | 'sql';
type Op =
  | { kind: 'addMember'; role: 'member' | 'admin'; withListing: boolean }
  | { kind: 'addListing'; who: number }
  | { kind: 'remove'; who: number; path: Path }
  | { kind: 'suspend'; who: number }
  | { kind: 'reactivate'; who: number; restore: boolean; path: Path }
  | { kind: 'handler'; who: number; priority: number }
  | { kind: 'dropHandler'; which: number }
  | { kind: 'send'; buyer: number; listing: number }
  | { kind: 'transfer'; listing: number; to: number }
  | { kind: 'close'; which: number }
  | { kind: 'sell'; listing: number };

const index = fc.nat({ max: 63 });
const path = fc.constantFrom<Path>('service', 'sql');
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('addMember' as const), role: fc.constantFrom('member' as const, 'admin' as const), withListing: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('addListing' as const), who: index }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('remove' as const), who: index, path }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('suspend' as const), who: index }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('reactivate' as const), who: index, restore: fc.boolean(), path }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('handler' as const), who: index, priority: fc.constantFrom(1, 2, 3, 100) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('dropHandler' as const), which: index }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('send' as const), buyer: index, listing: index }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('transfer' as const), listing: index, to: index }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('close' as const), which: index }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('sell' as const), listing: index }) },
);

const setupArb = fc.record({
  owner: fc.integer({ min: 0, max: 5 }).map((n) => n > 0), // mostly with an owner; sometimes nobody can take over
  admins: fc.integer({ min: 0, max: 2 }),
  members: fc.integer({ min: 2, max: 4 }),
  buyers: fc.integer({ min: 2, max: 3 }),
});
type Setup = typeof setupArb extends fc.Arbitrary<infer S> ? S : never;

/* ------------------------------------------------------------------ */
/* The model                                                           */
/* ------------------------------------------------------------------ */

type Status = 'active' | 'removed' | 'suspended';
interface Person { role: m.Role; status: Status; created: number }
interface Listing { owner: string | null; type: string; status: string; original: string }
interface Conversation { seller: string | null; status: string }
interface Handler { priority: number; active: boolean; created: number; id: string }
interface World {
  people: Map<string, Person>;
  listings: Map<string, Listing>;
  /** keyed by `${listingId}:${buyerId}` (one conversation per buyer and listing) */
  conversations: Map<string, Conversation>;
  /** keyed by seller id */
  handlers: Map<string, Handler>;
}

async function readWorld(companyId: string): Promise<World> {
  const people = await t.db.query<{ id: string; role: m.Role; member_status: Status; created: number }>(
    `SELECT id, role, member_status, (extract(epoch FROM created_at) * 1000000)::bigint AS created FROM sellers WHERE company_id = $1`,
    [companyId],
  );
  const listings = await t.db.query<{ id: string; current_owner_id: string | null; current_owner_type: string; status: string; original_seller_id: string }>(
    `SELECT id, current_owner_id, current_owner_type, status, original_seller_id FROM listed_cars WHERE company_id = $1`,
    [companyId],
  );
  const conversations = await t.db.query<{ listing_id: string; buyer_id: string; seller_id: string | null; status: string }>(
    `SELECT c.listing_id, c.buyer_id, c.seller_id, c.status FROM conversations c JOIN listed_cars l ON l.id = c.listing_id WHERE l.company_id = $1`,
    [companyId],
  );
  const handlers = await t.db.query<{ id: string; seller_id: string; priority: number; is_active: boolean; created: number }>(
    `SELECT id, seller_id, priority, is_active, (extract(epoch FROM created_at) * 1000000)::bigint AS created
       FROM company_message_handlers WHERE company_id = $1`,
    [companyId],
  );
  const world: World = { people: new Map(), listings: new Map(), conversations: new Map(), handlers: new Map() };
  for (const p of people) world.people.set(p.id, { role: p.role, status: p.member_status, created: p.created });
  for (const l of listings) {
    world.listings.set(l.id, { owner: l.current_owner_id, type: l.current_owner_type, status: l.status, original: l.original_seller_id });
  }
  for (const c of conversations) {
    const key = `${c.listing_id}:${c.buyer_id}`;
    if (world.conversations.has(key)) throw new Error(`two conversations for buyer and listing ${key}`);
    world.conversations.set(key, { seller: c.seller_id, status: c.status });
  }
  for (const h of handlers) world.handlers.set(h.seller_id, { priority: h.priority, active: h.is_active, created: h.created, id: h.id });
  return world;
}

const byCreation = (a: { created: number; id: string }, b: { created: number; id: string }) =>
  a.created - b.created || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

const isActive = (w: World, sellerId: string | null) => sellerId !== null && w.people.get(sellerId)?.status === 'active';

/** The §3 fallback chain, written independently of the SQL. */
function fallback(w: World, exclude: string | null): { id: string; type: string } | null {
  const openCount = (sellerId: string) => [...w.conversations.values()].filter((c) => c.seller === sellerId && c.status === 'open').length;
  const handlers = [...w.handlers.entries()]
    .filter(([sellerId, h]) => h.active && isActive(w, sellerId) && sellerId !== exclude)
    .map(([sellerId, h]) => ({ sellerId, ...h }))
    .sort((a, b) => a.priority - b.priority || openCount(a.sellerId) - openCount(b.sellerId) || byCreation(a, b));
  if (handlers[0]) return { id: handlers[0].sellerId, type: 'company_handler' };
  for (const role of ['admin', 'owner'] as const) {
    const [first] = [...w.people.entries()]
      .filter(([id, p]) => p.role === role && p.status === 'active' && id !== exclude)
      .map(([id, p]) => ({ id, created: p.created }))
      .sort(byCreation);
    if (first) return { id: first.id, type: `company_${role}` };
  }
  return null;
}

function listingRecipient(w: World, listingId: string): string | null {
  const listing = w.listings.get(listingId)!;
  if (listing.status !== 'active') return null;
  if (isActive(w, listing.owner)) return listing.owner;
  return fallback(w, null)?.id ?? null;
}

const isAdminish = (p: Person) => p.role === 'owner' || p.role === 'admin';

interface ExpectedAudit {
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

interface Expectation {
  world: World;
  audit: ExpectedAudit[];
  /** the log reason of conversations whose owner the step changes */
  reason: string;
}

/** Hands what `sellerId` holds (scope 'member': everything; 'handler': listings held as handler) to the fallback. */
function moveToFallback(before: World, e: World, sellerId: string, scope: 'member' | 'handler') {
  const target = fallback(before, sellerId);
  const moved: string[] = [];
  for (const [id, l] of e.listings) {
    if (l.owner === sellerId && l.status === 'active' && (scope === 'member' || l.type === 'company_handler')) {
      e.listings.set(id, {
        ...l,
        owner: target?.id ?? null,
        type: target?.type ?? 'unassigned',
        status: target ? l.status : 'pending_reassignment',
      });
      moved.push(id);
    }
  }
  let conversations = 0;
  for (const [key, c] of e.conversations) {
    if (c.seller === sellerId && c.status === 'open' && (scope === 'member' || moved.includes(key.split(':')[0]!))) {
      e.conversations.set(key, { ...c, seller: target?.id ?? null });
      conversations += 1;
    }
  }
  return { listings: moved.length, conversations, movedTo: target?.id ?? null };
}

function restoreHoldings(e: World, sellerId: string) {
  let listings = 0;
  let conversations = 0;
  for (const [id, l] of e.listings) {
    if (l.original === sellerId && l.type !== 'seller' && (l.status === 'active' || l.status === 'pending_reassignment')) {
      const heldBy = l.owner;
      e.listings.set(id, { ...l, owner: sellerId, type: 'seller', status: 'active' });
      listings += 1;
      for (const [key, c] of e.conversations) {
        if (key.startsWith(`${id}:`) && c.status === 'open' && c.seller === heldBy) {
          e.conversations.set(key, { ...c, seller: sellerId });
          conversations += 1;
        }
      }
    }
  }
  return { listings, conversations };
}

/** Applies a status change of `sellerId` to the expectation, as the triggers must. */
function changeStatus(before: World, x: Expectation, sellerId: string, next: Status, options: { restore?: boolean; actor: string }) {
  const person = x.world.people.get(sellerId)!;
  const previous = person.status;
  x.world.people.set(sellerId, { ...person, status: next });
  const audit: ExpectedAudit = {
    seller_id: sellerId,
    action: next === 'active' ? 'reactivated' : next === 'suspended' ? 'suspended' : 'removed',
    previous_status: previous,
    new_status: next,
    listings_moved: 0,
    listings_restored: 0,
    conversations_moved: 0,
    moved_to_seller_id: null,
    actor: options.actor,
  };
  if (previous === 'active' && next !== 'active') {
    const moved = moveToFallback(before, x.world, sellerId, 'member');
    Object.assign(audit, { listings_moved: moved.listings, conversations_moved: moved.conversations, moved_to_seller_id: moved.movedTo });
    x.reason = 'member_removed';
  } else if (previous !== 'active' && next === 'active' && options.restore) {
    const restored = restoreHoldings(x.world, sellerId);
    Object.assign(audit, { listings_restored: restored.listings, conversations_moved: restored.conversations });
    x.reason = 'member_reactivated';
  }
  x.audit.push(audit);
  return audit;
}

function comparable(w: World) {
  const sorted = <V>(map: Map<string, V>) => Object.fromEntries([...map.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
  return {
    people: sorted(new Map([...w.people].map(([id, p]) => [id, { role: p.role, status: p.status }]))),
    listings: sorted(w.listings),
    conversations: sorted(w.conversations),
    handlers: sorted(new Map([...w.handlers].map(([id, h]) => [id, { priority: h.priority, active: h.active }]))),
  };
}

/* ------------------------------------------------------------------ */
/* One run                                                             */
/* ------------------------------------------------------------------ */

interface Run {
  companyId: string;
  people: string[]; // creation order: stable indices
  listings: string[];
  buyers: string[];
  /** messages this run stored: id → recipient */
  messages: Map<string, string>;
  trace: string[];
}

async function createRun(setup: Setup): Promise<Run> {
  const companyId = await m.company(t.db);
  const people: string[] = [];
  if (setup.owner) people.push(await m.seller(t.db, companyId, 'owner', { createdAt: '2020-01-01' }));
  for (let i = 0; i < setup.admins; i += 1) people.push(await m.seller(t.db, companyId, 'admin', { createdAt: `2020-02-0${i + 1}` }));
  for (let i = 0; i < setup.members; i += 1) people.push(await m.seller(t.db, companyId, 'member'));
  const listings: string[] = [];
  for (const p of people) listings.push(await m.listing(t.db, p, companyId));
  const buyers: string[] = [];
  for (let i = 0; i < setup.buyers; i += 1) buyers.push(await m.buyer(t.db));
  return { companyId, people, listings, buyers, messages: new Map(), trace: [] };
}

const pick = <T>(items: readonly T[], i: number): T => items[i % items.length]!;
const short = (id: string | null | undefined) => (id ? id.slice(0, 8) : 'nobody');

async function maxIds() {
  const [row] = await t.db.query<{ log: number; audit: number }>(
    `SELECT coalesce((SELECT max(id) FROM conversation_ownership_log), 0) AS log, coalesce((SELECT max(id) FROM company_member_audit), 0) AS audit`,
  );
  return row!;
}

/** Runs one operation, checks it against the model, returns a line for the trace. */
async function step(run: Run, op: Op): Promise<string> {
  const before = await readWorld(run.companyId);
  const x: Expectation = { world: structuredClone(before), audit: [], reason: '' };
  const ids = await maxIds();
  const person = (i: number) => pick(run.people, i);
  const label = (id: string) => `${before.people.get(id)?.role ?? 'new'}#${run.people.indexOf(id)}(${before.people.get(id)?.status ?? 'new'})`;
  let refusal: string | undefined; // predicted refusal
  let action: () => Promise<unknown>;
  let checkResult: (result: unknown) => void | Promise<void> = () => undefined;
  let line: string;

  switch (op.kind) {
    case 'addMember': {
      line = `add ${op.role}${op.withListing ? ' with a listing' : ''}`;
      action = async () => {
        const id = await m.seller(t.db, run.companyId, op.role);
        run.people.push(id);
        const [row] = await t.db.query<{ created: number }>(
          `SELECT (extract(epoch FROM created_at) * 1000000)::bigint AS created FROM sellers WHERE id = $1`,
          [id],
        );
        x.world.people.set(id, { role: op.role, status: 'active', created: row!.created });
        if (op.withListing) {
          const listingId = await m.listing(t.db, id, run.companyId);
          run.listings.push(listingId);
          x.world.listings.set(listingId, { owner: id, type: 'seller', status: 'active', original: id });
        }
      };
      break;
    }
    case 'addListing': {
      const active = run.people.filter((id) => before.people.get(id)?.status === 'active');
      if (active.length === 0) return 'add listing: nobody active, skipped';
      const owner = pick(active, op.who);
      line = `add listing for ${label(owner)}`;
      action = async () => {
        const listingId = await m.listing(t.db, owner, run.companyId);
        run.listings.push(listingId);
        x.world.listings.set(listingId, { owner, type: 'seller', status: 'active', original: owner });
      };
      break;
    }
    case 'remove':
    case 'suspend': {
      const id = person(op.who);
      const p = before.people.get(id)!;
      const next: Status = op.kind === 'remove' ? 'removed' : 'suspended';
      const via: Path = op.kind === 'remove' ? op.path : 'sql';
      line = `${op.kind} ${label(id)} via ${via}`;
      const othersLeft = [...before.people.entries()].some(([other, q]) => other !== id && q.status === 'active' && isAdminish(q));
      if (via === 'service' && p.status === 'removed') refusal = 'already_removed';
      else if (p.status === 'active' && isAdminish(p) && !othersLeft) refusal = 'last_admin';
      else if (p.status !== next) {
        const audit = changeStatus(before, x, id, next, { actor: via === 'service' ? ACTOR : sqlActor });
        if (via === 'service') {
          checkResult = (result) =>
            expect(result).toEqual({
              sellerId: id,
              companyId: run.companyId,
              status: 'removed',
              listingsMoved: audit.listings_moved,
              conversationsMoved: audit.conversations_moved,
              movedTo: audit.moved_to_seller_id ? { id: audit.moved_to_seller_id, name: expect.any(String) } : null,
            });
        }
      }
      action =
        via === 'service'
          ? () => removeMember(t.db, { companyId: run.companyId, sellerId: id, actor: ACTOR, reason: 'property' })
          : () => t.db.query(`UPDATE sellers SET member_status = $2 WHERE id = $1`, [id, next]);
      break;
    }
    case 'reactivate': {
      const id = person(op.who);
      const p = before.people.get(id)!;
      line = `reactivate ${label(id)} via ${op.path}${op.restore ? ' with restore' : ''}`;
      if (p.status === 'active') {
        if (op.path === 'service') refusal = 'already_active';
      } else {
        const audit = changeStatus(before, x, id, 'active', { restore: op.restore, actor: op.path === 'service' ? ACTOR : sqlActor });
        if (op.path === 'service') {
          checkResult = (result) =>
            expect(result).toEqual({
              sellerId: id,
              companyId: run.companyId,
              status: 'active',
              listingsRestored: audit.listings_restored,
              conversationsRestored: audit.conversations_moved,
            });
        }
      }
      action =
        op.path === 'service'
          ? () => reactivateMember(t.db, { companyId: run.companyId, sellerId: id, actor: ACTOR, restoreListings: op.restore })
          : () =>
              t.db.transaction(async (tx) => {
                // The marketplace's own code: a plain UPDATE, asking for the restore by a setting.
                if (op.restore) await tx.query(`SET LOCAL ems.restore_listings = 'on'`);
                await tx.query(`UPDATE sellers SET member_status = 'active' WHERE id = $1`, [id]);
              });
      break;
    }
    case 'handler': {
      const id = person(op.who);
      line = `handler ${label(id)} priority ${op.priority}`;
      if (!isActive(before, id)) refusal = 'invalid_handler';
      else {
        const existing = before.handlers.get(id);
        x.world.handlers.set(id, { created: 0, id: '', ...existing, priority: op.priority, active: true });
      }
      action = () => updateMessageHandlers(t.db, { companyId: run.companyId, actor: ACTOR, changes: [{ sellerId: id, priority: op.priority }] });
      break;
    }
    case 'dropHandler': {
      const rows = [...before.handlers.entries()].map(([sellerId, h]) => ({ sellerId, ...h })).sort(byCreation);
      if (rows.length === 0) return 'drop handler: no handlers, skipped';
      const h = pick(rows, op.which);
      line = `drop handler ${label(h.sellerId)}${h.active ? '' : ' (already inactive)'}`;
      x.world.handlers.set(h.sellerId, { ...before.handlers.get(h.sellerId)!, active: false });
      if (h.active) {
        const afterDrop = structuredClone(before);
        afterDrop.handlers.set(h.sellerId, { ...h, active: false });
        moveToFallback(afterDrop, x.world, h.sellerId, 'handler');
        x.reason = 'handler_changed';
      }
      action = () => updateMessageHandlers(t.db, { companyId: run.companyId, actor: ACTOR, changes: [{ sellerId: h.sellerId, active: false }] });
      break;
    }
    case 'send': {
      const buyerId = pick(run.buyers, op.buyer);
      const listingId = pick(run.listings, op.listing);
      const key = `${listingId}:${buyerId}`;
      const listing = before.listings.get(listingId)!;
      const existing = before.conversations.get(key);
      const target = existing && isActive(before, existing.seller) ? existing.seller : listingRecipient(before, listingId);
      line = `send buyer#${run.buyers.indexOf(buyerId)} → listing#${run.listings.indexOf(listingId)} (${listing.status}, owner ${short(listing.owner)})`;
      if (listing.status !== 'active') refusal = 'listing_not_active';
      else if (target === null) refusal = 'no_recipient';
      else {
        x.world.conversations.set(key, { seller: target, status: 'open' });
        x.reason = 'owner_inactive'; // only a conversation whose owner is no longer active changes hands
        line += ` expecting ${label(target)}`;
        checkResult = async (result) => {
          const message = result as Awaited<ReturnType<typeof sendBuyerMessage>>;
          expect(message).toMatchObject({
            listingId,
            recipient: { id: target },
            conversationOpened: !existing,
            conversationReopened: existing?.status === 'closed',
          });
          // (c) the recipient is active right after the message committed (nothing ran in between).
          const [seller] = await t.db.query<{ member_status: string }>('SELECT member_status FROM sellers WHERE id = $1', [message.recipient.id]);
          expect(seller?.member_status).toBe('active');
          run.messages.set(message.messageId, message.recipient.id);
          // (b) through the service: the history of this conversation ends at the recipient.
          const history = await getOwnershipHistory(t.db, message.conversationId);
          expect(history[0]).toMatchObject({ previousOwnerId: null, reason: 'conversation_started' });
          history.forEach((h, i) => i > 0 && expect(h.previousOwnerId).toBe(history[i - 1]!.newOwnerId));
          expect(history.at(-1)?.newOwnerId).toBe(target);
        };
      }
      action = () => sendBuyerMessage(t.db, { buyerId, listingId, body: `message ${run.messages.size + 1}` });
      break;
    }
    case 'transfer': {
      const listingId = pick(run.listings, op.listing);
      const to = person(op.to);
      line = `transfer listing#${run.listings.indexOf(listingId)} → ${label(to)}`;
      if (!isActive(before, to)) refusal = 'inactive_recipient';
      else {
        const l = before.listings.get(listingId)!;
        x.world.listings.set(listingId, { ...l, owner: to, type: 'seller', status: l.status === 'pending_reassignment' ? 'active' : l.status });
        let moved = 0;
        for (const [key, c] of before.conversations) {
          if (key.startsWith(`${listingId}:`) && c.status === 'open' && c.seller !== to) {
            x.world.conversations.set(key, { ...c, seller: to });
            moved += 1;
          }
        }
        x.reason = 'manual_transfer';
        checkResult = (result) => expect(result).toEqual({ listingId, newOwnerId: to, conversationsMoved: moved });
      }
      action = () => transferListing(t.db, { companyId: run.companyId, listingId, toSellerId: to, actor: ACTOR });
      break;
    }
    case 'close': {
      const open = [...before.conversations.entries()].filter(([, c]) => c.status === 'open').sort(([a], [b]) => (a < b ? -1 : 1));
      if (open.length === 0) return 'close: no open conversation, skipped';
      const [key, c] = pick(open, op.which);
      const [listingId, buyerId] = key.split(':') as [string, string];
      line = `close conversation of buyer#${run.buyers.indexOf(buyerId)} on listing#${run.listings.indexOf(listingId)}`;
      x.world.conversations.set(key, { ...c, status: 'closed' });
      action = () => t.db.query(`UPDATE conversations SET status = 'closed' WHERE listing_id = $1 AND buyer_id = $2`, [listingId, buyerId]);
      break;
    }
    case 'sell': {
      const listingId = pick(run.listings, op.listing);
      line = `sell listing#${run.listings.indexOf(listingId)} (${before.listings.get(listingId)!.status})`;
      x.world.listings.set(listingId, { ...before.listings.get(listingId)!, status: 'sold' });
      action = () => t.db.query(`UPDATE listed_cars SET status = 'sold', updated_at = now() WHERE id = $1`, [listingId]);
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
    const code = refusalCode(error);
    if (!refusal || code !== refusal) {
      throw new Error(`${line}: ${refusal ? `expected refusal ${refusal}, got` : 'unexpected error'}: ${(error as Error).message}`, { cause: error });
    }
    outcome = `refused ${code}`;
  }
  line = `${line} → ${outcome}`;
  if (refusal) x.world = structuredClone(before); // a refusal changes nothing

  // The database equals the model.
  const after = await readWorld(run.companyId);
  expect(comparable(after), `state after: ${line}`).toEqual(comparable(x.world));

  // The ownership-log rows this step wrote: one per conversation whose owner changed, nothing else.
  const logRows = await t.db.query<{ key: string; previous_owner_id: string | null; new_owner_id: string | null; reason: string }>(
    `SELECT c.listing_id || ':' || c.buyer_id AS key, g.previous_owner_id, g.new_owner_id, g.reason
       FROM conversation_ownership_log g JOIN conversations c ON c.id = g.conversation_id JOIN listed_cars l ON l.id = c.listing_id
      WHERE g.id > $2 AND l.company_id = $1 ORDER BY g.id`,
    [run.companyId, ids.log],
  );
  const expectedLog = [...x.world.conversations.entries()].flatMap(([key, c]) => {
    const was = before.conversations.get(key);
    if (!was) return [{ key, previous_owner_id: null, new_owner_id: c.seller, reason: 'conversation_started' }];
    return was.seller === c.seller ? [] : [{ key, previous_owner_id: was.seller, new_owner_id: c.seller, reason: x.reason }];
  });
  const byKey = (a: { key: string }, b: { key: string }) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  expect(logRows.sort(byKey), `ownership log written by: ${line}`).toEqual(expectedLog.sort(byKey));

  // The audit rows this step wrote.
  const auditRows = await t.db.query(
    `SELECT seller_id, action, previous_status, new_status, listings_moved, listings_restored, conversations_moved,
            moved_to_seller_id, actor
       FROM company_member_audit WHERE id > $2 AND company_id = $1 ORDER BY id`,
    [run.companyId, ids.audit],
  );
  expect(auditRows, `audit written by: ${line}`).toEqual(refusal ? [] : x.audit);

  await checkAfterEveryStep(run, line);
  return line;
}

/* ------------------------------------------------------------------ */
/* Checks after every step                                             */
/* ------------------------------------------------------------------ */

async function checkAfterEveryStep(run: Run, line: string) {
  // (a) the invariant, as the verification states it.
  const violations = await t.db.query<{ kind: string; id: string; owner_id: string | null }>(INVARIANT_VIOLATIONS_SQL);
  if (violations.length > 0) {
    const ours = await invariantViolationsIn(t.db, run.companyId);
    // Leftovers of an earlier failed run (already a failure) must not mislead the shrinking.
    if (ours.length > 0 || !anEarlierRunFailed) {
      throw new Error(`invariant violated after: ${line}\n${JSON.stringify({ violations, ours }, null, 2)}`);
    }
  }
  expect(await invariantViolationsIn(t.db, run.companyId), `invariant (company) after: ${line}`).toEqual([]);

  // (b) unbroken ownership chains; consistent member audit histories.
  expect(await ownershipChainProblems(t.db, run.companyId), `ownership chains after: ${line}`).toEqual([]);
  expect(await auditChainProblems(t.db, run.companyId), `audit chains after: ${line}`).toEqual([]);

  // (c) every stored buyer message: one this run sent, to the recipient it reported, and the
  // recipient's status at the message's time (the last audit row before it; none: created active)
  // was active. The steps run one at a time, so created_at orders messages and audit rows.
  const messages = await t.db.query<{ id: string; recipient_id: string | null; status_then: string | null }>(
    `SELECT msg.id, msg.recipient_id,
            (SELECT a.new_status FROM company_member_audit a
              WHERE a.seller_id = msg.recipient_id AND a.created_at < msg.created_at ORDER BY a.id DESC LIMIT 1) AS status_then
       FROM messages msg JOIN conversations c ON c.id = msg.conversation_id JOIN listed_cars l ON l.id = c.listing_id
      WHERE l.company_id = $1 AND msg.sender_type = 'buyer'`,
    [run.companyId],
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

// The smallest sequence the property first shrank to, kept as a plain example.
it('re-prioritising an active handler leaves what it holds as handler where it is', async () => {
  const companyId = await m.company(t.db);
  const owner = await m.seller(t.db, companyId, 'owner', { createdAt: '2020-01-01' });
  const handler = await m.seller(t.db, companyId, 'member', { createdAt: '2020-03-01' });
  const member = await m.seller(t.db, companyId, 'member');
  await updateMessageHandlers(t.db, { companyId, actor: ACTOR, changes: [{ sellerId: handler, priority: 10 }] });
  const listingId = await m.listing(t.db, member, companyId);
  const { conversationId } = await sendBuyerMessage(t.db, { buyerId: await m.buyer(t.db), listingId, body: 'Is it available?' });
  await removeMember(t.db, { companyId, sellerId: member, actor: ACTOR, reason: 'left' });
  const holder = async () =>
    (await t.db.query('SELECT l.current_owner_id, l.current_owner_type, c.seller_id AS conversation_owner FROM listed_cars l JOIN conversations c ON c.listing_id = l.id WHERE l.id = $1', [listingId]))[0];
  expect(await holder()).toEqual({ current_owner_id: handler, current_owner_type: 'company_handler', conversation_owner: handler });

  await updateMessageHandlers(t.db, { companyId, actor: ACTOR, changes: [{ sellerId: handler, priority: 5 }] });

  expect(await holder(), `not handed on to the owner ${owner}`).toEqual({ current_owner_id: handler, current_owner_type: 'company_handler', conversation_owner: handler });
  expect((await getOwnershipHistory(t.db, conversationId)).map((h) => h.reason)).toEqual(['conversation_started', 'member_removed']);
});

it(
  'random membership, handler, transfer and messaging sequences keep routing, ownership chains and the invariant',
  async () => {
    let runs = 0;
    let steps = 0;
    const refusals = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(setupArb, fc.array(opArb, { minLength: 1, maxLength: MAX_STEPS, size: 'max' }), async (setup, ops) => {
        runs += 1;
        const run = await createRun(setup);
        try {
          await checkAfterEveryStep(run, 'setup');
          for (const op of ops) {
            const line = await step(run, op);
            run.trace.push(line);
            steps += 1;
            const refused = /refused (\w+)/.exec(line)?.[1];
            if (refused) refusals.set(refused, (refusals.get(refused) ?? 0) + 1);
          }
          const report = await verifyInstallation(t.db);
          const failed = report.checks.filter((c) => !c.ok && !(anEarlierRunFailed && c.name === 'routing invariant'));
          expect(failed, 'verifyInstallation at the end of the run').toEqual([]);
        } catch (error) {
          anEarlierRunFailed = true;
          const trace = run.trace.map((l, i) => `  ${i + 1}. ${l}`).join('\n');
          throw new Error(`${(error as Error).message}\nsetup ${JSON.stringify(setup)}, steps so far:\n${trace}`, { cause: error });
        }
      }),
      {
        numRuns: NUM_RUNS,
        seed: SEED,
        endOnFailure: process.env.EMS_PROPERTY_NO_SHRINK === '1',
        // Bounds the time, mostly the shrinking of a failure (each attempt replays a whole run).
        interruptAfterTimeLimit: LONG ? undefined : 40_000,
      },
    );

    // After all runs (and any shrinking): the whole database is consistent.
    expect(await t.db.query(INVARIANT_VIOLATIONS_SQL)).toEqual([]);
    const report = await verifyInstallation(t.db);
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    // A very slow machine may stop early (time limit): still a meaningful number of runs.
    expect(runs).toBeGreaterThanOrEqual(Math.min(NUM_RUNS, 10));
    expect(steps).toBeGreaterThan(runs * 5);
    console.info(`routing property: ${runs} runs, ${steps} steps, refusals ${JSON.stringify(Object.fromEntries(refusals))}`);
  },
  LONG ? 1_800_000 : 120_000,
);
