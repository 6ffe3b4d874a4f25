/**
 * Who is calling, read from the database on every request, so a member removed
 * a second ago is refused even with a token that is still valid.
 */
import type { Database } from '../database/port';
import { ForbiddenError, UnauthorizedError } from './errors';

export type Caller =
  | { readonly kind: 'seller'; readonly id: string; readonly email: string; readonly companyId: string | null; readonly role: 'owner' | 'admin' | 'member' }
  | { readonly kind: 'buyer'; readonly id: string; readonly email: string };

export type Access = 'public' | 'authenticated' | 'buyer' | 'company_admin';

export async function identifyCaller(db: Database, identity: string | undefined, emailVerified?: unknown): Promise<Caller> {
  if (!identity) throw new UnauthorizedError('The token carries no identity claim');
  // An identity provider that says the address is unverified cannot vouch for the account.
  if (emailVerified === false || emailVerified === 'false') throw new ForbiddenError('The e-mail address of this token is not verified');
  const rows = await db.query<{ kind: 'seller' | 'buyer'; id: string; email: string; company_id: string | null; role: string | null; member_status: string | null }>(
    `SELECT 'seller' AS kind, id, email, company_id, role, member_status FROM sellers WHERE lower(email) = lower($1)
     UNION ALL
     SELECT 'buyer', id, email, NULL, NULL, NULL FROM buyers WHERE lower(email) = lower($1)`,
    [identity],
  );
  const row = rows[0];
  if (!row) throw new ForbiddenError('No marketplace account matches this token');
  // E-mails differing only in case (or a seller and a buyer sharing one) must not let one act as the other.
  if (rows.length > 1) throw new ForbiddenError('More than one marketplace account matches this token; contact support');
  if (row.kind === 'buyer') return { kind: 'buyer', id: row.id, email: row.email };
  if (row.member_status !== 'active') throw new ForbiddenError('Your company membership is not active');
  return { kind: 'seller', id: row.id, email: row.email, companyId: row.company_id, role: row.role as 'owner' | 'admin' | 'member' };
}

export function authorize(caller: Caller, access: Access): void {
  switch (access) {
    case 'public':
    case 'authenticated':
      return;
    case 'buyer':
      if (caller.kind !== 'buyer') throw new ForbiddenError('Only buyers can do this');
      return;
    case 'company_admin':
      if (caller.kind !== 'seller' || !caller.companyId || caller.role === 'member') {
        throw new ForbiddenError("Only the company's owner or admins can do this");
      }
      return;
  }
}

/** The company of a caller who passed `company_admin`. */
export function adminCompanyId(caller: Caller): string {
  if (caller.kind !== 'seller' || !caller.companyId || caller.role === 'member') {
    throw new ForbiddenError("Only the company's owner or admins can do this");
  }
  return caller.companyId;
}
