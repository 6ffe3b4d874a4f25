/**
 * Checks a handler's response against the OpenAPI document (functions/http/openapi.json as
 * committed, not the zod schemas it is generated from), with a standard JSON Schema validator (Ajv,
 * draft 2020-12, as OpenAPI 3.1 uses): the status is documented for the operation, the body is
 * valid against that response's schema, every required header is there and valid, and no header
 * is sent that the document does not describe.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

export const OPENAPI_FILE = fileURLToPath(new URL('../../functions/http/openapi.json', import.meta.url));

/** The committed document, as a client would read it. */
export const readOpenApiDocument = (): Record<string, any> => JSON.parse(readFileSync(OPENAPI_FILE, 'utf8'));

/** The document's own base URI for Ajv, so its `#/components/...` references resolve within it. */
const DOCUMENT_ID = 'https://openapi.contract.test/openapi.json';

/** A JSON pointer to `keys` (RFC 6901), as a `#…` fragment. */
const pointer = (keys: readonly string[]) => `#${keys.map((k) => `/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`).join('')}`;

interface Located {
  readonly value: Record<string, any>;
  /** Where it is in the document. */
  readonly at: readonly string[];
}

export interface ContractChecker {
  /** What is wrong with `response` as an answer of operation `operationId`; empty when it is as documented. */
  problems(operationId: string, response: APIGatewayProxyStructuredResultV2): string[];
}

export function contractChecker(document: Record<string, any> = readOpenApiDocument()): ContractChecker {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats(ajv);
  // Strict about the schemas, knowing what else an OpenAPI document holds: its own fields at the top
  // (the validator compiles only the schemas it is pointed at) and the OpenAPI base vocabulary.
  ajv.addVocabulary(['openapi', 'info', 'jsonSchemaDialect', 'servers', 'paths', 'webhooks', 'components', 'security', 'tags']);
  ajv.addVocabulary(['discriminator', 'xml', 'externalDocs', 'example']);
  ajv.addSchema({ ...document, $id: DOCUMENT_ID });
  const validators = new Map<string, ValidateFunction>();
  const validatorAt = (at: readonly string[]) => {
    const ref = `${DOCUMENT_ID}${pointer(at)}`;
    let validate = validators.get(ref);
    if (!validate) {
      validate = ajv.compile({ $ref: ref });
      validators.set(ref, validate);
    }
    return validate;
  };

  /** Follows an OpenAPI `$ref` (a response or header object) within the document. */
  const resolve = (found: Located): Located => {
    const ref: unknown = found.value.$ref;
    if (typeof ref !== 'string') return found;
    if (!ref.startsWith('#/')) throw new Error(`external $ref ${ref} at ${pointer(found.at)}`);
    const at = ref.slice(2).split('/').map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
    const value = at.reduce<any>((node, key) => node?.[key], document);
    if (value === undefined) throw new Error(`$ref ${ref} at ${pointer(found.at)} points nowhere`);
    return resolve({ value, at });
  };

  const operations = new Map<string, Located>();
  for (const [route, methods] of Object.entries<Record<string, any>>(document.paths ?? {})) {
    for (const [method, operation] of Object.entries<Record<string, any>>(methods)) {
      operations.set(operation.operationId, { value: operation, at: ['paths', route, method] });
    }
  }

  const failures = (validate: ValidateFunction) =>
    (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`).join('; ');

  return {
    problems(operationId, response) {
      const operation = operations.get(operationId);
      if (!operation) return [`operation ${operationId} is not in the document`];
      const status = String(response.statusCode ?? 200);
      const documented = operation.value.responses?.[status];
      if (!documented) return [`${operationId}: status ${status} is not documented (documented: ${Object.keys(operation.value.responses ?? {}).join(', ')})`];
      const answer = resolve({ value: documented, at: [...operation.at, 'responses', status] });
      const problems: string[] = [];
      const headers = new Map(Object.entries(response.headers ?? {}).map(([name, value]) => [name.toLowerCase(), String(value)]));

      // The body: its media type is documented, and it is valid against that schema.
      const mediaType = (headers.get('content-type') ?? '').split(';', 1)[0]?.trim() ?? '';
      const content = answer.value.content?.[mediaType];
      if (!content) {
        problems.push(`${operationId} ${status}: content type '${mediaType}' is not documented`);
      } else {
        let body: unknown;
        try {
          body = response.body === undefined ? undefined : JSON.parse(response.body);
        } catch {
          problems.push(`${operationId} ${status}: the body is not JSON`);
        }
        const validate = validatorAt([...answer.at, 'content', mediaType, 'schema']);
        if (body !== undefined && !validate(body)) problems.push(`${operationId} ${status}: body ${failures(validate)}`);
      }

      // The headers: each documented one valid (and there when required), none undocumented.
      const described = new Set(['content-type']); // the media type of `content` says it
      for (const [name, header] of Object.entries<Record<string, any>>(answer.value.headers ?? {})) {
        const spec = resolve({ value: header, at: [...answer.at, 'headers', name] });
        described.add(name.toLowerCase());
        const raw = headers.get(name.toLowerCase());
        if (raw === undefined) {
          if (spec.value.required) problems.push(`${operationId} ${status}: required header ${name} is missing`);
          continue;
        }
        // A header is text; a numeric schema describes the number it spells.
        const value = ['integer', 'number'].includes(spec.value.schema?.type) && /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
        const validate = validatorAt([...spec.at, 'schema']);
        if (!validate(value)) problems.push(`${operationId} ${status}: header ${name} '${raw}' ${failures(validate)}`);
      }
      for (const name of headers.keys()) {
        if (!described.has(name)) problems.push(`${operationId} ${status}: header ${name} is not documented`);
      }
      return problems;
    },
  };
}
