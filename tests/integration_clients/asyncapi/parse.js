#!/usr/bin/env node
// Parses an AsyncAPI document with the AsyncAPI Initiative's parser, as an integrator's
// tooling (code generators, documentation) would, and prints its verdict as JSON:
// {"parsed": bool, "diagnostics": [{severity, code, message, path}], "operations": [...]}
'use strict';

const fs = require('node:fs');
const { Parser } = require('@asyncapi/parser');

(async () => {
  const { document, diagnostics } = await new Parser().parse(fs.readFileSync(process.argv[2], 'utf8'));
  const out = {
    parsed: Boolean(document),
    diagnostics: diagnostics.map((d) => ({ severity: d.severity, code: d.code, message: d.message, path: d.path })),
    operations: document ? document.operations().all().map((op) => ({
      id: op.id(), action: op.action(), channel: op.channels().all().map((c) => c.address()),
      reply: op.reply() ? op.reply().channel().address() : null,
    })) : [],
    servers: document ? document.servers().all().map((s) => ({ id: s.id(), protocol: s.protocol() })) : [],
  };
  process.stdout.write(JSON.stringify(out));
})().catch((err) => { console.error(err); process.exit(1); });
