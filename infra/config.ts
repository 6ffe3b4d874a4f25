/**
 * The CDK app's configuration, read from CDK context (`cdk.json` or `-c key=value`)
 * and validated once, before any construct is built. `-c` values arrive as
 * strings, cdk.json values as JSON; both are accepted.
 */
import type { Node } from 'constructs';
import { z } from 'zod';
import { ID_TYPES } from '../functions/shared/config';

/** Stages named 'dev' get the cheap, disposable defaults; every other stage gets production defaults. */
export const DEV_STAGE = 'dev';

const CONTEXT_KEYS = [
  'stage',
  'minCapacity',
  'maxCapacity',
  'verificationSchedule',
  'alarmEmail',
  'jwtIssuer',
  'jwtAudience',
  'createBaseSchema',
  'idType',
  'eventRelayMinutes',
] as const;

const capacity = (min: number) =>
  z.coerce
    .number()
    .min(min)
    .max(256)
    .refine((n) => Number.isInteger(n * 2), 'must be a multiple of 0.5 ACU');

const flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);

const emptyAsUndefined = (value: unknown) => (value === '' || value === null ? undefined : value);

const schema = z
  .object({
    stage: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,19}$/, 'lowercase letters, digits and dashes, starting with a letter, at most 20 characters')
      .default(DEV_STAGE),
    minCapacity: z.preprocess(emptyAsUndefined, capacity(0).optional()),
    maxCapacity: z.preprocess(emptyAsUndefined, capacity(1).default(4)),
    verificationSchedule: z
      .string()
      .regex(/^(rate|cron)\(.+\)$/, "an EventBridge schedule expression such as 'rate(1 hour)' or 'cron(0 * * * ? *)'")
      .default('rate(1 hour)'),
    alarmEmail: z.preprocess(emptyAsUndefined, z.email().optional()),
    jwtIssuer: z.preprocess(emptyAsUndefined, z.url({ protocol: /^https$/ }).optional()),
    /** One audience, or several separated by commas (or a JSON array in cdk.json). */
    jwtAudience: z.preprocess(
      emptyAsUndefined,
      z
        .union([z.string().transform((s) => s.split(',').map((a) => a.trim()).filter(Boolean)), z.array(z.string().min(1))])
        .pipe(z.array(z.string().min(1)).min(1))
        .optional(),
    ),
    createBaseSchema: z.preprocess(emptyAsUndefined, flag.optional()),
    /** The type of the marketplace's ids (README: Id types): EMS_ID_TYPE of the API, the migrations and the verification. */
    idType: z.preprocess(emptyAsUndefined, z.enum(ID_TYPES, { error: `one of ${ID_TYPES.join(', ')}` }).default('uuid')),
    /** Minutes between scheduled event relay runs (API membership writes wake it at once besides). */
    eventRelayMinutes: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(1).max(1440).optional()),
  })
  .refine((c) => (c.jwtIssuer === undefined) === (c.jwtAudience === undefined), {
    message: 'set both jwtIssuer and jwtAudience (an external identity provider), or neither (the stack creates a Cognito user pool)',
    path: ['jwtIssuer'],
  })
  .transform((c) => {
    const isDev = c.stage === DEV_STAGE;
    return {
      stage: c.stage,
      isDev,
      /** 0 lets Aurora auto-pause when idle (dev); production keeps half an ACU warm. */
      minCapacity: c.minCapacity ?? (isDev ? 0 : 0.5),
      maxCapacity: c.maxCapacity,
      verificationSchedule: c.verificationSchedule,
      alarmEmail: c.alarmEmail,
      jwt: c.jwtIssuer && c.jwtAudience ? { issuer: c.jwtIssuer, audience: c.jwtAudience } : undefined,
      /** A brand-new dev cluster has no marketplace tables; production clusters must already hold them. */
      createBaseSchema: c.createBaseSchema ?? isDev,
      /** The form of the ids the API takes and answers; on an empty database, the base tables' ids. */
      idType: c.idType,
      /**
       * Every minute where events matter; hourly in dev, whose cluster could never auto-pause with a
       * query every minute (it pauses after 5 minutes without connections). API membership writes wake
       * the relay at once in both; the schedule publishes what plain SQL wrote and retries.
       */
      eventRelayMinutes: c.eventRelayMinutes ?? (isDev ? 60 : 1),
    };
  })
  .refine((c) => c.maxCapacity >= c.minCapacity, { message: 'maxCapacity must be at least minCapacity', path: ['maxCapacity'] });

export type InfraConfig = z.infer<typeof schema>;

export function parseInfraConfig(context: Record<string, unknown>): InfraConfig {
  const parsed = schema.safeParse(context);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'context'}: ${i.message}`).join('; ');
    throw new Error(`Invalid CDK context: ${problems}`);
  }
  return parsed.data;
}

/** Reads the app's context keys (cdk.json, `-c`, or the App's `context` prop) and validates them. */
export function readInfraConfig(node: Node): InfraConfig {
  const context: Record<string, unknown> = {};
  for (const key of CONTEXT_KEYS) {
    const value: unknown = node.tryGetContext(key);
    if (value !== undefined) context[key] = value;
  }
  return parseInfraConfig(context);
}
