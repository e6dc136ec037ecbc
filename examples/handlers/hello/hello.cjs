#!/usr/bin/env node
// A minimal Azure-protocol handler: reads HandlerEnvironment.json and its settings, greets,
// and writes status/<seq>.status as the protocol asks. Any language works; this one is Node.
const fs = require('node:fs');
const path = require('node:path');

const op = process.argv[2];
const env = JSON.parse(fs.readFileSync(path.join(__dirname, 'HandlerEnvironment.json'), 'utf8'))[0].handlerEnvironment;
const seq = process.env.ConfigSequenceNumber || '0';
const settingsText = fs.readFileSync(path.join(env.configFolder, `${seq}.settings`), 'utf8');
const settings = settingsText.trim() ? JSON.parse(settingsText).runtimeSettings[0].handlerSettings : {};
const who = (settings.publicSettings && settings.publicSettings.greeting) || 'world';

function status(state, message) {
  const doc = [{ version: '1.0', timestampUTC: new Date().toISOString(),
    status: { name: 'Example.Hello', operation: op, status: state, code: 0, formattedMessage: { lang: 'en-US', message } } }];
  const file = path.join(env.statusFolder, `${seq}.status`);
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(doc));
  fs.renameSync(`${file}.tmp`, file);
}

console.log(`hello handler: ${op} (sequence ${seq})`);
if (op === 'enable') status('success', `Hello, ${who}!`);
if (op === 'disable') status('success', 'disabled');
