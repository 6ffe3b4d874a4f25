/**
 * A local stand-in for the AWS APIs the token command and the pre-migration snapshot call, speaking
 * their wire protocols so the real SDK clients (and the CLI, through AWS_ENDPOINT_URL) talk to it:
 * CloudFormation DescribeStacks and RDS CreateDBClusterSnapshot / DescribeDBClusterSnapshots
 * (awsQuery: form-encoded request, XML answer), the Cognito user pool admin calls (JSON 1.1,
 * X-Amz-Target), EventBridge PutEvents (JSON 1.1, per-entry results, faults on demand) and Lambda
 * Invoke (REST: the payload in, the function's answer out, a thrown error as X-Amz-Function-Error). It keeps its stacks, clusters, snapshots, pools and users in memory and records
 * every call.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeUser {
  attributes: Record<string, string>;
  password?: string;
  /** The user turned MFA on: password sign-in answers with a challenge. */
  mfa?: boolean;
}

export interface FakePool {
  /** App client id → its ExplicitAuthFlows. */
  clients: Record<string, string[]>;
  /** By user name (the e-mail: the pools sign in by e-mail). */
  users: Record<string, FakeUser>;
}

export interface FakeSnapshot {
  readonly cluster: string;
  readonly tags: Record<string, string>;
  /** The statuses the next DescribeDBClusterSnapshots calls answer, the last one for good. */
  statuses: string[];
}

export interface FakeAws {
  readonly endpoint: string;
  readonly stacks: Record<string, Record<string, string>>;
  /** Cluster identifiers RDS knows. */
  readonly clusters: Set<string>;
  /** By snapshot identifier. */
  readonly snapshots: Record<string, FakeSnapshot>;
  /** The statuses a new snapshot goes through (default: creating twice, then available). */
  snapshotStatuses: string[];
  /** EventBridge: every entry PutEvents accepted, in order, with the bus it went to. */
  readonly putEvents: { bus: string; source: string; detailType: string; detail: Record<string, unknown>; time?: number }[];
  /** Refuses an entry (returns its ErrorCode) when it returns one: per-entry failures, as the service reports them. */
  refuseEntry?: (entry: { detailType: string; detail: Record<string, unknown> }) => string | undefined;
  /** Lambda functions by name: what Invoke runs (a thrown error is the function's error). */
  readonly functions: Record<string, (payload: unknown) => Promise<unknown>>;
  readonly pools: Record<string, FakePool>;
  /** Every call, as 'Service.Action'. */
  readonly calls: string[];
  close(): Promise<void>;
}

const body = (request: IncomingMessage) =>
  new Promise<string>((resolve) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

class CognitoError extends Error {
  constructor(readonly type: string, message: string) {
    super(message);
  }
}

export async function startFakeAws(): Promise<FakeAws> {
  const stacks: FakeAws['stacks'] = {};
  const pools: FakeAws['pools'] = {};
  const calls: string[] = [];
  const clusters = new Set<string>();
  const snapshots: FakeAws['snapshots'] = {};
  const state = { snapshotStatuses: ['creating', 'creating', 'available'] };

  const RDS_NS = 'http://rds.amazonaws.com/doc/2014-10-31/';
  const rdsError = (status: number, code: string, message: string): [number, string] => [
    status,
    `<ErrorResponse xmlns="${RDS_NS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${xml(message)}</Message></Error><RequestId>r</RequestId></ErrorResponse>`,
  ];
  const snapshotXml = (id: string, snapshot: FakeSnapshot, status: string) =>
    `<DBClusterSnapshot><DBClusterSnapshotIdentifier>${xml(id)}</DBClusterSnapshotIdentifier><DBClusterIdentifier>${xml(snapshot.cluster)}</DBClusterIdentifier>` +
    `<SnapshotType>manual</SnapshotType><Engine>aurora-postgresql</Engine><Status>${xml(status)}</Status>` +
    `<DBClusterSnapshotArn>arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:${xml(id)}</DBClusterSnapshotArn></DBClusterSnapshot>`;
  const rds = (form: URLSearchParams): [number, string] => {
    const action = form.get('Action')!;
    calls.push(`RDS.${action}`);
    const id = form.get('DBClusterSnapshotIdentifier') ?? '';
    if (action === 'CreateDBClusterSnapshot') {
      const cluster = form.get('DBClusterIdentifier') ?? '';
      if (!clusters.has(cluster)) return rdsError(404, 'DBClusterNotFoundFault', `DBCluster ${cluster} not found.`);
      if (!/^[a-zA-Z][a-zA-Z0-9-]{0,62}$/.test(id) || id.endsWith('-') || id.includes('--')) return rdsError(400, 'InvalidParameterValue', `Invalid snapshot identifier: ${id}`);
      if (snapshots[id]) return rdsError(400, 'DBClusterSnapshotAlreadyExistsFault', `Cannot create the cluster snapshot because one with the identifier ${id} already exists.`);
      const tags: Record<string, string> = {};
      for (let i = 1; form.has(`Tags.Tag.${i}.Key`); i += 1) tags[form.get(`Tags.Tag.${i}.Key`)!] = form.get(`Tags.Tag.${i}.Value`) ?? '';
      const snapshot = (snapshots[id] = { cluster, tags, statuses: [...state.snapshotStatuses] });
      return [200, `<CreateDBClusterSnapshotResponse xmlns="${RDS_NS}"><CreateDBClusterSnapshotResult>${snapshotXml(id, snapshot, 'creating')}</CreateDBClusterSnapshotResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></CreateDBClusterSnapshotResponse>`];
    }
    if (action === 'DescribeDBClusterSnapshots') {
      const snapshot = snapshots[id];
      if (!snapshot) return rdsError(404, 'DBClusterSnapshotNotFoundFault', `DBClusterSnapshot ${id} not found.`);
      const status = snapshot.statuses.length > 1 ? snapshot.statuses.shift()! : snapshot.statuses[0]!;
      return [200, `<DescribeDBClusterSnapshotsResponse xmlns="${RDS_NS}"><DescribeDBClusterSnapshotsResult><DBClusterSnapshots>${snapshotXml(id, snapshot, status)}</DBClusterSnapshots></DescribeDBClusterSnapshotsResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeDBClusterSnapshotsResponse>`];
    }
    return rdsError(400, 'InvalidAction', `The action ${action} is not valid for this web service.`);
  };

  const cloudFormation = (form: URLSearchParams): [number, string] => {
    const action = form.get('Action');
    calls.push(`CloudFormation.${action}`);
    const name = form.get('StackName') ?? '';
    const outputs = stacks[name];
    if (action !== 'DescribeStacks' || !outputs) {
      return [
        400,
        `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type><Code>ValidationError</Code>` +
          `<Message>Stack with id ${xml(name)} does not exist</Message></Error><RequestId>r</RequestId></ErrorResponse>`,
      ];
    }
    const members = Object.entries(outputs)
      .map(([k, v]) => `<member><OutputKey>${xml(k)}</OutputKey><OutputValue>${xml(v)}</OutputValue></member>`)
      .join('');
    return [
      200,
      `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member>` +
        `<StackName>${xml(name)}</StackName><StackId>arn:aws:cloudformation:eu-west-1:123456789012:stack/${xml(name)}/1</StackId>` +
        `<CreationTime>2026-11-30T00:00:00Z</CreationTime><StackStatus>CREATE_COMPLETE</StackStatus><Outputs>${members}</Outputs>` +
        `</member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeStacksResponse>`,
    ];
  };

  const cognito = (action: string, input: Record<string, any>): unknown => {
    calls.push(`Cognito.${action}`);
    const pool = pools[input.UserPoolId as string];
    if (!pool) throw new CognitoError('ResourceNotFoundException', 'User pool does not exist.');
    const user = () => {
      const found = pool.users[input.Username as string];
      if (!found) throw new CognitoError('UserNotFoundException', 'User does not exist.');
      return found;
    };
    const attributes = (list: { Name: string; Value: string }[]) => Object.fromEntries(list.map((a) => [a.Name, a.Value]));
    switch (action) {
      case 'DescribeUserPoolClient': {
        const flows = pool.clients[input.ClientId as string];
        if (!flows) throw new CognitoError('ResourceNotFoundException', 'Client does not exist.');
        return { UserPoolClient: { UserPoolId: input.UserPoolId, ClientId: input.ClientId, ExplicitAuthFlows: flows } };
      }
      case 'AdminGetUser':
        return { Username: input.Username, UserAttributes: Object.entries(user().attributes).map(([Name, Value]) => ({ Name, Value })) };
      case 'AdminCreateUser': {
        if (pool.users[input.Username]) throw new CognitoError('UsernameExistsException', 'User account already exists.');
        pool.users[input.Username] = { attributes: attributes(input.UserAttributes ?? []) };
        return { User: { Username: input.Username } };
      }
      case 'AdminUpdateUserAttributes':
        Object.assign(user().attributes, attributes(input.UserAttributes ?? []));
        return {};
      case 'AdminSetUserPassword':
        if (!input.Permanent) throw new CognitoError('InvalidParameterException', 'the fake only sets permanent passwords');
        if (String(input.Password).length < 12) throw new CognitoError('InvalidPasswordException', 'Password did not conform with policy');
        user().password = input.Password;
        return {};
      case 'AdminInitiateAuth': {
        if (!(pool.clients[input.ClientId] ?? []).includes('ALLOW_ADMIN_USER_PASSWORD_AUTH')) {
          throw new CognitoError('InvalidParameterException', 'Auth flow not enabled for this client');
        }
        const { USERNAME, PASSWORD } = input.AuthParameters as Record<string, string>;
        const found = USERNAME === undefined ? undefined : pool.users[USERNAME];
        if (!found || found.password !== PASSWORD) throw new CognitoError('NotAuthorizedException', 'Incorrect username or password.');
        if (found.mfa) return { ChallengeName: 'SOFTWARE_TOKEN_MFA', Session: 's' };
        const claims = { iss: `https://cognito-idp.eu-west-1.amazonaws.com/${input.UserPoolId}`, aud: input.ClientId, token_use: 'id', ...found.attributes };
        return { AuthenticationResult: { IdToken: `${base64url({ alg: 'RS256' })}.${base64url(claims)}.sig`, TokenType: 'Bearer', ExpiresIn: 3600 } };
      }
      default:
        throw new CognitoError('UnknownOperationException', action);
    }
  };

  const functions: FakeAws['functions'] = {};
  const putEvents: FakeAws['putEvents'] = [];
  const eventsState: { refuseEntry?: FakeAws['refuseEntry'] } = {};
  const eventBridge = (action: string, input: { Entries?: { EventBusName?: string; Source?: string; DetailType?: string; Detail?: string; Time?: number }[] }) => {
    calls.push(`EventBridge.${action}`);
    if (action !== 'PutEvents') throw new CognitoError('UnknownOperationException', action);
    const entries = input.Entries ?? [];
    if (entries.length > 10) throw new CognitoError('ValidationException', '1 validation error detected: Value at entries failed to satisfy constraint: Member must have length less than or equal to 10');
    const bytes = entries.reduce((sum, e) => sum + 14 + Buffer.byteLength(e.Source ?? '') + Buffer.byteLength(e.DetailType ?? '') + Buffer.byteLength(e.Detail ?? ''), 0);
    if (bytes > 256 * 1024) throw new CognitoError('ValidationException', 'Total size of the entries in the request is over the limit.');
    let failedCount = 0;
    const results = entries.map((e) => {
      const detail = JSON.parse(e.Detail ?? '{}') as Record<string, unknown>;
      const refused = eventsState.refuseEntry?.({ detailType: e.DetailType ?? '', detail });
      if (refused) {
        failedCount += 1;
        return { ErrorCode: refused, ErrorMessage: `refused by the stand-in: ${refused}` };
      }
      putEvents.push({ bus: e.EventBusName ?? 'default', source: e.Source ?? '', detailType: e.DetailType ?? '', detail, time: e.Time });
      return { EventId: `evt-${putEvents.length}` };
    });
    return { FailedEntryCount: failedCount, Entries: results };
  };
  const invoke = async (name: string, payload: string): Promise<[number, Record<string, string>, string]> => {
    calls.push(`Lambda.Invoke ${name}`);
    const fn = functions[name];
    if (!fn) {
      return [404, { 'x-amzn-errortype': 'ResourceNotFoundException' }, JSON.stringify({ Type: 'User', message: `Function not found: ${name}` })];
    }
    try {
      const answer = await fn(JSON.parse(payload || 'null'));
      return [200, { 'x-amz-executed-version': '$LATEST' }, JSON.stringify(answer ?? null)];
    } catch (error) {
      const e = error as Error;
      return [200, { 'x-amz-function-error': 'Unhandled' }, JSON.stringify({ errorType: e.name, errorMessage: e.message, trace: [] })];
    }
  };

  const server: Server = createServer(async (request, response) => {
    const text = await body(request);
    const lambdaPath = /^\/2015-03-31\/functions\/([^/]+)\/invocations/.exec(request.url ?? '');
    if (lambdaPath) {
      const [status, headers, answer] = await invoke(decodeURIComponent(lambdaPath[1]!), text);
      response.writeHead(status, { 'content-type': 'application/json', ...headers }).end(answer);
      return;
    }
    const target = request.headers['x-amz-target'];
    if (typeof target === 'string' && target.startsWith('AWSEvents.')) {
      try {
        const answer = eventBridge(target.split('.')[1]!, JSON.parse(text || '{}'));
        response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(answer));
      } catch (error) {
        const e = error as CognitoError;
        response
          .writeHead(400, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': e.type })
          .end(JSON.stringify({ __type: e.type, message: e.message }));
      }
      return;
    }
    if (typeof target === 'string' && target.startsWith('AWSCognitoIdentityProviderService.')) {
      try {
        const answer = cognito(target.split('.')[1]!, JSON.parse(text || '{}') as Record<string, unknown>);
        response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(answer));
      } catch (error) {
        const e = error as CognitoError;
        response
          .writeHead(400, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': e.type ?? 'InternalErrorException' })
          .end(JSON.stringify({ __type: e.type ?? 'InternalErrorException', message: e.message }));
      }
      return;
    }
    const form = new URLSearchParams(text);
    const [status, answer] = /DBCluster/.test(form.get('Action') ?? '') ? rds(form) : cloudFormation(form);
    response.writeHead(status, { 'content-type': 'text/xml' }).end(answer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stacks,
    clusters,
    snapshots,
    get snapshotStatuses() {
      return state.snapshotStatuses;
    },
    set snapshotStatuses(statuses: string[]) {
      state.snapshotStatuses = statuses;
    },
    functions,
    putEvents,
    get refuseEntry() {
      return eventsState.refuseEntry;
    },
    set refuseEntry(refuse) {
      eventsState.refuseEntry = refuse;
    },
    pools,
    calls,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * The environment of a command line that must reach these stand-ins and nothing else: test
 * credentials and region, no profile or config file of the machine, and the endpoints given
 * (AWS_ENDPOINT_URL for every service, or AWS_ENDPOINT_URL_<SERVICE> for one).
 */
export function awsCommandEnvironment(endpoints: Record<string, string>): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...endpoints,
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_PROFILE: '',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  };
}
