// A client for systems that integrate with Lean CRM over Kafka (docs/contract.md), for
// Node.js with kafkajs. It does what the contract asks of a client:
//   - each command goes to its service's topic, keyed by the id of its stream
//     (section 1.1: interaction_id, agent_id, customer_id, feedback_id, improvement_id), with the
//     headers content-type and message_type (section 2);
//   - results are read back from crm.command-results.v1 by ONE consumer group per
//     client instance ("leancrm-client-<name>"), from its committed offsets: a
//     long-running client never reads the topic from the beginning, and a restarted
//     one resumes where it stopped. The group's first start begins at the end of the
//     topic, and the client sends nothing before its consumer has fetched once (so no
//     result of its own can slip past).
//   - a result is matched to the command by command_id; none in time is an error that
//     says what to do: send the command again with the same command_id (the service
//     decides a command once and answers "duplicate" afterwards, section 2.6).
//
// Usage:
//   const { LeanCrmClient } = require('./leancrm_client');
//   const crm = new LeanCrmClient({ brokers: ['localhost:9092'], name: 'billing-1' });
//   await crm.start();
//   const result = await crm.execute('start_interaction', { interaction_id, customer_id,
//     channel: 'phone', reason: 'billing', direction: 'inbound' });
//   // result.status: 'accepted' | 'rejected' | 'duplicate'; result.error: {code, message}
//   await crm.stop();
'use strict';

const crypto = require('node:crypto');
const { Kafka, Partitioners, logLevel } = require('kafkajs');

const RESULTS = 'crm.command-results.v1';

// Section 1 and 1.1: the topic of each command and the field of its data that is its key.
const CUSTOMERS = 'crm.customers.commands.v1';
const INTERACTIONS = 'crm.interactions.commands.v1';
const FEEDBACK = 'crm.feedback.commands.v1';
const IMPROVEMENTS = 'crm.improvements.commands.v1';
const COMMANDS = {
  register_customer: [CUSTOMERS, 'customer_id'],
  change_customer_details: [CUSTOMERS, 'customer_id'],
  change_consent: [CUSTOMERS, 'customer_id'],
  forget_customer: [CUSTOMERS, 'customer_id'],
  start_interaction: [INTERACTIONS, 'interaction_id'],
  identify_customer: [INTERACTIONS, 'interaction_id'],
  queue_interaction: [INTERACTIONS, 'interaction_id'],
  assign_agent: [INTERACTIONS, 'interaction_id'],
  transfer_interaction: [INTERACTIONS, 'interaction_id'],
  start_hold: [INTERACTIONS, 'interaction_id'],
  end_hold: [INTERACTIONS, 'interaction_id'],
  resolve_interaction: [INTERACTIONS, 'interaction_id'],
  abandon_interaction: [INTERACTIONS, 'interaction_id'],
  end_interaction: [INTERACTIONS, 'interaction_id'],
  sign_in_agent: [INTERACTIONS, 'agent_id'],
  sign_out_agent: [INTERACTIONS, 'agent_id'],
  submit_feedback: [FEEDBACK, 'feedback_id'],
  vote_idea: [FEEDBACK, 'feedback_id'],
  start_improvement: [IMPROVEMENTS, 'improvement_id'],
  end_improvement: [IMPROVEMENTS, 'improvement_id'],
};

class ResultTimeout extends Error {
  constructor(commandId, timeoutMs) {
    super(`no result for command ${commandId} within ${timeoutMs} ms; send it again with the ` +
          'same command_id: it is decided once, and answered "duplicate" if it already was');
    this.name = 'ResultTimeout';
    this.commandId = commandId;
  }
}

// A command as section 2.2 wants it, with its topic, key and headers (section 1.1, 2).
function buildCommand(commandType, data, { occurredAt, commandId, correlationId } = {}) {
  const route = COMMANDS[commandType];
  if (!route) throw new Error(`unknown command_type ${commandType}`);
  const [topic, keyField] = route;
  if (data[keyField] === undefined || data[keyField] === null) {
    throw new Error(`${commandType}: data.${keyField} is required (it is the command's key)`);
  }
  const command = {
    command_id: commandId || `cmd-${crypto.randomUUID()}`,
    command_type: commandType,
    occurred_at: (occurredAt || new Date()).toISOString(), // RFC 3339, UTC: ...T09:15:02.120Z
    correlation_id: correlationId || null,
    data,
  };
  return {
    topic,
    command,
    message: {
      key: String(data[keyField]),
      value: JSON.stringify(command),
      headers: { 'content-type': 'application/json', message_type: commandType },
    },
  };
}

class LeanCrmClient {
  // brokers: ['host:port', ...]; name: this instance's stable, unique name (its results
  // consumer group is leancrm-client-<name>); resultTimeoutMs: default wait for a result;
  // kafka: more kafkajs options (ssl, sasl, ...).
  constructor({ brokers, name, resultTimeoutMs = 30000, kafka = {}, log = logLevel.WARN }) {
    if (!/^[A-Za-z0-9._-]{1,100}$/.test(name || '')) {
      throw new Error(`name ${name}: 1-100 letters, digits, '.', '_' or '-'`);
    }
    this.name = name;
    this.groupId = `leancrm-client-${name}`;
    this.resultTimeoutMs = resultTimeoutMs;
    this.pending = new Map(); // command_id -> { resolve, promise }
    this.kafka = new Kafka({
      clientId: this.groupId, brokers, logLevel: log, retry: { retries: 8 }, ...kafka,
      // kafkajs logs to stdout by default; keep stdout for the application
      logCreator: () => ({ label, log: entry }) => console.error(JSON.stringify({ level: label, ...entry })),
    });
    // acks = all and no idempotence: runs on Apache Kafka and on the embedded broker;
    // the Java-compatible partitioner: a key lands on the partition every other client picks
    this.producer = this.kafka.producer({
      idempotent: false, allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    this.consumer = this.kafka.consumer({
      groupId: this.groupId, sessionTimeout: 6000, heartbeatInterval: 2000,
      allowAutoTopicCreation: false,
    });
  }

  // Join the results group and fetch once, then connect the producer.
  async start(timeoutMs = 60000) {
    const fetched = new Promise((resolve) => {
      const off = this.consumer.on(this.consumer.events.FETCH, () => { off(); resolve(); });
    });
    await this.consumer.connect();
    // fromBeginning: false — a group's first start begins at the end of the topic; later
    // starts resume from the group's committed offsets
    await this.consumer.subscribe({ topics: [RESULTS], fromBeginning: false });
    await this.consumer.run({
      autoCommit: true, // kafkajs commits what eachMessage handled
      eachMessage: async ({ message }) => this._take(message.value),
    });
    let timer;
    const late = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the results consumer did not start within ${timeoutMs} ms`)),
                         timeoutMs);
    });
    try {
      await Promise.race([fetched, late]);
    } finally {
      clearTimeout(timer);
    }
    await this.producer.connect();
  }

  _take(value) {
    let result;
    try {
      result = JSON.parse(value.toString('utf8'));
    } catch (err) {
      return; // not a result: passed over
    }
    const waiting = result && this.pending.get(result.command_id);
    if (!waiting) return; // another client's result (the topic is shared)
    this.pending.delete(result.command_id);
    waiting.resolve(result);
  }

  // The promise of command_id's result (also for a command sent before a restart).
  expect(commandId) {
    let waiting = this.pending.get(commandId);
    if (!waiting) {
      waiting = {};
      waiting.promise = new Promise((resolve) => { waiting.resolve = resolve; });
      this.pending.set(commandId, waiting);
    }
    return waiting.promise;
  }

  async waitFor(commandId, timeoutMs = this.resultTimeoutMs) {
    let timer;
    const late = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new ResultTimeout(commandId, timeoutMs)), timeoutMs);
    });
    try {
      return await Promise.race([this.expect(commandId), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  // Produce a command; resolves once the broker has it, with its command_id and where it went.
  async send(commandType, data, options = {}) {
    const { topic, command, message } = buildCommand(commandType, data, options);
    this.expect(command.command_id); // before sending: its result cannot slip by
    const [sent] = await this.producer.send({ topic, acks: -1, messages: [message] });
    return { commandId: command.command_id, topic, partition: sent.partition, offset: sent.baseOffset };
  }

  // Send and await the result: { command_id, command_type, status, event_ids, error, processed_at }.
  async execute(commandType, data, options = {}) {
    const { commandId } = await this.send(commandType, data, options);
    return this.waitFor(commandId, options.timeoutMs);
  }

  async stop() {
    await this.producer.disconnect();
    await this.consumer.disconnect();
  }
}

module.exports = { LeanCrmClient, ResultTimeout, buildCommand, COMMANDS, RESULTS };
