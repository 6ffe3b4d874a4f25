/**
 * Builds the whole CDK app: configuration (validated once), the stateful and
 * the stateless stack, and the cdk-nag packs. Used by infra/app.ts (`cdk synth`)
 * and by the infra tests.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { App, type AppProps } from 'aws-cdk-lib';
import type { NagPack } from 'cdk-nag';
import { ApiStack } from './api-stack';
import { readInfraConfig, type InfraConfig } from './config';
import { applyNagPacks } from './nag';
import { REPO_ROOT } from './paths';
import { StatefulStack } from './stateful-stack';

export interface EmsApp {
  readonly app: App;
  readonly config: InfraConfig;
  readonly stateful: StatefulStack;
  readonly api: ApiStack;
  readonly nagPacks: NagPack[];
}

export function stackNames(stage: string) {
  return { stateful: `EnhancedMessaging-${stage}-Data`, api: `EnhancedMessaging-${stage}-Api` };
}

export interface BuildOptions {
  /** Register the cdk-nag packs (default true; only tests that check something else turn them off). */
  readonly nag?: boolean;
}

export function buildEmsApp(app: App = new App(), options: BuildOptions = {}): EmsApp {
  const config = readInfraConfig(app.node);
  const names = stackNames(config.stage);
  const description = (part: string) => `Enhanced Messaging System (${config.stage}): ${part}`;

  // Environment-agnostic stacks: synth needs no credentials and makes no lookups.
  const stateful = new StatefulStack(app, names.stateful, {
    config,
    description: description('network, Aurora PostgreSQL, migrations'),
  });
  const api = new ApiStack(app, names.api, {
    config,
    cluster: stateful.database.cluster,
    apiSecret: stateful.database.apiUserSecret,
    verificationSecret: stateful.database.verifierUserSecret,
    relaySecret: stateful.database.relayUserSecret,
    description: description('HTTP API, handlers, scheduled verification'),
  });

  const nagPacks = options.nag === false ? [] : applyNagPacks(app);
  return { app, config, stateful, api, nagPacks };
}

/** The context of cdk.json (feature flags), which the CLI passes to infra/app.ts. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> };
  return cdkJson.context ?? {};
}

/** For tests: the app `cdk synth` builds, with cdk.json's context plus `context`. */
export function createEmsApp(context: Record<string, unknown> = {}, props: AppProps = {}, options: BuildOptions = {}): EmsApp {
  return buildEmsApp(new App({ ...props, context: { ...cdkJsonContext(), ...props.context, ...context } }), options);
}
