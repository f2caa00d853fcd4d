#!/usr/bin/env node
'use strict';
// The `corral` command. Runs the compiled CLI; `npm run build` (part of `npm start`) produces it.
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const entry = join(__dirname, '..', 'dist', 'apps', 'cli', 'src', 'main.js');
if (!existsSync(entry)) {
  process.stderr.write(
    'corral is not built yet: run `npm run build` (or `npm start`) in ' + join(__dirname, '..') + '\n',
  );
  process.exit(1);
}
require(entry);
