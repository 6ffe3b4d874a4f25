/**
 * A production stage (stage 'prod', an external identity provider, an alarm
 * e-mail), synthesized once: what changes outside dev, and cdk-nag still
 * clean. Also: the context is validated before anything is built.
 */
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { createEmsApp } from '../../infra/ems-app';
import { SNAPSHOT_RESOURCE_TYPE } from '../../infra/constructs/pre-migration-snapshot';
import { MIGRATION_RESOURCE_TYPE } from '../../infra/constructs/schema-migrations';
import { hashMigrationSources } from '../../infra/migration-assets';
import { acknowledgements, nagFindings, onlyResource, resourcesOfType, synthesize, type SynthesizedApp } from './synth';

const ISSUER = 'https://login.example.com/realms/marketplace';
let app: SynthesizedApp;

beforeAll(() => {
  app = synthesize({
    stage: 'prod',
    jwtIssuer: ISSUER,
    jwtAudience: 'ems-api,ems-mobile',
    alarmEmail: 'ops@example.com',
    verificationSchedule: 'cron(0/15 * * * ? *)',
    maxCapacity: '16',
    idType: 'bigint',
  });
});

describe('a production stage', () => {
  it('protects the cluster from deletion, still snapshots it, and keeps 30 days of backups', () => {
    const [, cluster] = onlyResource(app.statefulTemplate, 'AWS::RDS::DBCluster');
    expect(cluster.DeletionPolicy).toBe('Snapshot');
    expect(cluster.Properties).toMatchObject({
      DeletionProtection: true,
      BackupRetentionPeriod: 30,
      ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 16 },
    });
    expect(app.stateful.terminationProtection).toBe(true);
    expect(app.stateful.stackName).toBe('EnhancedMessaging-prod-Data');
  });

  it('adds a reader that scales with the writer (Multi-AZ failover)', () => {
    const instances = resourcesOfType(app.statefulTemplate, 'AWS::RDS::DBInstance').map(([, i]) => i.Properties);
    expect(instances).toHaveLength(2);
    expect(instances.map((i) => i!.PromotionTier).sort()).toEqual([0, 1]);
  });

  it('does not create base tables on a production database', () => {
    const [, resource] = onlyResource(app.statefulTemplate, MIGRATION_RESOURCE_TYPE);
    expect(resource.Properties).toMatchObject({ CreateBaseSchema: 'false' });
  });

  it("passes the marketplace's id type (idType) as EMS_ID_TYPE to every API function, the migration Lambda and the scheduled verification", () => {
    const variablesOf = (template: SynthesizedApp['apiTemplate'], stack: typeof app.api | typeof app.stateful, fn: { node: { defaultChild?: unknown } }) => {
      const id = stack.getLogicalId(fn.node.defaultChild as never);
      return (template.toJSON().Resources[id].Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    };
    const functions = [...Object.values(app.api.httpApi.handlers), app.api.verification.handler].map((h) => h.function);
    expect(functions).toHaveLength(10);
    for (const fn of functions) expect(variablesOf(app.apiTemplate, app.api, fn).EMS_ID_TYPE, fn.node.path).toBe('bigint');
    expect(variablesOf(app.statefulTemplate, app.stateful, app.stateful.migrations.handler.function).EMS_ID_TYPE).toBe('bigint');
  });

  it('snapshots the cluster before the migrations run, from a Lambda outside the VPC that may only snapshot this cluster and read as the verifier', () => {
    const [snapshotId, snapshot] = onlyResource(app.statefulTemplate, SNAPSHOT_RESOURCE_TYPE);
    const [clusterId] = onlyResource(app.statefulTemplate, 'AWS::RDS::DBCluster');
    expect(snapshot.Properties).toMatchObject({ MigrationsHash: hashMigrationSources(), ClusterIdentifier: { Ref: clusterId } });
    const [, migrations] = onlyResource(app.statefulTemplate, MIGRATION_RESOURCE_TYPE);
    expect(migrations.DependsOn).toContain(snapshotId);

    const handler = app.stateful.preMigrationSnapshot!.handler;
    const [, fn] = resourcesOfType(app.statefulTemplate, 'AWS::Lambda::Function').find(([id]) => id === app.stateful.getLogicalId(handler.function.node.defaultChild as never))!;
    expect(fn.Properties!.VpcConfig).toBeUndefined();
    const roleId = app.stateful.getLogicalId(handler.role.node.defaultChild as never);
    const statements = resourcesOfType(app.statefulTemplate, 'AWS::IAM::Policy')
      .filter(([, p]) => JSON.stringify(p.Properties!.Roles).includes(roleId))
      .flatMap(([, p]) => (p.Properties!.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] }).Statement);
    const actions = statements.flatMap((st) => (Array.isArray(st.Action) ? st.Action : [st.Action])).filter((a) => !a.startsWith('logs:')).sort();
    expect(actions).toEqual(
      ['rds-data:ExecuteStatement', 'rds:AddTagsToResource', 'rds:CreateDBClusterSnapshot', 'rds:DescribeDBClusterSnapshots', 'secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'].sort(),
    );
    const verifierSecret = app.stateful.getLogicalId(app.stateful.database.verifierUserSecret.node.defaultChild as never);
    const secretStatement = statements.find((st) => JSON.stringify(st.Action).includes('secretsmanager'))!;
    expect(secretStatement.Resource).toEqual({ Ref: verifierSecret });
    for (const st of statements.filter((x) => JSON.stringify(x.Action).includes('rds:'))) {
      expect(JSON.stringify(st.Resource)).toContain(':cluster-snapshot:');
      expect(JSON.stringify(st.Resource)).toContain('-pre-*');
    }
  });

  it('uses the external identity provider and creates no user pool', () => {
    app.apiTemplate.resourceCountIs('AWS::Cognito::UserPool', 0);
    app.apiTemplate.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      JwtConfiguration: { Issuer: ISSUER, Audience: ['ems-api', 'ems-mobile'] },
    });
  });

  it('runs the verification on the configured schedule and e-mails the alarms, dead-lettering undeliverable ones', () => {
    app.apiTemplate.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'cron(0/15 * * * ? *)' });
    const queueId = app.api.getLogicalId(app.api.verification.deadLetters.node.defaultChild as never);
    app.apiTemplate.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [queueId, 'Arn'] } },
    });
  });

  it('runs the event relay every minute, and alarms on an event unpublished for 10 minutes', () => {
    const fnId = app.api.getLogicalId(app.api.events.handler.function.node.defaultChild as never);
    app.apiTemplate.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [fnId, 'Arn'] } })],
    });
    const alarm = app.apiTemplate.toJSON().Resources[app.api.getLogicalId(app.api.events.backlogAlarm.node.defaultChild as never)];
    expect(alarm.Properties).toMatchObject({ MetricName: 'OldestPendingEventAge', Threshold: 600 });
  });

  it('passes cdk-nag with no acknowledgement of deletion protection or the user pool tier', () => {
    for (const { pack, report } of nagFindings(app)) {
      expect(report.violations.map((v) => `${pack} ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
    }
    const ids = acknowledgements(app.app).map((a) => a.id);
    expect(ids).not.toContain('AwsSolutions-RDS10');
    expect(ids).not.toContain('AwsSolutions-COG8');
  });
});

describe('context validation', () => {
  it.each([
    [{ stage: 'Prod' }, 'stage'],
    [{ minCapacity: '0.3' }, 'minCapacity: must be a multiple of 0.5 ACU'],
    [{ minCapacity: 8, maxCapacity: 4 }, 'maxCapacity must be at least minCapacity'],
    [{ maxCapacity: 'lots' }, 'maxCapacity'],
    [{ verificationSchedule: 'every hour' }, 'verificationSchedule'],
    [{ alarmEmail: 'ops' }, 'alarmEmail'],
    [{ jwtIssuer: ISSUER }, 'set both jwtIssuer and jwtAudience'],
    [{ jwtIssuer: 'http://insecure.example.com', jwtAudience: 'a' }, 'jwtIssuer'],
    [{ createBaseSchema: 'yes' }, 'createBaseSchema'],
    [{ idType: 'serial' }, 'idType: one of uuid, bigint, integer'],
    [{ eventRelayMinutes: '0' }, 'eventRelayMinutes'],
    [{ eventRelayMinutes: 'often' }, 'eventRelayMinutes'],
  ])('refuses %j before building anything', (context, message) => {
    expect(() => createEmsApp(context)).toThrow(/Invalid CDK context/);
    expect(() => createEmsApp(context)).toThrow(message);
  });
});
