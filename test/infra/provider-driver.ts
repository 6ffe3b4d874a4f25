/**
 * What custom_resources.Provider does with a CloudFormation event when it has
 * an isComplete handler (aws-cdk-lib, custom-resources/lib/provider-framework/
 * runtime/framework.js), against the migration Lambda's entry point:
 *
 * - onEvent is invoked once with the event; an error is a FAILED response;
 * - its answer is merged into the event (`{ ...event, ...answer }`) and that is
 *   what every isComplete invocation receives, unchanged;
 * - isComplete is invoked until it answers IsComplete: true (SUCCESS, its Data
 *   merged over the event's), throws (FAILED, the message as the reason), or
 *   answers Data with IsComplete false (FAILED: the framework refuses it);
 * - every payload crosses Lambda as JSON.
 *
 * The waiter's pause between calls (queryInterval) is `intervalMs`; `between`
 * runs before each isComplete call, for a test to act in the middle.
 */
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import type { InvocationContext } from '../../functions/handlers/migrate';

export type LambdaEntryPoint = (event: never, context?: InvocationContext) => Promise<unknown>;

export interface ProviderOutcome {
  readonly Status: 'SUCCESS' | 'FAILED';
  readonly PhysicalResourceId?: string;
  readonly Data?: Record<string, string>;
  readonly Reason?: string;
  /** How many times isComplete was invoked. */
  readonly isCompleteCalls: number;
}

export interface DriveOptions {
  readonly intervalMs?: number;
  /** Give up (throw) after this many isComplete calls: the waiter's maxAttempts. */
  readonly maxCalls?: number;
  readonly between?: (call: number) => Promise<void> | void;
  /** Passed to each invocation, as the Lambda runtime would. */
  readonly context?: () => InvocationContext;
}

const asLambdaPayload = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function driveProvider(
  entryPoint: LambdaEntryPoint,
  event: CloudFormationCustomResourceEvent,
  options: DriveOptions = {},
): Promise<ProviderOutcome> {
  const invoke = async (payload: unknown) => asLambdaPayload(await entryPoint(asLambdaPayload(payload) as never, options.context?.()));
  const physicalIdOf = (e: CloudFormationCustomResourceEvent) => ('PhysicalResourceId' in e ? e.PhysicalResourceId : undefined);

  let onEventAnswer: Record<string, unknown>;
  try {
    onEventAnswer = ((await invoke(event)) ?? {}) as Record<string, unknown>;
  } catch (error) {
    return { Status: 'FAILED', PhysicalResourceId: physicalIdOf(event), Reason: (error as Error).message, isCompleteCalls: 0 };
  }
  const resourceEvent = { ...event, ...onEventAnswer, PhysicalResourceId: onEventAnswer.PhysicalResourceId ?? physicalIdOf(event) } as Record<
    string,
    unknown
  > & { PhysicalResourceId?: string; Data?: Record<string, string> };

  const maxCalls = options.maxCalls ?? 1_000;
  for (let call = 1; call <= maxCalls; call += 1) {
    await options.between?.(call);
    let answer: { IsComplete?: boolean; Data?: Record<string, string> };
    try {
      answer = ((await invoke(resourceEvent)) ?? {}) as typeof answer;
    } catch (error) {
      return { Status: 'FAILED', PhysicalResourceId: resourceEvent.PhysicalResourceId, Reason: (error as Error).message, isCompleteCalls: call };
    }
    if (answer.IsComplete) {
      return {
        Status: 'SUCCESS',
        PhysicalResourceId: resourceEvent.PhysicalResourceId,
        Data: { ...resourceEvent.Data, ...answer.Data },
        isCompleteCalls: call,
      };
    }
    if (answer.Data && Object.keys(answer.Data).length > 0) {
      return { Status: 'FAILED', PhysicalResourceId: resourceEvent.PhysicalResourceId, Reason: '"Data" is not allowed if "IsComplete" is "False"', isCompleteCalls: call };
    }
    if (options.intervalMs) await sleep(options.intervalMs);
  }
  throw new Error(`isComplete did not answer complete within ${maxCalls} calls`);
}
