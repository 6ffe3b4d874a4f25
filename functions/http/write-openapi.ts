/** `npm run openapi`: writes functions/http/openapi.json from the route table (a test keeps it current). */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseCommandLine, runCommandLine } from '../shared/command-line';
import { openApiDocument } from './openapi';

export const OPENAPI_FILE = path.join(__dirname, 'openapi.json');

const USAGE = `usage: npm run openapi

Writes functions/http/openapi.json (OpenAPI 3.1) from the route table functions/http/routes.ts.

  -h, --help   this text`;

if (require.main === module) {
  runCommandLine(
    USAGE,
    async () => {
      parseCommandLine({ options: {} });
      writeFileSync(OPENAPI_FILE, `${JSON.stringify(openApiDocument(), null, 2)}\n`);
      console.log(`wrote ${path.relative(process.cwd(), OPENAPI_FILE)}`);
      return 0;
    },
    'openapi failed',
  );
}
