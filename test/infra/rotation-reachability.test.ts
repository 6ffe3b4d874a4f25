/**
 * Every secret rotation function can reach what it calls: the Secrets Manager
 * interface endpoint (HTTPS) and the cluster (PostgreSQL), computed from the
 * security groups' rules of the synthesized templates (test/infra/reachability.ts),
 * in dev and in a production stage. So is the migration Lambda. A rotation
 * that cannot reach either would deploy fine and fail 30 days later.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  clusters,
  rotationFunctions,
  secretsManagerEndpointGroups,
  securityGroupIdsIn,
  tcpReachable,
  type Resources,
} from './reachability';
import { synthesize, type SynthesizedApp } from './synth';

const stages: Record<string, Record<string, unknown>> = {
  dev: {},
  prod: { stage: 'prod', jwtIssuer: 'https://login.example.com/', jwtAudience: 'ems-api' },
};
const apps: Record<string, SynthesizedApp> = {};

beforeAll(() => {
  for (const [name, context] of Object.entries(stages)) apps[name] = synthesize(context, { nag: false });
});

const resourcesOf = (stage: string) => apps[stage]!.statefulTemplate.toJSON().Resources as Resources;

describe.each(Object.keys(stages))('security-group reachability (%s)', (stage) => {
  it('has four rotation functions (the master secret, the API user, the verifier, the event relay), one Secrets Manager endpoint and one cluster to check', () => {
    const resources = resourcesOf(stage);
    expect(rotationFunctions(resources)).toHaveLength(4);
    expect(secretsManagerEndpointGroups(resources).length).toBeGreaterThanOrEqual(1);
    expect(clusters(resources)).toHaveLength(1);
  });

  it('lets every rotation function reach the Secrets Manager endpoint on 443 and the cluster on its port', () => {
    const resources = resourcesOf(stage);
    const endpoint = secretsManagerEndpointGroups(resources);
    const [cluster] = clusters(resources);
    for (const rotation of rotationFunctions(resources)) {
      expect(rotation.securityGroups, `${rotation.schedule} runs in the VPC`).not.toEqual([]);
      const toEndpoint = tcpReachable(resources, rotation.securityGroups, endpoint, 443);
      expect(toEndpoint.reachable, `${rotation.schedule} -> Secrets Manager endpoint: ${toEndpoint.why}`).toBe(true);
      const toCluster = tcpReachable(resources, rotation.securityGroups, cluster!.securityGroups, cluster!.port);
      expect(toCluster.reachable, `${rotation.schedule} -> cluster: ${toCluster.why}`).toBe(true);
    }
  });

  it('lets the migration Lambda reach the endpoint and the cluster too', () => {
    const resources = resourcesOf(stage);
    const migration = Object.values(resources).find(
      (r) => r.Type === 'AWS::Lambda::Function' && String(r.Properties?.Description).startsWith('Runs the messaging migrations'),
    )!;
    const groups = securityGroupIdsIn((migration.Properties!.VpcConfig as { SecurityGroupIds: unknown }).SecurityGroupIds, resources);
    const [cluster] = clusters(resources);
    expect(tcpReachable(resources, groups, secretsManagerEndpointGroups(resources), 443).reachable).toBe(true);
    expect(tcpReachable(resources, groups, cluster!.securityGroups, cluster!.port).reachable).toBe(true);
  });

  it('gives the rotation function no egress beyond the endpoint and the cluster', () => {
    const resources = resourcesOf(stage);
    const endpoint = new Set(secretsManagerEndpointGroups(resources));
    const clusterGroups = new Set(clusters(resources)[0]!.securityGroups);
    for (const rotation of rotationFunctions(resources)) {
      for (const group of rotation.securityGroups) {
        const inline = (resources[group]!.Properties!.SecurityGroupEgress as { CidrIp?: string }[] | undefined) ?? [];
        expect(inline.filter((r) => r.CidrIp === '0.0.0.0/0'), `${group} has no allow-all egress`).toEqual([]);
        const standalone = Object.values(resources).filter(
          (r) => r.Type === 'AWS::EC2::SecurityGroupEgress' && JSON.stringify(r.Properties!.GroupId).includes(`"${group}"`),
        );
        expect(standalone.length).toBeGreaterThan(0);
        for (const rule of standalone) {
          const [destination] = securityGroupIdsIn(rule.Properties!.DestinationSecurityGroupId, resources);
          expect(endpoint.has(destination!) || clusterGroups.has(destination!), `${group} egress to ${destination}`).toBe(true);
        }
      }
    }
  });
});

describe('the reachability check itself', () => {
  // What the stack had before the fix: the rotation group let into the cluster, not into the endpoint.
  it('reports a rotation function that is not let into the endpoint as unreachable', () => {
    const resources = structuredClone(resourcesOf('dev'));
    const endpoint = secretsManagerEndpointGroups(resources);
    const [rotation] = rotationFunctions(resources);
    for (const [id, r] of Object.entries(resources)) {
      const source = securityGroupIdsIn(r.Properties?.SourceSecurityGroupId, resources)[0];
      const target = securityGroupIdsIn(r.Properties?.GroupId, resources)[0];
      if (r.Type === 'AWS::EC2::SecurityGroupIngress' && endpoint.includes(target!) && rotation!.securityGroups.includes(source!)) delete resources[id];
    }
    const result = tcpReachable(resources, rotation!.securityGroups, endpoint, 443);
    expect(result).toMatchObject({ reachable: false, why: expect.stringMatching(/no ingress rule/) });
  });

  it('reports a source group with no egress to the destination as unreachable, and an open group as reachable', () => {
    const resources = structuredClone(resourcesOf('dev'));
    const [cluster] = clusters(resources);
    const [rotation] = rotationFunctions(resources);
    const group = rotation!.securityGroups[0]!;
    for (const [id, r] of Object.entries(resources)) {
      if (r.Type === 'AWS::EC2::SecurityGroupEgress' && securityGroupIdsIn(r.Properties?.GroupId, resources)[0] === group) {
        r.Properties!.DestinationSecurityGroupId = { 'Fn::GetAtt': ['SomewhereElse', 'GroupId'] };
        resources[id] = r;
      }
    }
    expect(tcpReachable(resources, [group], cluster!.securityGroups, cluster!.port)).toMatchObject({
      reachable: false,
      why: expect.stringMatching(/no egress rule/),
    });
    // EC2's default (no egress rule at all) allows everything.
    for (const [id, r] of Object.entries(resources)) {
      if (r.Type === 'AWS::EC2::SecurityGroupEgress' && securityGroupIdsIn(r.Properties?.GroupId, resources)[0] === group) delete resources[id];
    }
    delete resources[group]!.Properties!.SecurityGroupEgress;
    expect(tcpReachable(resources, [group], cluster!.securityGroups, cluster!.port).reachable).toBe(true);
  });
});
