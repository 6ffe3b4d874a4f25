/**
 * The stateful part: network, Aurora cluster, and the migration custom
 * resource. Termination protection is on outside dev; stack deletion never
 * drops data (the cluster is snapshotted).
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { InfraConfig } from './config';
import { DATABASE_NAME, MessagingDatabase } from './constructs/messaging-database';
import { PreMigrationSnapshot } from './constructs/pre-migration-snapshot';
import { SchemaMigrations } from './constructs/schema-migrations';

export interface StatefulStackProps extends StackProps {
  readonly config: InfraConfig;
}

export class StatefulStack extends Stack {
  readonly database: MessagingDatabase;
  readonly migrations: SchemaMigrations;
  /** Every stage but dev: the cluster is snapshotted before a deploy applies pending migrations. */
  readonly preMigrationSnapshot?: PreMigrationSnapshot;

  constructor(scope: Construct, id: string, props: StatefulStackProps) {
    super(scope, id, { terminationProtection: !props.config.isDev, ...props });
    this.database = new MessagingDatabase(this, 'Database', { config: props.config });
    this.migrations = new SchemaMigrations(this, 'Migrations', { config: props.config, database: this.database });
    if (!props.config.isDev) {
      this.preMigrationSnapshot = new PreMigrationSnapshot(this, 'PreMigrationSnapshot', {
        database: this.database,
        migrationsHash: this.migrations.migrationsHash,
      });
      this.migrations.resource.node.addDependency(this.preMigrationSnapshot.resource);
    }
    // A login user's first rotation clones the user, which the migration custom resource makes.
    for (const rotation of this.database.loginUserRotations) rotation.node.addDependency(this.migrations.resource);

    // Read by the command lines' --stack (functions/shared/deployed-stack.ts).
    new CfnOutput(this, 'ClusterArn', { value: this.database.cluster.clusterArn });
    new CfnOutput(this, 'DatabaseName', { value: DATABASE_NAME });
    new CfnOutput(this, 'MigrationFunctionName', {
      value: this.migrations.handler.function.functionName,
      description: 'npm run migrate:messaging -- --stack: the guide commands run here, inside the VPC',
    });
    new CfnOutput(this, 'DatabaseSecretArn', { value: this.database.secret.secretArn, description: 'The master user: migrations only' });
    new CfnOutput(this, 'ApiUserSecretArn', { value: this.database.apiUserSecret.secretArn, description: 'The API functions: route functions only' });
    new CfnOutput(this, 'VerifierUserSecretArn', { value: this.database.verifierUserSecret.secretArn, description: 'The scheduled verification: read-only' });
    new CfnOutput(this, 'RelayUserSecretArn', { value: this.database.relayUserSecret.secretArn, description: 'The event relay: the events outbox only' });
  }
}
