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

export {};
