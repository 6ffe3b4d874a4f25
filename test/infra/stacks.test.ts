/**
 * The CDK app with its defaults (stage 'dev', no context), synthesized once:
 * the database, the migration custom resource, the API built from the route
 * table, the scheduled verification with its alarm, least-privilege IAM, and
 * cdk-nag (AwsSolutions + Serverless) with zero unacknowledged findings.
 */
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '../../functions/http/routes';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../infra/constructs/project-function';
import { EVENTS_PENDING_FILTER_PATTERN } from '../../infra/constructs/event-relay';
import { EVENTS_PENDING_LOG_FIELD } from '../../functions/events/wake-up';
import { MIGRATION_RESOURCE_TYPE } from '../../infra/constructs/schema-migrations';
import { DEFAULT_TIME_LIMITS } from '../../functions/handlers/migrate';
import { ENGINE_VERSION } from '../../infra/constructs/messaging-database';
import { routeKeyOf } from '../../infra/constructs/http-api';
import { hashMigrationSources, migrationChecksums } from '../../infra/migration-assets';
import { fromRoot } from '../../infra/paths';
import { acknowledgements, nagFindings, onlyResource, resourcesOfType, synthesize, type SynthesizedApp } from './synth';

let app: SynthesizedApp;

beforeAll(() => {
  app = synthesize();
});

const logicalIdsOf = (template: SynthesizedApp['apiTemplate'], type: string) => resourcesOfType(template, type).map(([id]) => id);

describe('configuration defaults', () => {
  it('uses the dev defaults when no context is given', () => {
    expect(app.config).toMatchObject({
      stage: 'dev',
      minCapacity: 0,
      maxCapacity: 4,
      verificationSchedule: 'rate(1 hour)',
      alarmEmail: undefined,
      jwt: undefined,
      createBaseSchema: true,
    });
    expect(app.stateful.stackName).toBe('EnhancedMessaging-dev-Data');
    expect(app.api.stackName).toBe('EnhancedMessaging-dev-Api');
    expect(app.stateful.terminationProtection).toBe(false);
  });
});

describe('Aurora PostgreSQL Serverless v2', () => {
  it('runs the newest Aurora PostgreSQL 17 with the Data API, encryption, IAM auth and exported logs', () => {
    expect(ENGINE_VERSION.auroraPostgresMajorVersion).toBe('17');
    app.statefulTemplate.hasResourceProperties('AWS::RDS::DBCluster', {
      Engine: 'aurora-postgresql',
      EngineVersion: ENGINE_VERSION.auroraPostgresFullVersion,
      EnableHttpEndpoint: true,
      StorageEncrypted: true,
      EnableIAMDatabaseAuthentication: true,
      EnableCloudwatchLogsExports: ['postgresql'],
      DatabaseName: 'ems',
    });
  });

  it('scales from 0 ACU (auto-pause) to 4 ACU in dev, with one serverless writer not publicly accessible', () => {
    app.statefulTemplate.hasResourceProperties('AWS::RDS::DBCluster', {
      ServerlessV2ScalingConfiguration: { MinCapacity: 0, MaxCapacity: 4 },
    });
    const instances = resourcesOfType(app.statefulTemplate, 'AWS::RDS::DBInstance');
    expect(instances).toHaveLength(1);
    expect(instances[0]![1].Properties).toMatchObject({ DBInstanceClass: 'db.serverless', PubliclyAccessible: false });
  });

  it('keeps a final snapshot on deletion, without deletion protection in dev, with 7 days of backups', () => {
    const [, cluster] = onlyResource(app.statefulTemplate, 'AWS::RDS::DBCluster');
    expect(cluster.DeletionPolicy).toBe('Snapshot');
    expect(cluster.UpdateReplacePolicy).toBe('Snapshot');
    expect(cluster.Properties).toMatchObject({ DeletionProtection: false, BackupRetentionPeriod: 7 });
  });

  it('refuses connections without TLS', () => {
    app.statefulTemplate.hasResourceProperties('AWS::RDS::DBClusterParameterGroup', {
      Family: 'aurora-postgresql17',
      Parameters: { 'rds.force_ssl': '1' },
    });
  });

  it('rotates every secret every 30 days: the master single-user, each login user multi-user (in use while it rotates)', () => {
    const schedules = resourcesOfType(app.statefulTemplate, 'AWS::SecretsManager::RotationSchedule');
    expect(schedules).toHaveLength(4);
    for (const [, schedule] of schedules) expect(schedule.Properties!.RotationRules).toEqual({ ScheduleExpression: 'rate(30 days)' });
    // Each application's id is looked up per partition in a mapping of the template.
    const mappings = app.statefulTemplate.toJSON().Mappings as Record<string, unknown>;
    const applications = resourcesOfType(app.statefulTemplate, 'AWS::Serverless::Application').map(([, a]) => {
      const mapping = (a.Properties!.Location as { ApplicationId: { 'Fn::FindInMap': [string] } }).ApplicationId['Fn::FindInMap'][0];
      return JSON.stringify(mappings[mapping]);
    });
    expect(applications.filter((a) => a.includes('SecretsManagerRDSPostgreSQLRotationSingleUser'))).toHaveLength(1);
    expect(applications.filter((a) => a.includes('SecretsManagerRDSPostgreSQLRotationMultiUser'))).toHaveLength(3);
  });

  it('gives each login user a secret of its own, with the master secret to rotate it', () => {
    const { database } = app.stateful;
    const secretOf = (secret: unknown) => app.stateful.getLogicalId((secret as { node: { defaultChild: never } }).node.defaultChild);
    for (const [secret, username] of [
      [database.apiUserSecret, 'ems_api'],
      [database.verifierUserSecret, 'ems_verifier'],
      [database.relayUserSecret, 'ems_relay'],
    ] as const) {
      const attachment = app.statefulTemplate.toJSON().Resources[secretOf(secret)];
      expect(attachment.Type).toBe('AWS::SecretsManager::SecretTargetAttachment');
      const generated = app.statefulTemplate.toJSON().Resources[(attachment.Properties.SecretId as { Ref: string }).Ref];
      const template = JSON.stringify(generated.Properties.GenerateSecretString.SecretStringTemplate);
      expect(template).toContain(`\\"username\\":\\"${username}\\"`);
      expect(template).toContain('masterarn');
    }
  });

  it('lives in isolated subnets: no NAT gateway, no internet gateway, flow logs on', () => {
    app.statefulTemplate.resourceCountIs('AWS::EC2::NatGateway', 0);
    app.statefulTemplate.resourceCountIs('AWS::EC2::InternetGateway', 0);
    app.statefulTemplate.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'ALL', LogDestinationType: 'cloud-watch-logs' });
    app.statefulTemplate.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      ServiceName: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith(['.secretsmanager'])]) }),
      PrivateDnsEnabled: true,
      VpcEndpointType: 'Interface',
    });
  });
});

describe('migration custom resource', () => {
  const migrationFunction = () => {
    const fns = resourcesOfType(app.statefulTemplate, 'AWS::Lambda::Function').filter(([, f]) =>
      String(f.Properties?.Description ?? '').startsWith('Runs the messaging migrations'),
    );
    expect(fns).toHaveLength(1);
    return fns[0]!;
  };

  it('takes no pre-migration snapshot in dev (disposable data; every other stage does)', () => {
    app.statefulTemplate.resourceCountIs('Custom::PreMigrationSnapshot', 0);
  });

  it('carries the hash of the migration sources and the base-schema flag (true in dev)', () => {
    const [, resource] = onlyResource(app.statefulTemplate, MIGRATION_RESOURCE_TYPE);
    expect(resource.Properties).toMatchObject({ MigrationsHash: hashMigrationSources(), CreateBaseSchema: 'true' });
    expect(hashMigrationSources()).toMatch(/^[0-9a-f]{64}$/);
  });

  it('runs after the cluster, its writer, the master secret and its rotation and the Secrets Manager endpoint exist; the login users rotate after it', () => {
    const [migrationsId, resource] = onlyResource(app.statefulTemplate, MIGRATION_RESOURCE_TYPE);
    const dependsOn = resource.DependsOn as string[];
    const resources = app.statefulTemplate.toJSON().Resources as Record<string, { DependsOn?: string[] }>;
    const idOf = (secret: unknown) => app.stateful.getLogicalId((secret as { node: { defaultChild: never } }).node.defaultChild);
    for (const id of [
      ...logicalIdsOf(app.statefulTemplate, 'AWS::RDS::DBCluster'),
      ...logicalIdsOf(app.statefulTemplate, 'AWS::RDS::DBInstance'),
      ...logicalIdsOf(app.statefulTemplate, 'AWS::EC2::VPCEndpoint'),
      idOf(app.stateful.database.secret),
    ]) {
      expect(dependsOn, id).toContain(id);
    }
    const schedules = resourcesOfType(app.statefulTemplate, 'AWS::SecretsManager::RotationSchedule');
    const [masterSchedule] = schedules.find(([, r]) => JSON.stringify(r.Properties!.SecretId) === JSON.stringify({ Ref: idOf(app.stateful.database.secret) }))!;
    expect(dependsOn).toContain(masterSchedule);
    // A login user's first rotation clones the user the custom resource makes: its rotation function
    // (which each schedule names) comes after the resource.
    for (const rotation of app.stateful.database.loginUserRotations) {
      const applicationId = app.stateful.getLogicalId(rotation.node.defaultChild as never);
      expect(resources[applicationId]!.DependsOn, applicationId).toContain(migrationsId);
      const schedule = schedules.filter(([, r]) => JSON.stringify(r.Properties!.RotationLambdaARN).includes(applicationId));
      expect(schedule, applicationId).toHaveLength(1);
    }
  });

  it('makes the login users on deploy: reads their secrets, and a changed secret is a change of the resource', () => {
    const [, resource] = onlyResource(app.statefulTemplate, MIGRATION_RESOURCE_TYPE);
    const idOf = (secret: unknown) => app.stateful.getLogicalId((secret as { node: { defaultChild: never } }).node.defaultChild);
    const { database } = app.stateful;
    expect(resource.Properties).toMatchObject({
      ApiUserSecretArn: { Ref: idOf(database.apiUserSecret) },
      VerifierUserSecretArn: { Ref: idOf(database.verifierUserSecret) },
    });
    const [, fn] = migrationFunction();
    expect((fn.Properties!.Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({
      API_USER_SECRET_ARN: { Ref: idOf(database.apiUserSecret) },
      VERIFIER_USER_SECRET_ARN: { Ref: idOf(database.verifierUserSecret) },
    });
  });

  it('is served by the Provider framework whose onEvent handler is the migration Lambda', () => {
    const [, resource] = onlyResource(app.statefulTemplate, MIGRATION_RESOURCE_TYPE);
    const [frameworkId] = (resource.Properties!.ServiceToken as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'];
    const framework = app.statefulTemplate.toJSON().Resources[frameworkId];
    const [migrationId] = migrationFunction();
    expect(JSON.stringify(framework.Properties.Environment)).toContain(migrationId);
  });

  it('completes asynchronously: the same Lambda answers onEvent and isComplete, polled every 10 s by the waiter for up to an hour', () => {
    const resources = app.statefulTemplate.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, any> }>;
    const [migrationId] = migrationFunction();
    const framework = (role: string) =>
      Object.entries(resources).find(([, r]) => r.Type === 'AWS::Lambda::Function' && r.Properties.Handler === `framework.${role}`)!;
    const [, isComplete] = framework('isComplete');
    expect(isComplete.Properties.Environment.Variables).toMatchObject({
      USER_ON_EVENT_FUNCTION_ARN: { 'Fn::GetAtt': [migrationId, 'Arn'] },
      USER_IS_COMPLETE_FUNCTION_ARN: { 'Fn::GetAtt': [migrationId, 'Arn'] },
    });
    const [, waiter] = onlyResource(app.statefulTemplate, 'AWS::StepFunctions::StateMachine');
    const definition = JSON.stringify(waiter.Properties!.DefinitionString);
    expect(definition).toContain('\\"IntervalSeconds\\":10');
    expect(definition).toContain('\\"MaxAttempts\\":360');
    expect(waiter.Properties!.LoggingConfiguration).toMatchObject({ Level: 'ALL', IncludeExecutionData: false });
    const [, resource] = onlyResource(app.statefulTemplate, MIGRATION_RESOURCE_TYPE);
    expect(Number(resource.Properties!.ServiceTimeout)).toBe(3600);
  });

  it('gives each slice 9 minutes of work, each statement 4 more, each deploy 45 minutes, all inside the Lambda and CloudFormation limits', () => {
    const [, fn] = migrationFunction();
    const variables = (fn.Properties!.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(variables).toMatchObject({
      EMS_MIGRATIONS_HASH: hashMigrationSources(),
      MIGRATION_SLICE_SECONDS: '540',
      MIGRATION_DEPLOY_MINUTES: '45',
      MIGRATION_STATEMENT_TIMEOUT: '4min',
    });
    const timeout = fn.Properties!.Timeout as number;
    // The handler's defaults are the stack's settings (tests and local runs behave as deployed).
    expect(DEFAULT_TIME_LIMITS).toEqual({ sliceMs: 540_000, deployMs: 45 * 60_000, reserveMs: timeout * 1000 - 540_000 });
    // A slice, the statement still running at its end, and two minutes for the verification fit in the Lambda.
    expect(540 + 4 * 60 + 120).toBeLessThanOrEqual(timeout);
    // The last slice of a deploy starts before 45 minutes and ends inside CloudFormation's hour.
    expect(45 * 60 + timeout).toBeLessThanOrEqual(3600);
  });

  it('bundles functions/handlers/migrate.ts into a 15-minute, 1 GB Lambda inside the VPC', () => {
    const [, fn] = migrationFunction();
    expect(app.stateful.migrations.handler.entry).toBe(fromRoot('functions/handlers/migrate.ts'));
    expect(fn.Properties).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Timeout: 900,
      MemorySize: 1024,
      VpcConfig: { SubnetIds: expect.any(Array), SecurityGroupIds: expect.any(Array) },
    });
  });

  it('gives the migration Lambda the secret ARN, the RDS CAs and the migration checksums, and no DATABASE_URL', () => {
    const [, fn] = migrationFunction();
    const variables = (fn.Properties!.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(variables).toMatchObject({
      DATABASE_SECRET_ARN: { Ref: expect.stringMatching(/SecretAttachment/) },
      NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem',
      EMS_MIGRATION_CHECKSUMS: JSON.stringify(migrationChecksums()),
      EMS_ID_TYPE: 'uuid',
    });
    expect(variables).not.toHaveProperty('DATABASE_URL');
  });

  it('lets the migration Lambda reach only PostgreSQL on the cluster and HTTPS on the endpoint', () => {
    const sg = app.stateful.migrations.handler.function.connections.securityGroups[0]!;
    const sgId = app.stateful.getLogicalId(sg.node.defaultChild as never);
    const [, group] = resourcesOfType(app.statefulTemplate, 'AWS::EC2::SecurityGroup').find(([id]) => id === sgId)!;
    // No 0.0.0.0/0 egress: only the egress rules below.
    expect(JSON.stringify(group.Properties!.SecurityGroupEgress ?? [])).not.toContain('0.0.0.0/0');
    const [clusterId] = onlyResource(app.statefulTemplate, 'AWS::RDS::DBCluster');
    const clusterSg = app.stateful.getLogicalId(app.stateful.database.cluster.connections.securityGroups[0]!.node.defaultChild as never);
    const endpointSg = app.stateful.getLogicalId(app.stateful.database.secretsManagerEndpoint.connections.securityGroups[0]!.node.defaultChild as never);
    const egress = resourcesOfType(app.statefulTemplate, 'AWS::EC2::SecurityGroupEgress')
      .filter(([, rule]) => JSON.stringify(rule.Properties!.GroupId).includes(sgId))
      .map(([, rule]) => rule.Properties);
    expect(egress).toHaveLength(2);
    expect(egress).toContainEqual(
      expect.objectContaining({
        IpProtocol: 'tcp',
        FromPort: { 'Fn::GetAtt': [clusterId, 'Endpoint.Port'] },
        DestinationSecurityGroupId: { 'Fn::GetAtt': [clusterSg, 'GroupId'] },
      }),
    );
    expect(egress).toContainEqual(
      expect.objectContaining({ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, DestinationSecurityGroupId: { 'Fn::GetAtt': [endpointSg, 'GroupId'] } }),
    );
  });
});

describe('HTTP API from the route table', () => {
  const api = () => app.apiTemplate.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, any> }>;

  it('has one route per entry of ROUTES, each integrated with its own Lambda built from the entry', () => {
    const resources = api();
    const routes = Object.values(resources).filter((r) => r.Type === 'AWS::ApiGatewayV2::Route');
    expect(routes.map((r) => r.Properties.RouteKey).sort()).toEqual(ROUTES.map(routeKeyOf).sort());
    const functionIds = new Set<string>();
    for (const route of ROUTES) {
      const cfnRoute = routes.find((r) => r.Properties.RouteKey === routeKeyOf(route))!;
      const integrationId = String(cfnRoute.Properties.Target['Fn::Join'][1][1].Ref);
      const uri = resources[integrationId]!.Properties.IntegrationUri;
      const functionId = uri['Fn::GetAtt'][0] as string;
      expect(resources[functionId]!.Properties.Description.startsWith(routeKeyOf(route))).toBe(true);
      expect(app.api.httpApi.handlers[route.id]!.entry).toBe(fromRoot(route.entry));
      functionIds.add(functionId);
    }
    expect(functionIds.size).toBe(ROUTES.length);
  });

  it('puts the JWT authorizer on every non-public route and none on public ones', () => {
    const resources = api();
    const routes = Object.values(resources).filter((r) => r.Type === 'AWS::ApiGatewayV2::Route');
    const [authorizerId] = Object.entries(resources).find(([, r]) => r.Type === 'AWS::ApiGatewayV2::Authorizer')!;
    for (const route of ROUTES) {
      const cfnRoute = routes.find((r) => r.Properties.RouteKey === routeKeyOf(route))!;
      if (route.access === 'public') {
        expect(cfnRoute.Properties.AuthorizationType, route.id).toBe('NONE');
        expect(cfnRoute.Properties.AuthorizerId, route.id).toBeUndefined();
      } else {
        expect(cfnRoute.Properties.AuthorizationType, route.id).toBe('JWT');
        expect(cfnRoute.Properties.AuthorizerId, route.id).toEqual({ Ref: authorizerId });
      }
    }
  });

  it('without jwtIssuer/jwtAudience, trusts the Cognito user pool it creates (issuer) and its app client (audience)', () => {
    const [poolId] = onlyResource(app.apiTemplate, 'AWS::Cognito::UserPool');
    const [clientId] = onlyResource(app.apiTemplate, 'AWS::Cognito::UserPoolClient');
    app.apiTemplate.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: { Issuer: { 'Fn::GetAtt': [poolId, 'ProviderURL'] }, Audience: [{ Ref: clientId }] },
    });
    // MFA is optional in dev only (the token command signs test users in); test/infra/token-command.test.ts.
    app.apiTemplate.hasResourceProperties('AWS::Cognito::UserPool', {
      MfaConfiguration: 'OPTIONAL',
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
    });
  });

  it('logs every request as JSON to CloudWatch and throttles the default stage', () => {
    const [, stage] = onlyResource(app.apiTemplate, 'AWS::ApiGatewayV2::Stage');
    expect(stage.Properties).toMatchObject({
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
    });
    const settings = stage.Properties!.AccessLogSettings as { DestinationArn: { 'Fn::GetAtt': [string, string] }; Format: string };
    expect(JSON.parse(settings.Format)).toMatchObject({ requestId: '$context.requestId', status: '$context.status', routeKey: '$context.routeKey' });
    const [logGroupId] = settings.DestinationArn['Fn::GetAtt'];
    expect(app.apiTemplate.toJSON().Resources[logGroupId].Type).toBe('AWS::Logs::LogGroup');
  });

  it('runs every handler on Node.js 24 arm64 with its own log group (one month), no X-Ray tracing, the Data API settings and no DATABASE_URL', () => {
    const resources = api();
    for (const [name, handler] of Object.entries(app.api.httpApi.handlers)) {
      const id = app.api.getLogicalId(handler.function.node.defaultChild as never);
      const fn = resources[id]!.Properties;
      expect(fn, name).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        LoggingConfig: { LogGroup: { Ref: expect.any(String) } },
      });
      // Off on purpose (infra/constructs/project-function.ts): Powertools Tracer does not fit the bundle budget.
      expect(fn.TracingConfig, name).toBeUndefined();
      expect(fn.VpcConfig, name).toBeUndefined();
      const variables = fn.Environment.Variables as Record<string, unknown>;
      expect(Object.keys(variables).sort(), name).toEqual(
        [
          'DATA_API_DATABASE',
          'DATA_API_RESOURCE_ARN',
          'DATA_API_SECRET_ARN',
          'EMS_ID_TYPE',
          'JWT_IDENTITY_CLAIM',
          'POWERTOOLS_METRICS_NAMESPACE',
          'POWERTOOLS_SERVICE_NAME',
          'SERVICE_NAME',
        ].sort(),
      );
      // The default id type (context key idType; a stage's own: stages.test.ts).
      expect(variables).toMatchObject({ DATA_API_DATABASE: 'ems', JWT_IDENTITY_CLAIM: 'email', POWERTOOLS_SERVICE_NAME: SERVICE_NAME, EMS_ID_TYPE: 'uuid' });
      const logGroup = resources[fn.LoggingConfig.LogGroup.Ref]!;
      expect(logGroup.Properties.RetentionInDays, name).toBe(30);
    }
  });
});

describe('least privilege', () => {
  type Statement = { Action: string | string[]; Resource: unknown; Effect: string };
  const statementsOf = (template: SynthesizedApp['apiTemplate']) =>
    resourcesOfType(template, 'AWS::IAM::Policy').flatMap(([id, policy]) =>
      ((policy.Properties!.PolicyDocument as { Statement: Statement[] }).Statement ?? []).map((s) => ({ policy: id, ...s })),
    );
  const actionsOf = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
  const exportValue = (importValue: unknown): unknown => {
    const name = (importValue as { 'Fn::ImportValue': string })['Fn::ImportValue'];
    const outputs = app.statefulTemplate.toJSON().Outputs as Record<string, { Value: unknown; Export?: { Name: string } }>;
    return Object.values(outputs).find((o) => o.Export?.Name === name)?.Value;
  };

  it('lets each function run single statements on this cluster as its own login user: the routes as the API user, the verification as the verifier, the relay as the relay', () => {
    const [clusterId] = onlyResource(app.statefulTemplate, 'AWS::RDS::DBCluster');
    const idOf = (secret: unknown) => app.stateful.getLogicalId((secret as { node: { defaultChild: never } }).node.defaultChild);
    const apiSecret = idOf(app.stateful.database.apiUserSecret);
    const verifierSecret = idOf(app.stateful.database.verifierUserSecret);
    const relaySecret = idOf(app.stateful.database.relayUserSecret);
    const resources = app.apiTemplate.toJSON().Resources as Record<string, { Properties: { Roles: unknown } }>;
    const roleOf = (fn: { role: { node: { defaultChild?: unknown } } }) => app.api.getLogicalId(fn.role.node.defaultChild as never);
    const statements = statementsOf(app.apiTemplate);
    const ownedBy = (s: (typeof statements)[number], fn: { role: { node: { defaultChild?: unknown } } }) =>
      JSON.stringify(resources[s.policy]!.Properties.Roles).includes(roleOf(fn));
    const dataApi = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('rds-data:')));
    const secrets = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('secretsmanager:')));
    // Every route handler, the verification Lambda and the event relay.
    expect(new Set(dataApi.map((s) => s.policy)).size).toBe(ROUTES.length + 2);
    expect(new Set(secrets.map((s) => s.policy)).size).toBe(ROUTES.length + 2);
    for (const s of dataApi) {
      // Each request is one statement: no transaction calls, no batches.
      expect(actionsOf(s)).toEqual(['rds-data:ExecuteStatement']);
      const parts = (s.Resource as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1];
      expect(parts).toContain(':cluster:');
      expect(exportValue(parts[parts.length - 1])).toEqual({ Ref: clusterId });
    }
    for (const s of secrets) {
      expect(actionsOf(s).sort()).toEqual(['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue']);
      const expected = ownedBy(s, app.api.verification.handler) ? verifierSecret : ownedBy(s, app.api.events.handler) ? relaySecret : apiSecret;
      expect(exportValue(s.Resource)).toEqual({ Ref: expected });
    }
    expect(secrets.filter((s) => ownedBy(s, app.api.verification.handler))).toHaveLength(1);
    expect(secrets.filter((s) => ownedBy(s, app.api.events.handler))).toHaveLength(1);
  });

  it('lets the event relay put events on the stack bus only', () => {
    const statements = statementsOf(app.apiTemplate).filter((s) => actionsOf(s).some((a) => a.startsWith('events:')));
    const busId = app.api.getLogicalId(app.api.events.bus.node.defaultChild as never);
    expect(statements).toHaveLength(1);
    expect(actionsOf(statements[0]!)).toEqual(['events:PutEvents']);
    expect(statements[0]!.Resource).toEqual({ 'Fn::GetAtt': [busId, 'Arn'] });
  });

  it("grants nothing on '*' but, in the VPC, the Lambda ENI actions (and, for the migration waiter's logs, log delivery)", () => {
    const waiterRole = app.stateful.getLogicalId(
      app.stateful.migrations.provider.node.findChild('waiter-state-machine').node.findChild('Role').node.defaultChild as never,
    );
    for (const template of [app.apiTemplate, app.statefulTemplate]) {
      for (const s of statementsOf(template).filter((st) => JSON.stringify(st.Resource) === '"*"')) {
        const roles = JSON.stringify(template.toJSON().Resources[s.policy].Properties.Roles);
        for (const action of actionsOf(s)) {
          if (roles === JSON.stringify([{ Ref: waiterRole }])) {
            expect(action).toMatch(/^logs:(CreateLogDelivery|GetLogDelivery|UpdateLogDelivery|DeleteLogDelivery|ListLogDeliveries|CreateLogStream|PutLogEvents|PutResourcePolicy|DescribeResourcePolicies|DescribeLogGroups)$/);
          } else {
            expect(action).toMatch(/^(ec2:.*NetworkInterface.*|ec2:DescribeSubnets|ec2:(Assign|Unassign)PrivateIpAddresses)$/);
          }
        }
      }
    }
  });

  it('gives the migration Lambda the secrets read only (the master, and the login users it makes), and no Data API access', () => {
    const role = app.stateful.migrations.handler.role;
    const roleId = app.stateful.getLogicalId(role.node.defaultChild as never);
    const statements = statementsOf(app.statefulTemplate).filter((s) => {
      const policy = app.statefulTemplate.toJSON().Resources[s.policy];
      return JSON.stringify(policy.Properties.Roles).includes(roleId);
    });
    const actions = statements.flatMap(actionsOf);
    expect(actions).toContain('secretsmanager:GetSecretValue');
    expect(actions.some((a) => a.startsWith('rds-data:'))).toBe(false);
  });
});

describe('events', () => {
  it('publishes from a relay that runs every minute, on a bus named after the stage, and alarms on a backlog, a dead-lettered event and relay failures', () => {
    const fnId = app.api.getLogicalId(app.api.events.handler.function.node.defaultChild as never);
    const busId = app.api.getLogicalId(app.api.events.bus.node.defaultChild as never);
    expect(app.apiTemplate.toJSON().Resources[busId].Properties).toMatchObject({ Name: 'enhanced-messaging-dev' });
    // dev: hourly, so the cluster can auto-pause (API membership writes wake the relay at once).
    app.apiTemplate.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 hour)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [fnId, 'Arn'] } })],
    });
    const [, fn] = resourcesOfType(app.apiTemplate, 'AWS::Lambda::Function').find(([id]) => id === fnId)!;
    expect((fn.Properties!.Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({ EVENT_BUS_NAME: { Ref: busId } });
    const topic = { Ref: app.api.getLogicalId(app.api.verification.topic.node.defaultChild as never) };
    for (const [alarm, metric, threshold] of [
      [app.api.events.backlogAlarm, 'OldestPendingEventAge', 2 * 60 * 60],
      [app.api.events.deadLetteredAlarm, 'DeadLetteredEvents', 1],
    ] as const) {
      const resource = app.apiTemplate.toJSON().Resources[app.api.getLogicalId(alarm.node.defaultChild as never)];
      expect(resource.Properties).toMatchObject({ MetricName: metric, Namespace: METRICS_NAMESPACE, Threshold: threshold, AlarmActions: [topic] });
    }
  });
});

describe('the relay woken right after the routes that write events', () => {
  const relayId = () => app.api.getLogicalId(app.api.events.handler.function.node.defaultChild as never);
  const logGroupIdOf = (routeId: string) => app.api.getLogicalId(app.api.httpApi.handlers[routeId]!.logGroup.node.defaultChild as never);
  const marked = ROUTES.filter((r) => 'writesEvents' in r && r.writesEvents).map((r) => r.id);

  it('marks the membership writes in the route table, and not POST /messages (the schedule publishes its rare moves)', () => {
    expect([...marked].sort()).toEqual(['reactivateMember', 'removeMember', 'updateMessageHandlers']);
  });

  it("subscribes the relay to each such route's log group, and to no other, matching the field the handler logs", () => {
    const filters = resourcesOfType(app.apiTemplate, 'AWS::Logs::SubscriptionFilter').map(([, f]) => f.Properties!);
    expect(filters.map((f) => (f.LogGroupName as { Ref: string }).Ref).sort()).toEqual(marked.map(logGroupIdOf).sort());
    for (const filter of filters) {
      expect(filter.DestinationArn).toEqual({ 'Fn::GetAtt': [relayId(), 'Arn'] });
      expect(filter.FilterPattern).toBe(`{ $.${EVENTS_PENDING_LOG_FIELD} IS TRUE }`);
      expect(filter.FilterPattern).toBe(EVENTS_PENDING_FILTER_PATTERN.logPatternString);
    }
  });

  it('lets CloudWatch Logs invoke the relay from those log groups only', () => {
    const fromLogs = resourcesOfType(app.apiTemplate, 'AWS::Lambda::Permission')
      .map(([, p]) => p.Properties!)
      .filter((p) => p.Principal === 'logs.amazonaws.com');
    expect(fromLogs).toHaveLength(marked.length);
    for (const permission of fromLogs) {
      expect(permission).toMatchObject({ Action: 'lambda:InvokeFunction', FunctionName: { 'Fn::GetAtt': [relayId(), 'Arn'] } });
    }
    expect(fromLogs.map((p) => (p.SourceArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt']).sort()).toEqual(marked.map((id) => [logGroupIdOf(id), 'Arn']).sort());
  });
});

describe('scheduled verification', () => {
  it('runs the verification Lambda on the schedule, with retries and a dead-letter queue', () => {
    const ruleId = app.api.getLogicalId(app.api.verification.rule.node.defaultChild as never);
    const rule = app.apiTemplate.toJSON().Resources[ruleId] as { Properties: Record<string, unknown> };
    const fnId = app.api.getLogicalId(app.api.verification.handler.function.node.defaultChild as never);
    const queueId = app.api.getLogicalId(app.api.verification.deadLetters.node.defaultChild as never);
    expect(ruleId).toBeTruthy();
    expect(rule.Properties).toMatchObject({
      ScheduleExpression: 'rate(1 hour)',
      State: 'ENABLED',
      Targets: [
        {
          Arn: { 'Fn::GetAtt': [fnId, 'Arn'] },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [queueId, 'Arn'] } },
          RetryPolicy: { MaximumRetryAttempts: 2 },
        },
      ],
    });
    expect(app.api.verification.handler.entry).toBe(fromRoot('functions/handlers/scheduled-verification.ts'));
    const fn = app.apiTemplate.toJSON().Resources[fnId].Properties;
    expect(fn.DeadLetterConfig).toEqual({ TargetArn: { 'Fn::GetAtt': [queueId, 'Arn'] } });
    expect(fn.Environment.Variables.EMS_MIGRATION_CHECKSUMS).toBe(JSON.stringify(migrationChecksums()));
  });

  it('alarms on VerificationFailed >= 1 and on the Lambda errors, into the SNS topic', () => {
    const topicId = app.api.getLogicalId(app.api.verification.topic.node.defaultChild as never);
    const fnId = app.api.getLogicalId(app.api.verification.handler.function.node.defaultChild as never);
    app.apiTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: METRICS_NAMESPACE,
      MetricName: 'VerificationFailed',
      Dimensions: [{ Name: 'service', Value: SERVICE_NAME }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [{ Ref: topicId }],
    });
    app.apiTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnId } }],
      Threshold: 1,
      AlarmActions: [{ Ref: topicId }],
    });
  });

  it('encrypts the alarm topic with a rotating customer-managed key CloudWatch may use, and requires TLS', () => {
    const [keyId] = onlyResource(app.apiTemplate, 'AWS::KMS::Key');
    app.apiTemplate.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } });
    app.apiTemplate.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'] }),
        ]),
      },
    });
    app.apiTemplate.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
      },
    });
    app.apiTemplate.resourceCountIs('AWS::SNS::Subscription', 0);
  });
});

describe('cdk-nag', () => {
  it('finds no unacknowledged AwsSolutions or Serverless error or warning', () => {
    const findings = nagFindings(app);
    expect(findings.map((f) => f.pack).sort()).toEqual(['AwsSolutions', 'Serverless']);
    for (const { pack, report } of findings) {
      expect(report.violations.map((v) => `${pack} ${v.ruleName} ${v.severity}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
    }
  });

  it('acknowledges exactly the reviewed findings, each with a reason of its own', () => {
    // Only cdk-nag's rules (aws-cdk-lib records its own for its built-in template checks).
    const all = acknowledgements(app.app).filter((a) => /^(AwsSolutions|Serverless)-/.test(a.id));
    const ids = [...new Set(all.map((a) => a.id.replace(/\[.*$/, '')))].sort();
    expect(ids).toEqual(
      [
        'AwsSolutions-APIG4',
        'AwsSolutions-COG2',
        'AwsSolutions-COG8',
        'AwsSolutions-IAM4',
        'AwsSolutions-IAM5',
        'AwsSolutions-RDS10',
        'AwsSolutions-RDS11',
        'AwsSolutions-SF2',
        'Serverless-LambdaDLQ',
        'Serverless-LambdaDefaultMemorySize',
        'Serverless-LambdaTracing',
        'Serverless-SQSRedrivePolicy',
        'Serverless-StepFunctionStateMachineXray',
      ].sort(),
    );
    for (const a of all) {
      expect(a.reason.length, `${a.id} on ${a.path}`).toBeGreaterThanOrEqual(40);
      expect(a.reason, `${a.id} on ${a.path}`).not.toMatch(/^(suppressed|not needed|n\/a|ok|fine|false positive)\b/i);
    }
    // No blanket reason: one text never covers two different rules.
    const rulesByReason = new Map<string, Set<string>>();
    for (const a of all) rulesByReason.set(a.reason, (rulesByReason.get(a.reason) ?? new Set()).add(a.id));
    for (const [reason, rules] of rulesByReason) expect(rules.size, reason).toBe(1);
  });
});
