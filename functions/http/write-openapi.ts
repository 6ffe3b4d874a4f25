/**
 * `npm run openapi`: writes functions/http/openapi.json from the route table (a test keeps it
 * current); `-- --id-type integer|bigint` writes the document of an API on those ids instead.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { idTypeFlag, parseCommandLine, runCommandLine } from '../shared/command-line';
import { openApiDocument } from './openapi';

export const OPENAPI_FILE = path.join(__dirname, 'openapi.json');

const USAGE = `usage: npm run openapi [-- --id-type uuid|bigint|integer] [--out <file>]

Writes the OpenAPI 3.1 document of the route table functions/http/routes.ts, with the ids in the
form of --id-type (default uuid: functions/http/openapi.json, the committed one; bigint or integer:
.local/openapi.<id type>.json).

  --id-type <type>   uuid, bigint or integer (README: Id types)
  --out <file>       write there instead
  -h, --help         this text`;

if (require.main === module) {
  runCommandLine(
    USAGE,
    async () => {
      const { values } = parseCommandLine({ options: { 'id-type': { type: 'string' }, out: { type: 'string' } } });
      const idType = idTypeFlag(values['id-type']) ?? 'uuid';
      const file = values.out ?? (idType === 'uuid' ? OPENAPI_FILE : path.join(process.cwd(), '.local', `openapi.${idType}.json`));
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, `${JSON.stringify(openApiDocument(idType), null, 2)}\n`);
      console.log(`wrote ${path.relative(process.cwd(), file)}`);
      return 0;
    },
    'openapi failed',
  );
}
