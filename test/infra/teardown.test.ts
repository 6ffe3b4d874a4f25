/**
 * What `cdk destroy` leaves behind, per stage, read from the templates: in dev,
 * nothing but the database's final snapshot (every other resource is deleted,
 * nothing has deletion protection, every function logs to a log group of the
 * stack, deleted with it); in a production stage the cluster is snapshotted and
 * protected, and the users, the PostgreSQL log and the log groups of the
 * functions that are not ours are kept.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { resourcesOfType, synthesize, type SynthesizedApp } from './synth';

const STAGES = {
  dev: {},
  // A production stage with the default Cognito user pool (no external identity provider).
  prod: { stage: 'prod' },
} as const;
const apps: Partial<Record<keyof typeof STAGES, SynthesizedApp>> = {};

beforeAll(() => {
  for (const [stage, context] of Object.entries(STAGES)) apps[stage as keyof typeof STAGES] = synthesize(context, { nag: false });
});

type Template = SynthesizedApp['apiTemplate'];
type Resources = Record<string, { Type: string; Properties?: Record<string, any>; DeletionPolicy?: string; UpdateReplacePolicy?: string }>;
const templatesOf = (app: SynthesizedApp): [string, Template][] => [
  ['Data', app.statefulTemplate],
  ['Api', app.apiTemplate],
];
/** Every resource whose deletion policy is not Delete (CloudFormation's default), as "Stack Type: Policy". */
function keptOnDestroy(app: SynthesizedApp): string[] {
  return templatesOf(app).flatMap(([stack, template]) =>
    Object.values(template.toJSON().Resources as Resources)
      .filter((r) => (r.DeletionPolicy ?? 'Delete') !== 'Delete')
      .map((r) => `${stack} ${r.Type}: ${r.DeletionPolicy}`),
  );
}

describe.each(Object.keys(STAGES) as (keyof typeof STAGES)[])('cdk destroy of the %s stage', (stage) => {
  it('gives every Lambda function of the stacks a log group of the stack (none created by Lambda itself)', () => {
    const app = apps[stage]!;
    for (const [, template] of templatesOf(app)) {
      const resources = template.toJSON().Resources as Resources;
      const logGroups = new Map(resourcesOfType(template, 'AWS::Logs::LogGroup').map(([id, r]) => [id, r.Properties?.LogGroupName as string | undefined]));
      for (const [id, fn] of resourcesOfType(template, 'AWS::Lambda::Function')) {
        const ref = (fn.Properties!.LoggingConfig as { LogGroup?: { Ref?: string } } | undefined)?.LogGroup?.Ref;
        expect(ref && logGroups.has(ref), `${id} logs to a log group of the stack`).toBe(true);
      }
      // The rotation function lives in a SAR nested stack: its log group, by the function's name.
      for (const [id, application] of resourcesOfType(template, 'AWS::Serverless::Application')) {
        const functionName = (application.Properties!.Parameters as { functionName: string }).functionName;
        expect([...logGroups.values()], id).toContain(`/aws/lambda/${functionName}`);
        const [logGroupId] = [...logGroups].find(([, name]) => name === `/aws/lambda/${functionName}`)!;
        expect((resources[id] as { DependsOn?: string[] }).DependsOn, 'the log group exists before the function').toContain(logGroupId);
      }
    }
  });

  if (stage === 'dev') {
    it('leaves nothing but the final snapshot of the cluster', () => {
      expect(keptOnDestroy(apps.dev!)).toEqual(['Data AWS::RDS::DBCluster: Snapshot']);
    });

    it('protects nothing from deletion: stacks, cluster, user pool', () => {
      const app = apps.dev!;
      expect(app.stateful.terminationProtection).toBe(false);
      expect(app.api.terminationProtection ?? false).toBe(false);
      for (const [, cluster] of resourcesOfType(app.statefulTemplate, 'AWS::RDS::DBCluster')) expect(cluster.Properties!.DeletionProtection).toBe(false);
      for (const [, pool] of resourcesOfType(app.apiTemplate, 'AWS::Cognito::UserPool')) expect(pool.Properties!.DeletionProtection).toBe('INACTIVE');
      // The one key (the alarm topic's) is deleted after its shortest pending window.
      for (const [, key] of resourcesOfType(app.apiTemplate, 'AWS::KMS::Key')) expect(key.Properties!.PendingWindowInDays).toBe(7);
    });
  } else {
    it('snapshots the cluster and keeps the users, the PostgreSQL log and the logs of the functions that are not ours', () => {
      expect(keptOnDestroy(apps.prod!).sort()).toEqual(
        [
          'Api AWS::Cognito::UserPool: Retain',
          'Data AWS::Logs::LogGroup: Retain',
          'Data AWS::Logs::LogGroup: Retain',
          'Data AWS::Logs::LogGroup: Retain',
          // The three login users' rotation functions (SAR applications).
          'Data AWS::Logs::LogGroup: Retain',
          'Data AWS::Logs::LogGroup: Retain',
          'Data AWS::Logs::LogGroup: Retain',
          // The events bus: consumers attach their rules to it.
          'Api AWS::Events::EventBus: Retain',
          'Data AWS::RDS::DBCluster: Snapshot',
        ].sort(),
      );
      const app = apps.prod!;
      expect(app.stateful.terminationProtection).toBe(true);
      for (const [, cluster] of resourcesOfType(app.statefulTemplate, 'AWS::RDS::DBCluster')) expect(cluster.Properties!.DeletionProtection).toBe(true);
      for (const [, pool] of resourcesOfType(app.apiTemplate, 'AWS::Cognito::UserPool')) expect(pool.Properties!.DeletionProtection).toBe('ACTIVE');
    });
  }
});
