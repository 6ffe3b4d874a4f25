/**
 * The login users `npm start` and the tests run the API and the verification as, on the local
 * server, as the stack does in AWS (there each password is a rotated Secrets Manager secret).
 * Local-only credentials: the embedded cluster listens on 127.0.0.1 and holds demo data.
 */
import { EVENT_RELAY_ROLE, READER_ROLE, ROUTE_CALLER_ROLE } from '../../migrations/lib/database-roles';
import { API_LOGIN_USER, RELAY_LOGIN_USER, VERIFIER_LOGIN_USER, type LoginUser } from '../migration-runner/login-roles';

export const LOCAL_API_USER: LoginUser = { username: API_LOGIN_USER, password: 'local-dev-only-api-user', memberOf: ROUTE_CALLER_ROLE };
export const LOCAL_VERIFIER_USER: LoginUser = { username: VERIFIER_LOGIN_USER, password: 'local-dev-only-verifier', memberOf: READER_ROLE };
export const LOCAL_RELAY_USER: LoginUser = { username: RELAY_LOGIN_USER, password: 'local-dev-only-event-relay', memberOf: EVENT_RELAY_ROLE };
export const LOCAL_LOGIN_USERS = [LOCAL_API_USER, LOCAL_VERIFIER_USER, LOCAL_RELAY_USER] as const;
