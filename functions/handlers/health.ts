import { checkHealth } from '../domain/health';
import { routeHandler } from '../http/handler-kit';

export const handler = routeHandler('health', ({ db }) => checkHealth(db));
