/** Where things are, resolved from this file so synth works from any working directory. */
import path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..');
export const MIGRATIONS_DIR = path.join(REPO_ROOT, 'migrations');
export const LOCK_FILE = path.join(REPO_ROOT, 'package-lock.json');

/** An entry of the route table (or any source path) relative to the repository root. */
export function fromRoot(relative: string): string {
  return path.join(REPO_ROOT, relative);
}
