/**
 * Security-group reachability computed from a synthesized template, the way
 * the VPC evaluates it: TCP from a set of source security groups to a set of
 * destination security groups on one port is allowed when an egress rule of a
 * source group AND an ingress rule of a destination group both allow it.
 *
 * Rules come from the groups' inline SecurityGroupIngress / SecurityGroupEgress
 * and from standalone AWS::EC2::SecurityGroupIngress / SecurityGroupEgress
 * resources. A peer matches when it is the other side's security group, or a
 * CIDR that covers every address of the VPC (0.0.0.0/0 or the VPC's own
 * CidrBlock); any other CIDR or prefix list is not counted (the check errs
 * towards "unreachable", never towards a false "reachable").
 *
 * Egress: a group with no egress rule at all keeps EC2's default allow-all
 * rule; a group whose only egress rules are standalone resources is judged by
 * those rules alone (whether CloudFormation strips the default then is not
 * something to rely on).
 */

type Json = unknown;
type Resource = { Type: string; Properties?: Record<string, Json> };
export type Resources = Record<string, Resource>;

interface Rule {
  readonly protocol: string;
  readonly from: number;
  readonly to: number;
  /** The peer's security-group logical id, or 'vpc' for a CIDR covering the whole VPC, or null (not counted). */
  readonly peer: string | 'vpc' | null;
}

const ALL_TRAFFIC = ['-1', 'all'];

/** The logical id behind `{ Fn::GetAtt: [id, 'GroupId'] }` or `{ Ref: id }` of a security group. */
export function securityGroupIdOf(value: Json, resources: Resources): string | null {
  const v = value as { 'Fn::GetAtt'?: [string, string]; Ref?: string } | null;
  const id = v?.['Fn::GetAtt']?.[1] === 'GroupId' ? v['Fn::GetAtt'][0] : v?.Ref;
  return id && resources[id]?.Type === 'AWS::EC2::SecurityGroup' ? id : null;
}

/** Security-group logical ids in a list, a comma-joined Fn::Join, or a single reference. */
export function securityGroupIdsIn(value: Json, resources: Resources): string[] {
  if (Array.isArray(value)) return value.flatMap((v) => securityGroupIdsIn(v, resources));
  const join = (value as { 'Fn::Join'?: [string, Json[]] } | null)?.['Fn::Join'];
  if (join) return join[1].flatMap((v) => (typeof v === 'string' ? [] : securityGroupIdsIn(v, resources)));
  const id = securityGroupIdOf(value, resources);
  return id ? [id] : [];
}

/** A port: a number, or `{ Fn::GetAtt: [cluster, 'Endpoint.Port'] }` resolved to the cluster's Port (5432 when unset). */
function portOf(value: Json, resources: Resources): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return Number(value);
  const getAtt = (value as { 'Fn::GetAtt'?: [string, string] } | null)?.['Fn::GetAtt'];
  if (getAtt && getAtt[1] === 'Endpoint.Port' && resources[getAtt[0]]?.Type === 'AWS::RDS::DBCluster') {
    return Number(resources[getAtt[0]]!.Properties?.Port ?? 5432);
  }
  throw new Error(`cannot evaluate port ${JSON.stringify(value)}`);
}

function peerOf(rule: Record<string, Json>, direction: 'ingress' | 'egress', resources: Resources): Rule['peer'] {
  const sg = direction === 'ingress' ? rule.SourceSecurityGroupId : rule.DestinationSecurityGroupId;
  if (sg !== undefined) return securityGroupIdOf(sg, resources);
  const cidr = rule.CidrIp;
  if (cidr === '0.0.0.0/0') return 'vpc';
  const getAtt = (cidr as { 'Fn::GetAtt'?: [string, string] } | null)?.['Fn::GetAtt'];
  if (getAtt && getAtt[1] === 'CidrBlock' && resources[getAtt[0]]?.Type === 'AWS::EC2::VPC') return 'vpc';
  return null;
}

function ruleOf(rule: Record<string, Json>, direction: 'ingress' | 'egress', resources: Resources): Rule {
  const protocol = String(rule.IpProtocol);
  const all = ALL_TRAFFIC.includes(protocol);
  return {
    protocol,
    from: all ? 0 : portOf(rule.FromPort, resources),
    to: all ? 65_535 : portOf(rule.ToPort, resources),
    peer: peerOf(rule, direction, resources),
  };
}

function rulesOf(group: string, direction: 'ingress' | 'egress', resources: Resources): Rule[] {
  const inlineKey = direction === 'ingress' ? 'SecurityGroupIngress' : 'SecurityGroupEgress';
  const standaloneType = direction === 'ingress' ? 'AWS::EC2::SecurityGroupIngress' : 'AWS::EC2::SecurityGroupEgress';
  const inline = (resources[group]!.Properties?.[inlineKey] as Record<string, Json>[] | undefined) ?? [];
  const standalone = Object.values(resources)
    .filter((r) => r.Type === standaloneType && securityGroupIdOf(r.Properties?.GroupId, resources) === group)
    .map((r) => r.Properties!);
  const rules = [...inline, ...standalone].map((r) => ruleOf(r, direction, resources));
  if (direction === 'egress' && rules.length === 0) return [{ protocol: '-1', from: 0, to: 65_535, peer: 'vpc' }];
  return rules;
}

const allowsTcp = (rule: Rule, port: number) =>
  (rule.protocol === 'tcp' || rule.protocol === '6' || ALL_TRAFFIC.includes(rule.protocol)) && rule.from <= port && port <= rule.to;

export interface Reachability {
  readonly reachable: boolean;
  /** Which side stops it, for the failure message. */
  readonly why: string;
}

/** Can something in any of `sources` open a TCP connection to something in any of `destinations` on `port`? */
export function tcpReachable(resources: Resources, sources: readonly string[], destinations: readonly string[], port: number): Reachability {
  if (sources.length === 0) return { reachable: false, why: 'the source has no security group' };
  if (destinations.length === 0) return { reachable: false, why: 'the destination has no security group' };
  let anyEgress = false;
  let anyIngress = false;
  for (const source of sources) {
    for (const destination of destinations) {
      const egressOk = rulesOf(source, 'egress', resources).some(
        (r) => allowsTcp(r, port) && (r.peer === 'vpc' || r.peer === destination),
      );
      const ingressOk = rulesOf(destination, 'ingress', resources).some(
        (r) => allowsTcp(r, port) && (r.peer === 'vpc' || r.peer === source),
      );
      if (egressOk && ingressOk) return { reachable: true, why: `${source} -> ${destination}:${port}` };
      anyEgress ||= egressOk;
      anyIngress ||= ingressOk;
    }
  }
  const problems = [
    ...(anyEgress ? [] : [`no egress rule of ${sources.join(', ')} allows tcp/${port} to ${destinations.join(', ')}`]),
    ...(anyIngress ? [] : [`no ingress rule of ${destinations.join(', ')} lets ${sources.join(', ')} in on tcp/${port}`]),
  ];
  return { reachable: false, why: problems.join('; ') || 'the allowing egress and ingress rules are on different pairs of groups' };
}

export interface RotationFunction {
  /** The RotationSchedule's logical id. */
  readonly schedule: string;
  /** What runs the rotation: a SAR application, a Lambda function or a hosted rotation. */
  readonly kind: 'serverless-application' | 'lambda-function' | 'hosted-rotation';
  readonly securityGroups: string[];
}

/**
 * Every rotation function of the template, found from the rotation schedules
 * (so a rotation added any way is included), with its security groups. An
 * unrecognised shape throws: the test must learn it rather than skip it.
 */
export function rotationFunctions(resources: Resources): RotationFunction[] {
  return Object.entries(resources)
    .filter(([, r]) => r.Type === 'AWS::SecretsManager::RotationSchedule')
    .map(([schedule, r]) => {
      const props = r.Properties ?? {};
      const hosted = props.HostedRotationLambda as { VpcSecurityGroupIds?: Json } | undefined;
      if (hosted) {
        return { schedule, kind: 'hosted-rotation' as const, securityGroups: securityGroupIdsIn(hosted.VpcSecurityGroupIds, resources) };
      }
      const arn = props.RotationLambdaARN as { 'Fn::GetAtt'?: [string, string] } | undefined;
      const target = arn?.['Fn::GetAtt']?.[0];
      const targetResource = target ? resources[target] : undefined;
      if (targetResource?.Type === 'AWS::Serverless::Application') {
        const parameters = (targetResource.Properties?.Parameters ?? {}) as Record<string, Json>;
        return { schedule, kind: 'serverless-application' as const, securityGroups: securityGroupIdsIn(parameters.vpcSecurityGroupIds, resources) };
      }
      if (targetResource?.Type === 'AWS::Lambda::Function') {
        const vpc = targetResource.Properties?.VpcConfig as { SecurityGroupIds?: Json } | undefined;
        return { schedule, kind: 'lambda-function' as const, securityGroups: securityGroupIdsIn(vpc?.SecurityGroupIds, resources) };
      }
      throw new Error(`rotation schedule ${schedule}: unrecognised rotation function ${JSON.stringify(props.RotationLambdaARN)}`);
    });
}

/** The security groups of the Secrets Manager interface endpoints. */
export function secretsManagerEndpointGroups(resources: Resources): string[] {
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::EC2::VPCEndpoint' && JSON.stringify(r.Properties?.ServiceName).includes('.secretsmanager'))
    .flatMap((r) => securityGroupIdsIn(r.Properties?.SecurityGroupIds, resources));
}

/** Each Aurora cluster's security groups and port. */
export function clusters(resources: Resources): { id: string; securityGroups: string[]; port: number }[] {
  return Object.entries(resources)
    .filter(([, r]) => r.Type === 'AWS::RDS::DBCluster')
    .map(([id, r]) => ({
      id,
      securityGroups: securityGroupIdsIn(r.Properties?.VpcSecurityGroupIds, resources),
      port: Number(r.Properties?.Port ?? 5432),
    }));
}
