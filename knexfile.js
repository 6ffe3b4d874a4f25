// The knex CLI loads this file. The project is TypeScript: tsx's require hook lets the
// CLI load the TypeScript configuration and migrations. Every runner (this CLI, `npm run
// migrate:messaging`, the migration Lambda) builds its config in the same module, so the
// names recorded in knex_migrations are the same whichever runs them.
require('tsx/cjs');
module.exports = require('./functions/database/knex-config.ts').cliKnexConfig();
