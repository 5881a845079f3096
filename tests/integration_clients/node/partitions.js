#!/usr/bin/env node
// Prints the partition kafkajs's default producer partitioner picks for each key:
//   node partitions.js <partition count> <key> [<key> ...]   ->   [p0, p1, ...]
// (Lean CRM keys every message by customer: every producer of a topic must put a key
// on the same partition, or one customer's commands lose their order.)
'use strict';

const { Partitioners } = require('kafkajs');

const [count, ...keys] = process.argv.slice(2);
const partitionMetadata = Array.from({ length: Number(count) }, (_, i) => ({ partitionId: i, leader: 0 }));
const partitioner = Partitioners.DefaultPartitioner();
console.log(JSON.stringify(keys.map((key) => partitioner({ topic: 't', partitionMetadata, message: { key } }))));
