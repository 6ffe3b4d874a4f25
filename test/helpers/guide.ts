/**
 * The user's migration guide (`../shared/reference/messaging-migration-guide.md`,
 * next to the repository), read so tests can use its SQL and commands verbatim.
 * Absent outside the project's workspace: callers then skip guide-text assertions.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../functions/database/local-postgres';

export const GUIDE_PATH = path.resolve(PROJECT_ROOT, '..', 'shared', 'reference', 'messaging-migration-guide.md');

export function readGuide(): string | null {
  return existsSync(GUIDE_PATH) ? readFileSync(GUIDE_PATH, 'utf8') : null;
}

/** The section of `guide` under the `## heading` (up to the next `## `). */
function section(guide: string, heading: string): string {
  const start = guide.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`guide has no section "## ${heading}"`);
  const end = guide.indexOf('\n## ', start + 1);
  return guide.slice(start, end < 0 ? undefined : end);
}

function codeBlocks(text: string, language: string): string[] {
  const blocks: string[] = [];
  const pattern = new RegExp('```' + language + '\\n([\\s\\S]*?)```', 'g');
  for (const match of text.matchAll(pattern)) blocks.push(match[1]!);
  return blocks;
}

/** SQL statements of a block: comment lines dropped, statements separated by blank lines. */
function statements(block: string): string[] {
  return block
    .split('\n')
    .filter((line) => !line.trim().startsWith('--'))
    .join('\n')
    .split(/\n\s*\n/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The guide's "Post-Migration Verification" SQL, statement by statement in the guide's order. */
export function guideVerificationSql(guide: string): string[] {
  return codeBlocks(section(guide, 'Post-Migration Verification'), 'sql').flatMap(statements);
}

/** Every shell command of the guide that starts with `prefix` (e.g. `npx knex migrate:up`), in order. */
export function guideCommands(guide: string, prefix: string): string[] {
  return codeBlocks(guide, 'bash')
    .flatMap((block) => block.split('\n'))
    .map((line) => line.trim())
    .filter((line) => line.startsWith(prefix));
}
