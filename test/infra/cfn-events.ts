/**
 * CloudFormation custom resource events as the Provider framework passes them
 * to the migration handler: the one fixture builder for those events.
 */
import { randomUUID } from 'node:crypto';
import type {
  CloudFormationCustomResourceCreateEvent,
  CloudFormationCustomResourceDeleteEvent,
  CloudFormationCustomResourceUpdateEvent,
} from 'aws-lambda';

export interface MigrationProperties {
  readonly MigrationsHash: string;
  /** CloudFormation sends every property as a string. */
  readonly CreateBaseSchema: 'true' | 'false';
}

/** Any custom resource's properties (CloudFormation sends each as a string). */
type Properties = MigrationProperties | Readonly<Record<string, string>>;

/** infra/constructs/schema-migrations.ts MIGRATION_RESOURCE_TYPE (kept literal: no aws-cdk-lib in handler tests). */
const RESOURCE_TYPE = 'Custom::MessagingMigrations';
const SERVICE_TOKEN = 'arn:aws:lambda:eu-west-1:123456789012:function:EnhancedMessaging-dev-Data-MigrationsProviderframewor-AbCdEf';
const STACK_ID = 'arn:aws:cloudformation:eu-west-1:123456789012:stack/EnhancedMessaging-dev-Data/5b7e2c10-0000-11f0-9c3a-0a1b2c3d4e5f';

function common(properties: Properties) {
  return {
    ServiceToken: SERVICE_TOKEN,
    ResponseURL: `https://cloudformation-custom-resource-response-euwest1.s3-eu-west-1.amazonaws.com/${encodeURIComponent(STACK_ID)}%7CMigrations23B444C5%7C${randomUUID()}?X-Amz-Signature=test`,
    StackId: STACK_ID,
    RequestId: randomUUID(),
    LogicalResourceId: 'Migrations23B444C5',
    ResourceType: RESOURCE_TYPE,
    ResourceProperties: { ServiceToken: SERVICE_TOKEN, ...properties },
  };
}

export function createEvent(properties: Properties): CloudFormationCustomResourceCreateEvent {
  return { RequestType: 'Create', ...common(properties) };
}

export function updateEvent(
  physicalResourceId: string,
  properties: Properties,
  oldProperties: Properties,
): CloudFormationCustomResourceUpdateEvent {
  return {
    RequestType: 'Update',
    PhysicalResourceId: physicalResourceId,
    OldResourceProperties: { ServiceToken: SERVICE_TOKEN, ...oldProperties },
    ...common(properties),
  };
}

export function deleteEvent(physicalResourceId: string, properties: Properties): CloudFormationCustomResourceDeleteEvent {
  return { RequestType: 'Delete', PhysicalResourceId: physicalResourceId, ...common(properties) };
}
