/**
 * Imported first by run.ts, before any product module: the handlers' Powertools
 * logger and metrics would otherwise print a JSON line per request, and the last
 * migration its status line.
 */
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.EMS_QUIET_MIGRATIONS ??= '1';
// Dev mode makes Powertools Metrics write through the global console (and disables it, as above).
process.env.POWERTOOLS_DEV ??= 'true';

// One process serves many requests at once locally (a Lambda serves one at a time), so the
// handlers' per-request metric dimension is re-added before the previous request flushed it.
// That warning says nothing about the code under measure: drop it, keep every other warning.
const warn = console.warn.bind(console);
console.warn = (...args: unknown[]) => {
  if (typeof args[0] === 'string' && args[0].startsWith('Dimension "route" has already been added')) return;
  warn(...args);
};

export {};
