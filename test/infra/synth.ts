/**
 * One synthesized CDK app per test file: the app `cdk synth` builds (same
 * cdk.json context, same cdk-nag packs), with the given context. Lambda
 * bundling is skipped unless asked for (it is what takes time; bundles.test.ts
 * bundles for real).
 */
import { Template } from 'aws-cdk-lib/assertions';
import type { PolicyValidationPluginReport } from 'aws-cdk-lib';
import { Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { createEmsApp, type EmsApp } from '../../infra/ems-app';

export interface SynthesizedApp extends EmsApp {
  readonly statefulTemplate: Template;
  readonly apiTemplate: Template;
  readonly assemblyDirectory: string;
}

export function synthesize(context: Record<string, unknown> = {}, options: { bundle?: boolean; nag?: boolean } = {}): SynthesizedApp {
  const ems = createEmsApp({ ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }), ...context }, {}, { nag: options.nag });
  // Synthesis runs the cdk-nag packs: any unacknowledged finding throws here, with the report.
  const assembly = ems.app.synth();
  return {
    ...ems,
    statefulTemplate: Template.fromStack(ems.stateful),
    apiTemplate: Template.fromStack(ems.api),
    assemblyDirectory: assembly.directory,
  };
}

/** Each pack's findings on the app, errors and warnings alike. */
export function nagFindings(ems: EmsApp): { pack: string; report: PolicyValidationPluginReport }[] {
  return ems.nagPacks.map((pack) => ({ pack: pack.readPackName, report: pack.validateScope(ems.app) }));
}

export interface RecordedAcknowledgement {
  readonly path: string;
  readonly id: string;
  readonly reason: string;
}

/** Every acknowledgement (suppression) recorded anywhere in the app. */
export function acknowledgements(root: IConstruct): RecordedAcknowledgement[] {
  return root.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          path: construct.node.path,
          id: id.replace(/^annotation::/i, ''),
          reason,
        })),
      ),
  );
}

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown>; [key: string]: unknown }>;

export function resourcesOfType(template: Template, type: string): [string, Resources[string]][] {
  return Object.entries(template.findResources(type) as Resources);
}

/** The one resource of `type`; fails if there are none or several. */
export function onlyResource(template: Template, type: string): [string, Resources[string]] {
  const found = resourcesOfType(template, type);
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0]!;
}
