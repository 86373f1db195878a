#!/usr/bin/env node
// Runs the compiled CLI: `npm install` builds it (the prepare script), `npm run build` rebuilds it.
await import("../dist/cli/main.js");
