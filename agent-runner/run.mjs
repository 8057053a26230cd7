#!/usr/bin/env node
// Runs one Claude Agent SDK query and prints every SDK message as one JSON line on stdout.
//
// The job spec (protocol `RunnerJob`) arrives as one JSON document on stdin. The supervisor parses stdout
// line by line, so stdout carries nothing but SDK messages; diagnostics go to stderr.
//
// A job with `conversation` continues an earlier SDK session (conversation.mjs); after every turn whose CLI
// wrote a transcript, `conversation.state` lines carry the session's files for the next turn.
//
// Exit status: 0 only after a `result` with subtype "success" and is_error false; 1 for any other ending;
// 2 for a missing or malformed job spec; 128+N when stopped by signal N (SIGTERM → 143, SIGINT → 130).

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { query } from '@anthropic-ai/claude-agent-sdk';

import { BadDatabases, databaseOptions, parseDatabases } from './databases.mjs';
import { BadConversation, capture, configDir, parseConversation, restore, stateLines } from './conversation.mjs';

const EXIT_FAILED = 1;
const EXIT_BAD_JOB = 2;
const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 };
// After a signal the CLI gets this long to stop its tools and exit before it is killed; well within the
// supervisor's grace period, so we still exit with our own status.
const SIGNAL_DEADLINE_MS = 1500;
// The CLI appends the turn's last records as it exits; the state is read only after that, or after this long.
const CLI_EXIT_DEADLINE_MS = 10_000;

// The job options, passed to the SDK under the same names. Anything else in `options` is refused: a misspelt
// option must stop the run, not let the agent run without the limit its caller asked for (as in the protocol crate).
const OPTION_NAMES = [
  'model',
  'maxTurns',
  'allowedTools',
  'disallowedTools',
  'systemPrompt',
  'permissionMode',
  'maxBudgetUsd',
  'mcpServers',
];

class BadJob extends Error {}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function parseJob(text) {
  if (text.trim() === '') throw new BadJob('no job spec on stdin (expected one JSON object)');
  let job;
  try {
    job = JSON.parse(text);
  } catch (err) {
    throw new BadJob(`job spec is not valid JSON: ${err.message}`);
  }
  const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (!isObject(job)) throw new BadJob('job spec must be a JSON object');
  if (typeof job.prompt !== 'string' || job.prompt === '') {
    throw new BadJob('job spec field `prompt` must be a non-empty string');
  }
  if (typeof job.cwd !== 'string' || job.cwd === '') {
    throw new BadJob('job spec field `cwd` must be a non-empty string');
  }
  const options = job.options ?? {};
  if (!isObject(options)) throw new BadJob('job spec field `options` must be an object');
  for (const name of Object.keys(options)) {
    if (!OPTION_NAMES.includes(name)) throw new BadJob(`job spec has unknown option \`options.${name}\``);
  }
  let conversation;
  try {
    conversation = parseConversation(job.conversation);
  } catch (err) {
    if (err instanceof BadConversation) throw new BadJob(err.message);
    throw err;
  }
  let databases;
  try {
    databases = parseDatabases(job.databases);
  } catch (err) {
    if (err instanceof BadDatabases) throw new BadJob(err.message);
    throw err;
  }
  return { ...job, options, conversation, databases };
}

// Null means "not set" in the job spec; the SDK wants such options absent rather than null.
function sdkOptions(job, abortController, spawnClaude) {
  const options = {};
  for (const name of OPTION_NAMES) {
    const value = job.options[name];
    if (value !== null && value !== undefined) options[name] = value;
  }
  options.permissionMode ??= 'bypassPermissions';
  if (options.permissionMode === 'bypassPermissions') options.allowDangerouslySkipPermissions = true;
  // The same session id: the CLI appends this turn to the restored transcript instead of forking a new one.
  if (job.conversation !== null) options.resume = job.conversation.sdkSessionId;
  return {
    // The job's databases as MCP servers (databases.mjs), their tools auto-allowed.
    ...databaseOptions(job.databases, options),
    cwd: job.cwd,
    // User-level skills (baked into the image) and the session's project skills; never `local` settings.
    settingSources: ['user', 'project'],
    // Given `env`, the SDK replaces the CLI's environment instead of merging, so pass ours on whole.
    env: { ...process.env },
    // MCP servers (with their `env` and `headers`, secrets often) go to the CLI over stdin in the initialize
    // request, not in `--mcp-config` on its command line, which every user can read in /proc/<pid>/cmdline.
    mcpServersDelivery: 'initialize',
    abortController,
    spawnClaudeCodeProcess: spawnClaude,
  };
}

// Awaiting 'drain' keeps memory bounded when the supervisor reads slower than the agent talks.
async function writeLine(message) {
  if (!process.stdout.write(`${JSON.stringify(message)}\n`)) await once(process.stdout, 'drain');
}

// The write callback fires once everything queued before it reached the pipe, so nothing is lost on exit.
function flushStdout() {
  return new Promise((resolve) => process.stdout.write('', () => resolve()));
}

// Resolves once the CLI has exited (at once if it has), or after `ms`.
function cliExited(cli, ms) {
  if (cli === null || cli.exitCode !== null || cli.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    cli.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

async function exit(code) {
  await flushStdout();
  process.exit(code);
}

async function main() {
  // Any way out other than the explicit exits below is a failure, never a silent 0.
  process.exitCode = EXIT_FAILED;

  let cli = null; // the claude CLI process, once the SDK has started it
  let stoppedBy = null;
  const abortController = new AbortController();
  const onSignal = (signal) => {
    if (stoppedBy !== null || cli === null) {
      // A second signal, or nothing started yet: no reason to wait.
      cli?.kill('SIGKILL');
      process.exit(SIGNAL_EXIT[signal]);
    }
    stoppedBy = signal;
    process.stderr.write(`agent-runner: ${signal} received, stopping the agent\n`);
    abortController.abort();
    // The SDK's abort only closes the CLI's stdin and waits ~2 s before signalling it; SIGTERM now makes
    // the CLI stop its tools and exit at once, which ends the message loop below.
    cli.kill('SIGTERM');
    setTimeout(() => {
      cli.kill('SIGKILL');
      exit(SIGNAL_EXIT[signal]);
    }, SIGNAL_DEADLINE_MS);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // The supervisor may close our stdout early; that is its choice, not a crash worth a stack trace.
  process.stdout.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(EXIT_FAILED);
    throw err;
  });

  let job;
  try {
    job = parseJob(await readStdin());
  } catch (err) {
    if (!(err instanceof BadJob)) throw err;
    process.stderr.write(`agent-runner: ${err.message}\n`);
    return exit(EXIT_BAD_JOB);
  }

  // We spawn the CLI ourselves (as the SDK would) only to hold its handle for the signal handler above.
  // Its stderr goes straight to ours, where the supervisor keeps the tail as the session's error.
  const spawnClaude = ({ command, args, cwd, env, signal }) => {
    cli = spawn(command, args, { cwd, env, signal, stdio: ['pipe', 'pipe', 'inherit'] });
    return cli;
  };

  const claudeDir = configDir(process.env);
  if (job.conversation !== null) {
    try {
      await restore(job.conversation, claudeDir);
    } catch (err) {
      process.stderr.write(`agent-runner: restore the conversation: ${err.message}\n`);
      return exit(EXIT_FAILED);
    }
  }

  let lastResult = null;
  let sdkSessionId = null;
  try {
    for await (const message of query({ prompt: job.prompt, options: sdkOptions(job, abortController, spawnClaude) })) {
      await writeLine(message);
      if (message.type === 'system' && message.subtype === 'init') sdkSessionId ??= message.session_id;
      if (message.type === 'result') lastResult = message;
    }
  } catch (err) {
    if (stoppedBy === null) process.stderr.write(`agent-runner: query failed: ${err.message ?? err}\n`);
  }

  if (stoppedBy !== null) return exit(SIGNAL_EXIT[stoppedBy]);
  // After a failed turn too: its transcript holds what the agent did, and the next turn continues from there.
  if (sdkSessionId !== null) {
    await cliExited(cli, CLI_EXIT_DEADLINE_MS);
    try {
      const state = await capture(claudeDir, sdkSessionId);
      if (state !== null) for (const line of stateLines(state)) await writeLine(line);
    } catch (err) {
      process.stderr.write(`agent-runner: read the conversation state: ${err.message}\n`);
      return exit(EXIT_FAILED);
    }
  }
  if (lastResult === null) {
    process.stderr.write('agent-runner: the query ended without a result message\n');
    return exit(EXIT_FAILED);
  }
  if (lastResult.subtype !== 'success' || lastResult.is_error) {
    process.stderr.write(
      `agent-runner: the query ended unsuccessfully (subtype ${lastResult.subtype}, is_error ${lastResult.is_error})\n`,
    );
    return exit(EXIT_FAILED);
  }
  return exit(0);
}

main().catch((err) => {
  process.stderr.write(`agent-runner: ${err.stack ?? err}\n`);
  process.exit(EXIT_FAILED);
});
