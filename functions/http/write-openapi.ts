/** `npm run openapi`: writes functions/http/openapi.json from the route table (a test keeps it current). */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { openApiDocument } from './openapi';

export const OPENAPI_FILE = path.join(__dirname, 'openapi.json');

if (require.main === module) {
  writeFileSync(OPENAPI_FILE, `${JSON.stringify(openApiDocument(), null, 2)}\n`);
  console.log(`wrote ${path.relative(process.cwd(), OPENAPI_FILE)}`);
}
