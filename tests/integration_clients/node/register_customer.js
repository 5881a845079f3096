#!/usr/bin/env node
// Another system integrating with Lean CRM over Kafka, as contract v1 describes it:
// produce a `register_customer` command to crm.customers.commands.v1 (key = customer_id,
// headers content-type and message_type), then consume the resulting
// `customer.registered` event from crm.customers.events.v1 and the command's result
// from crm.command-results.v1, and print both as one JSON object on stdout.
//
// Usage: node register_customer.js   (settings from the environment)
//   KAFKA_BOOTSTRAP   host:port[,host:port...]           (required)
//   CUSTOMER_ID       a UUID (default: a new one)
//   COMMAND_ID        default: "kafkajs-<uuid>"
//   CUSTOMER_NAME / CUSTOMER_EMAIL / CUSTOMER_SEGMENT    (defaults below)
//   TIMEOUT_MS        give up after this long (default 60000); exit code 2
//
// Options chosen so the same code runs on Apache Kafka and on the embedded
// Kafka-protocol broker used in development (see shared/notes/embedded-broker.md):
// no idempotent or transactional producer, acks = all, a fresh consumer group that
// reads from the beginning (never from the "latest" offset), Kafka's minimum session
// timeout, and the Java-compatible (murmur2) partitioner so that a key lands on the
// same partition as with every other client.
'use strict';

const crypto = require('node:crypto');
const { Kafka, Partitioners, logLevel } = require('kafkajs');

const COMMANDS = 'crm.customers.commands.v1';
const EVENTS = 'crm.customers.events.v1';
const RESULTS = 'crm.command-results.v1';

const bootstrap = process.env.KAFKA_BOOTSTRAP;
if (!bootstrap) {
  console.error('KAFKA_BOOTSTRAP is not set');
  process.exit(64);
}
const customerId = process.env.CUSTOMER_ID || crypto.randomUUID();
const commandId = process.env.COMMAND_ID || `kafkajs-${crypto.randomUUID()}`;
const timeoutMs = Number(process.env.TIMEOUT_MS || 60000);

// kafkajs logs through console (stdout) by default: send its log lines to stderr so
// that stdout carries only the result.
const toStderr = () => ({ namespace, level, label, log }) => {
  const { message, ...extra } = log;
  console.error(JSON.stringify({ level: label, namespace, message, ...extra }));
};

const kafka = new Kafka({
  clientId: 'leancrm-kafkajs-example',
  brokers: bootstrap.split(','),
  logLevel: logLevel.WARN,
  logCreator: toStderr,
  retry: { retries: 8 },
});

function decode(message) {
  const headers = {};
  for (const [name, value] of Object.entries(message.headers || {})) {
    headers[name] = Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
  }
  return {
    key: message.key ? message.key.toString('utf8') : null,
    headers,
    value: JSON.parse(message.value.toString('utf8')),
  };
}

async function main() {
  const command = {
    command_id: commandId,
    command_type: 'register_customer',
    occurred_at: new Date().toISOString(), // RFC 3339, e.g. 2026-11-23T09:15:02.120Z
    correlation_id: `kafkajs-example-${crypto.randomUUID()}`,
    data: {
      customer_id: customerId,
      name: process.env.CUSTOMER_NAME || 'Grace Hopper',
      email: process.env.CUSTOMER_EMAIL || 'grace@example.com',
      phone: null,
      segment: process.env.CUSTOMER_SEGMENT || 'business',
    },
  };

  const producer = kafka.producer({
    idempotent: false,
    allowAutoTopicCreation: false, // the services create their topics at start-up
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  const consumer = kafka.consumer({
    groupId: `leancrm-kafkajs-example-${crypto.randomUUID()}`,
    sessionTimeout: 6000,
    heartbeatInterval: 2000,
    allowAutoTopicCreation: false,
  });

  let event = null;
  let result = null;
  let finish;
  const done = new Promise((resolve) => { finish = resolve; });
  const timer = setTimeout(() => finish('timeout'), timeoutMs);

  try {
    await producer.connect();
    const [sent] = await producer.send({
      topic: COMMANDS,
      acks: -1,
      messages: [{
        key: customerId,
        value: JSON.stringify(command),
        headers: { 'content-type': 'application/json', message_type: command.command_type },
      }],
    });

    await consumer.connect();
    await consumer.subscribe({ topics: [EVENTS, RESULTS], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        let decoded;
        try {
          decoded = decode(message);
        } catch (err) {
          return; // not JSON: not ours (the contract routes such records to the DLQ)
        }
        const where = { topic, partition, offset: message.offset };
        const v = decoded.value;
        if (topic === EVENTS && v.event_type === 'customer.registered' && v.customer_id === customerId) {
          event = { ...where, ...decoded };
        } else if (topic === RESULTS && v.command_id === commandId) {
          result = { ...where, ...decoded };
        }
        if (event && result) finish('ok');
      },
    });

    const outcome = await done;
    if (outcome !== 'ok') {
      console.error(`timed out after ${timeoutMs} ms: event ${event ? 'seen' : 'missing'}, ` +
                    `result ${result ? 'seen' : 'missing'}`);
      process.exitCode = 2;
    }
    process.stdout.write(JSON.stringify({
      command,
      produced: { topic: COMMANDS, partition: sent.partition, offset: sent.baseOffset },
      event,
      result,
    }) + '\n');
  } finally {
    clearTimeout(timer);
    await consumer.disconnect().catch(() => {});
    await producer.disconnect().catch(() => {});
  }
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
