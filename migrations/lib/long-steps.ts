/**
 * The steps of each messaging migration whose time grows with the marketplace's data, as the dry
 * run (functions/migration-runner/dry-run.ts) reports them before anything is applied: the batched
 * backfills (with the rows they would change), the concurrent index builds (with the size of the
 * table they scan) and the hand-overs of what existing data holds against the routing rule.
 *
 * The migrations themselves cannot say (their files are checksummed and do the work), so this is a
 * second account of them: migration-dry-run.test.ts applies each migration and checks that the
 * backfills and index builds it reports (./progress.ts) are exactly the ones listed here.
 */
import { PERFORMANCE_INDEXES } from './expected-objects';

export interface BackfillStep {
  readonly kind: 'backfill';
  readonly table: string;
  /** The columns it fills. */
  readonly columns: readonly string[];
  /** The rows it changes: the backfill's `needsUpdate`, the table aliased `t`. */
  readonly condition: string;
  /** Columns the condition reads that the migration adds: while one is absent, every row is to do. */
  readonly conditionColumns: readonly string[];
}

export interface IndexStep {
  readonly kind: 'index';
  readonly name: string;
  readonly table: string;
  readonly definition: string;
}

export interface HandOverStep {
  readonly kind: 'hand-over';
  /**
   * `inactive-holders`: listings and open conversations held by members no longer active go to
   * their company's fallback (migration 3). `company-scoped`: every active listing and open
   * conversation held by someone the company-scoped rule does not allow (migration 5).
   */
  readonly rule: 'inactive-holders' | 'company-scoped';
}

export type DataStep = BackfillStep | IndexStep | HandOverStep;

const index = (name: string, definition: string): IndexStep => ({
  kind: 'index',
  name,
  table: /^ON (\w+)/.exec(definition)![1]!,
  definition,
});

export const MIGRATION_LONG_STEPS: Readonly<Record<string, readonly DataStep[]>> = {
  '20250622120000_enhanced_member_management.js': [],
  '20250622121000_messaging_ownership_tracking.js': [
    {
      kind: 'backfill',
      table: 'listed_cars',
      columns: ['current_owner_id', 'original_seller_id'],
      condition: `t.original_seller_id IS NULL OR (t.current_owner_id IS NULL AND t.current_owner_type <> 'unassigned')`,
      conditionColumns: ['original_seller_id', 'current_owner_id', 'current_owner_type'],
    },
    index('listed_cars_current_owner_active_idx', `ON listed_cars (current_owner_id) WHERE status = 'active'`),
    index('listed_cars_original_seller_idx', `ON listed_cars (original_seller_id) WHERE current_owner_type <> 'seller'`),
    index('listed_cars_company_active_owner_type_idx', `ON listed_cars (company_id, current_owner_type) WHERE status = 'active'`),
  ],
  '20250622122000_messaging_conversation_tracking.js': [{ kind: 'hand-over', rule: 'inactive-holders' }],
  '20250622123000_messaging_final_setup.js': Object.entries(PERFORMANCE_INDEXES).map(([name, definition]) => index(name, definition)),
  '20261130120000_company_scoped_routing.js': [{ kind: 'hand-over', rule: 'company-scoped' }],
  '20261130130000_api_route_functions.js': [],
  '20261130140000_database_roles.js': [],
  '20261130150000_ownership_events_outbox.js': [],
  '20261206120000_entity_id_domains.js': [],
  '20261206130000_outbox_order_without_deadlocks.js': [],
};
