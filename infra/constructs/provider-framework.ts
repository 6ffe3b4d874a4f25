/**
 * What cdk-nag finds in custom_resources.Provider's own functions and waiter state machine, with
 * why each finding is acceptable: shared by every asynchronous custom resource of the stack (the
 * migrations, the pre-migration snapshot). None of these settings is exposed by Provider.
 */
import { type CfnElement, Stack } from 'aws-cdk-lib';
import type * as cr from 'aws-cdk-lib/custom-resources';
import type { IConstruct } from 'constructs';
import { acknowledge } from '../nag';
import type { ProjectFunction } from './project-function';

export function acknowledgeProviderFramework(provider: cr.Provider, handler: ProjectFunction): void {
  acknowledge(
    handler,
    'Serverless-LambdaDLQ',
    'Invoked synchronously (RequestResponse) by the custom resource framework, which reports any error to CloudFormation and fails the deploy; no asynchronous event to dead-letter.',
  );
  const stack = Stack.of(provider);
  const arnOf = (fn: IConstruct) => `<${stack.getLogicalId(fn.node.defaultChild as CfnElement)}.Arn>`;
  // The custom resource framework's own functions (aws-cdk-lib): onEvent (called by CloudFormation),
  // isComplete and onTimeout (called by the waiter state machine). Provider exposes none of the
  // settings below; each only relays an event to the handler or answers CloudFormation.
  const framework = {
    onEvent: provider.node.findChild('framework-onEvent'),
    isComplete: provider.node.findChild('framework-isComplete'),
    onTimeout: provider.node.findChild('framework-onTimeout'),
  };
  for (const fn of Object.values(framework)) {
    acknowledge(
      fn,
      `AwsSolutions-IAM5[Resource::${arnOf(handler.function)}:*]`,
      "The custom resource framework (aws-cdk-lib) may invoke the handler's versions; the grant names that one function.",
    );
    acknowledge(
      fn,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      "The custom resource framework's own function (aws-cdk-lib) is created with AWSLambdaBasicExecutionRole, which only lets it write its logs.",
    );
    acknowledge(
      fn,
      'Serverless-LambdaDefaultMemorySize',
      'The custom resource framework function (aws-cdk-lib) only relays the event to the handler; Provider does not expose its memory size.',
    );
    acknowledge(
      fn,
      'Serverless-LambdaTracing',
      'The custom resource framework function (aws-cdk-lib) only relays the event; Provider does not expose tracing, and the project functions are not traced either (infra/constructs/project-function.ts says why); the handler logs every call.',
    );
  }
  acknowledge(
    framework.onEvent,
    'Serverless-LambdaDLQ',
    'The custom resource framework function is invoked by CloudFormation and answers it itself (SUCCESS or FAILED); a lost event makes the stack operation time out and roll back.',
  );
  for (const fn of [framework.isComplete, framework.onTimeout]) {
    acknowledge(
      fn,
      'Serverless-LambdaDLQ',
      "Invoked synchronously by the Provider's waiter state machine, which retries a failed call and otherwise reports FAILED to CloudFormation; no asynchronous event to dead-letter.",
    );
  }
  const waiter = provider.node.findChild('waiter-state-machine');
  for (const fn of [framework.isComplete, framework.onTimeout]) {
    acknowledge(
      waiter,
      `AwsSolutions-IAM5[Resource::${arnOf(fn)}:*]`,
      `The Provider's waiter state machine (aws-cdk-lib) may invoke the versions of the framework's ${fn.node.id} function; the grant names that one function.`,
    );
  }
  acknowledge(
    waiter,
    'AwsSolutions-IAM5[Resource::*]',
    "The waiter state machine's logging to CloudWatch Logs: the log-delivery actions (logs:CreateLogDelivery and the like) have no resource-level permissions.",
  );
  acknowledge(
    waiter,
    'AwsSolutions-SF2',
    "The Provider's waiter state machine (aws-cdk-lib) only calls the framework's isComplete function on a timer, and logs every state; the handler it reaches logs every call. Provider does not expose tracing.",
  );
  acknowledge(
    waiter,
    'Serverless-StepFunctionStateMachineXray',
    'The waiter state machine is a retry loop around one Lambda call (aws-cdk-lib Provider, which does not expose tracing); its executions are logged (level ALL) and the handler logs every call.',
  );
}
