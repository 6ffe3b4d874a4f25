/** `cdk synth` / `cdk deploy` entry point (cdk.json: `npx tsx infra/app.ts`). */
import { buildEmsApp } from './ems-app';

buildEmsApp();
