/**
 * Configuration, read and validated once when a function loads: a missing or
 * malformed variable fails the cold start with its name.
 */
import { z } from 'zod';

const schema = z
  .object({
    /** node-postgres connection (local server, tests, migration Lambda). */
    DATABASE_URL: z.string().min(1).optional(),
    /** RDS Data API (handlers in AWS). */
    DATA_API_RESOURCE_ARN: z.string().startsWith('arn:').optional(),
    DATA_API_SECRET_ARN: z.string().startsWith('arn:').optional(),
    DATA_API_DATABASE: z.string().min(1).optional(),
    /** Claim identifying the caller (matched against sellers.email / buyers.email). */
    JWT_IDENTITY_CLAIM: z.string().min(1).default('email'),
    SERVICE_NAME: z.string().min(1).default('enhanced-messaging'),
    MAX_BODY_BYTES: z.coerce.number().int().positive().default(16_384),
  })
  .refine((c) => c.DATABASE_URL || (c.DATA_API_RESOURCE_ARN && c.DATA_API_SECRET_ARN && c.DATA_API_DATABASE), {
    message: 'set DATABASE_URL, or all of DATA_API_RESOURCE_ARN, DATA_API_SECRET_ARN and DATA_API_DATABASE',
  });

export type Config = z.infer<typeof schema>;

let cached: Config | undefined;

export function loadConfig(environment: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(environment);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'environment'}: ${i.message}`).join('; ');
    throw new Error(`Invalid configuration: ${problems}`);
  }
  return parsed.data;
}

export function config(): Config {
  cached ??= loadConfig();
  return cached;
}

/** For the local server and tests, which set the environment after import. */
export function resetConfig(): void {
  cached = undefined;
}
