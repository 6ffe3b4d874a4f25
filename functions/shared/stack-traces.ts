/**
 * Stack traces of a deployed function point at the TypeScript sources (`.../functions/...ts:line:column`),
 * as Node's --enable-source-maps would make them, but the bundle's source map is read only when a
 * stack is first formatted: the flag reads and indexes it while the bundle loads, on every cold
 * start (about a tenth of an API handler's cold load, bench step g), for the rare error that needs it.
 *
 * Only a bundle has a map beside it (index.js.map); run from the sources (tsx, vitest), nothing is
 * installed and their own source mapping is left alone.
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import path from 'node:path';

/** A frame's position in the sources, or undefined when the map does not cover it. */
type Locate = (line: number, column: number) => { source: string; line: number; column: number; name?: string } | undefined;

function loadMap(mapFile: string): Locate {
  const directory = path.dirname(mapFile);
  let map: SourceMap | null | undefined;
  return (line, column) => {
    if (map === undefined) {
      try {
        map = new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8')));
      } catch {
        map = null;
      }
    }
    const entry = map?.findEntry(line - 1, column - 1);
    if (!entry || !('originalSource' in entry)) return undefined;
    return {
      // Relative to the map, as Node resolves them: the path the source had where the bundle was built.
      source: path.resolve(directory, entry.originalSource),
      line: entry.originalLine + 1,
      column: entry.originalColumn + 1,
      // Node gives the original name too (not in its typings): the minified one would say nothing.
      name: (entry as { name?: string }).name,
    };
  };
}

type Original = ReturnType<Locate>;

function originalOf(site: NodeJS.CallSite, bundle: string, locate: Locate): Original {
  const line = site.getLineNumber();
  const column = site.getColumnNumber();
  return site.getFileName() === bundle && line !== null && column !== null ? locate(line, column) : undefined;
}

/**
 * A frame as Node prints it with source maps: a function's own name may be minified, so (as Node
 * does) the name is the one its caller's call expression has in the sources, when the map has it.
 */
function formatFrame(site: NodeJS.CallSite, original: Original, caller: Original): string {
  if (!original) return `    at ${site.toString()}`;
  const where = `${original.source}:${original.line}:${original.column}`;
  const name = caller?.name ?? site.getFunctionName();
  return `    at ${site.isAsync() ? 'async ' : ''}${name ? `${name} (${where})` : where}`;
}

/** Installs the lazy source-mapped stack traces for the bundle `bundle` (its `__filename`), if it has a map and Node does not map stacks itself. */
export function installSourceMappedStackTraces(bundle: string): void {
  const mapFile = `${bundle}.map`;
  if (process.sourceMapsEnabled || !existsSync(mapFile)) return;
  const locate = loadMap(mapFile);
  Error.prepareStackTrace = (error, sites) => {
    let header: string;
    try {
      header = String(error);
    } catch {
      header = '<error>';
    }
    const originals = sites.map((site) => originalOf(site, bundle, locate));
    return [header, ...sites.map((site, i) => formatFrame(site, originals[i], originals[i + 1]))].join('\n');
  };
}
