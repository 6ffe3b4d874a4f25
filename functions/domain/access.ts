/**
 * Who may call a route, as the route table states it: 'public' needs no token; the others need a
 * verified token (API Gateway's JWT authorizer, or the local server's same checks), and the route's
 * SQL function checks the caller against the database on every request ('buyer': buyers only;
 * 'company_admin': an active owner or admin of a company; 'authenticated': any active account).
 */
export type Access = 'public' | 'authenticated' | 'buyer' | 'company_admin';
