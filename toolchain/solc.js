#!/usr/bin/env node
// A native-looking `solc` for forge, backed by a pinned solcjs. The compiler version follows the name this file is
// installed under: `solc` loads npm `solc` (0.8.30, contracts/), `solc-0.8.25` loads the npm alias `solc-0.8.25`
// (Symbiotic core and contracts-l1/). scripts/setup.sh installs one copy per name.
// forge calls `solc --version` and `solc --standard-json [--base-path P] [--include-path P]...
// [--allow-paths P]` with the input JSON on stdin. Imports are resolved against the base path and every
// include path, the way native solc does.
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require(path.join(__dirname, 'node_modules', path.basename(process.argv[1])));

const args = process.argv.slice(2);
if (args.includes('--version')) {
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
  process.exit(0);
}
if (!args.includes('--standard-json')) {
  process.stderr.write('this solc shim only supports --version and --standard-json\n');
  process.exit(1);
}

const roots = [];
for (let i = 0; i < args.length; i++) {
  if ((args[i] === '--base-path' || args[i] === '--include-path') && args[i + 1]) roots.push(args[++i]);
}
if (roots.length === 0) roots.push(process.cwd());

function findImports(importPath) {
  const candidates = path.isAbsolute(importPath) ? [importPath] : roots.map((r) => path.resolve(r, importPath));
  for (const candidate of candidates) {
    try {
      return { contents: fs.readFileSync(candidate, 'utf8') };
    } catch (_) {
      // try the next root
    }
  }
  return { error: `File not found: ${importPath} (searched ${roots.join(', ')})` };
}

const input = fs.readFileSync(0, 'utf8');
process.stdout.write(solc.compile(input, { import: findImports }));
