#!/usr/bin/env node
// One self-service contact told to Lean CRM, as contract section 7.4 gives it: register
// the customer, start the interaction, identify, resolve, end — each command awaited by
// its result. Prints one JSON line per result on stdout; exit code 1 if any was not
// accepted, 2 on a timeout.
//
//   npm install && KAFKA_BOOTSTRAP=localhost:9092 node example.js
//   KAFKA_BOOTSTRAP  host:port[,host:port...]   (required)
//   CLIENT_NAME      this instance's name (default: example-<random>)
//   TIMEOUT_MS       wait for each result (default 30000)
'use strict';

const crypto = require('node:crypto');
const { LeanCrmClient, ResultTimeout } = require('./leancrm_client');

async function main() {
  const bootstrap = process.env.KAFKA_BOOTSTRAP;
  if (!bootstrap) {
    console.error('KAFKA_BOOTSTRAP is not set');
    process.exit(64);
  }
  const crm = new LeanCrmClient({
    brokers: bootstrap.split(','),
    name: process.env.CLIENT_NAME || `example-${crypto.randomUUID().slice(0, 8)}`,
    resultTimeoutMs: Number(process.env.TIMEOUT_MS || 30000),
  });
  await crm.start();
  const customerId = crypto.randomUUID();
  const interactionId = crypto.randomUUID();
  const t0 = Date.now();
  const at = (seconds) => ({ occurredAt: new Date(t0 + seconds * 1000) });
  const steps = [
    ['register_customer', { customer_id: customerId, name: 'Grace Hopper', email: null, phone: null,
                            segment: 'business' }, at(0)],
    ['start_interaction', { interaction_id: interactionId, customer_id: customerId,
                            channel: 'web_self_service', reason: 'order_status', direction: 'inbound' }, at(0)],
    ['identify_customer', { interaction_id: interactionId, step: 'self_service', method: 'login' }, at(10)],
    ['resolve_interaction', { interaction_id: interactionId, resolved_by: 'self_service' }, at(120)],
    ['end_interaction', { interaction_id: interactionId }, at(125)],
  ];
  let failed = false;
  try {
    for (const [type, data, options] of steps) {
      const result = await crm.execute(type, data, options);
      process.stdout.write(JSON.stringify(result) + '\n');
      if (result.status !== 'accepted') failed = true;
    }
  } catch (err) {
    console.error(err.message);
    process.exitCode = err instanceof ResultTimeout ? 2 : 1;
  } finally {
    await crm.stop();
  }
  if (failed && !process.exitCode) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
