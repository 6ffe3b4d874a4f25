/**
 * cdk-nag (v3: a CDK policy-validation plugin) for the whole app, and the one
 * way this app acknowledges a finding: on the narrowest construct, with a
 * reason that says why this resource is fine as it is.
 */
import { Validations, type App } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks, type NagPack } from 'cdk-nag';
import type { IConstruct } from 'constructs';

export function nagPacks(app: App): NagPack[] {
  return [new AwsSolutionsChecks(app), new ServerlessChecks(app)];
}

/** Registers the packs: synthesis fails on any unacknowledged error or warning. */
export function applyNagPacks(app: App): NagPack[] {
  const packs = nagPacks(app);
  Validations.of(app).addPlugins(...packs);
  return packs;
}

const MIN_REASON_LENGTH = 40;

/** Acknowledges one cdk-nag finding (`Rule` or `Rule[Finding]`) on `scope` and everything under it. */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  if (reason.trim().length < MIN_REASON_LENGTH) {
    throw new Error(`The acknowledgement of ${id} on ${scope.node.path} needs a specific reason, not "${reason}"`);
  }
  Validations.of(scope).acknowledge({ id, reason });
}
