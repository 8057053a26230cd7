// Conversation state: the CLI's own session files, carried from one turn to the next (DESIGN.md §9).
//
// The bundled CLI keeps a session as `<config dir>/projects/<munged cwd>/<sdk session id>.jsonl` plus a folder
// `<sdk session id>/` beside it (subagent transcripts, tool output too large to inline). `resume: <id>` finds the
// transcript in any folder under `projects/`, appends to it in place and keeps the session id, so restoring the
// files under the same relative paths is all a resume needs: the cwd may differ (the CLI tells the model the
// working directory moved). The files are opaque CLI records; we copy them byte for byte and never parse them.

import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

// A state line stays well below the supervisor's `--max-line` (1 MiB by default) even after JSON escaping,
// which can grow text up to 6x for control characters (about 1.1x for ordinary transcripts).
export const CHUNK_CHARS = 128 * 1024;
// Large tool outputs the CLI saved to files are worth carrying (the model was shown only a preview and their
// path), but not without bound; transcripts and subagent transcripts are always carried.
const MAX_TOOL_RESULTS_BYTES = 16 * 1024 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class BadConversation extends Error {}

/// Where the CLI keeps its files: it honours CLAUDE_CONFIG_DIR, else `~/.claude`.
export function configDir(env) {
  return env.CLAUDE_CONFIG_DIR || path.join(env.HOME || os.homedir(), '.claude');
}

/// Checks the job's `conversation` field: `{sdkSessionId, configDir, files: [{path, content, encoding?}]}`.
export function parseConversation(value) {
  const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (value === undefined || value === null) return null;
  if (!isObject(value)) throw new BadConversation('job spec field `conversation` must be an object');
  const { sdkSessionId, configDir: previousDir, files } = value;
  if (typeof sdkSessionId !== 'string' || !UUID.test(sdkSessionId)) {
    throw new BadConversation('`conversation.sdkSessionId` must be a UUID');
  }
  if (typeof previousDir !== 'string' || !path.isAbsolute(previousDir)) {
    throw new BadConversation('`conversation.configDir` must be an absolute path');
  }
  if (!Array.isArray(files) || files.length === 0) throw new BadConversation('`conversation.files` must be a non-empty array');
  for (const [i, file] of files.entries()) {
    const where = `conversation.files[${i}]`;
    if (!isObject(file) || typeof file.path !== 'string' || typeof file.content !== 'string') {
      throw new BadConversation(`\`${where}\` must be {path, content, encoding?}`);
    }
    if (!['utf8', 'base64', undefined].includes(file.encoding)) throw new BadConversation(`\`${where}.encoding\` must be utf8 or base64`);
    // Only the session's own files under `projects/`: the state must not be able to plant settings or hooks.
    const parts = file.path.split('/');
    const inside = parts.length >= 3 && parts[0] === 'projects' && !parts.some((p) => p === '' || p === '.' || p === '..');
    if (!inside || !(parts[2] === `${sdkSessionId}.jsonl` || (parts[2] === sdkSessionId && parts.length > 3))) {
      throw new BadConversation(`\`${where}.path\` must be projects/<dir>/${sdkSessionId}.jsonl or below projects/<dir>/${sdkSessionId}/`);
    }
  }
  if (!files.some((f) => f.path.split('/').length === 3)) throw new BadConversation('`conversation.files` lacks the transcript');
  return { sdkSessionId, configDir: previousDir, files };
}

/// Writes the previous turn's files under this turn's config dir. Absolute paths into the previous config dir
/// (where the CLI saved large tool outputs, and told the model so) are moved to the new one, so they still
/// resolve; everything else stays byte for byte.
export async function restore(conversation, dir) {
  const from = `${conversation.configDir}/projects/`;
  const to = `${dir}/projects/`;
  for (const file of conversation.files) {
    let data;
    if (file.encoding === 'base64') data = Buffer.from(file.content, 'base64');
    else data = from === to ? file.content : file.content.replaceAll(from, to);
    const target = path.join(dir, ...file.path.split('/'));
    await mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
    await writeFile(target, data, { mode: 0o600, flag: 'wx' });
  }
}

async function walk(root, rel, out) {
  for (const entry of await readdir(path.join(root, rel), { withFileTypes: true })) {
    const child = `${rel}/${entry.name}`;
    if (entry.isDirectory()) await walk(root, child, out);
    else if (entry.isFile()) out.push(child);
  }
}

/// Reads the session's files back after the CLI has exited: `projects/<dir>/<id>.jsonl` and everything below
/// `projects/<dir>/<id>/`. Null when the CLI wrote no transcript (it failed before the first message).
export async function capture(dir, sdkSessionId) {
  const projects = path.join(dir, 'projects');
  let folders;
  try {
    folders = await readdir(projects, { withFileTypes: true });
  } catch (err) {
    if (err.code === 'ENOENT') return null;
    throw err;
  }
  for (const folder of folders.filter((f) => f.isDirectory())) {
    const base = `projects/${folder.name}`;
    const transcript = `${base}/${sdkSessionId}.jsonl`;
    try {
      await stat(path.join(dir, transcript));
    } catch (err) {
      if (err.code === 'ENOENT') continue;
      throw err;
    }
    const paths = [transcript];
    try {
      await walk(dir, `${base}/${sdkSessionId}`, paths);
    } catch (err) {
      if (err.code !== 'ENOENT') throw err;
    }
    const files = [];
    let toolResultBytes = 0;
    for (const rel of paths) {
      const data = await readFile(path.join(dir, rel));
      if (rel.includes('/tool-results/')) {
        toolResultBytes += data.length;
        if (toolResultBytes > MAX_TOOL_RESULTS_BYTES) {
          process.stderr.write(`agent-runner: conversation state leaves out ${rel} (saved tool output past the cap)\n`);
          continue;
        }
      }
      const text = data.toString('utf8');
      files.push(Buffer.from(text, 'utf8').equals(data) ? { path: rel, content: text } : { path: rel, content: data.toString('base64'), encoding: 'base64' });
    }
    return { sdkSessionId, configDir: dir, files };
  }
  return null;
}

// Splits text into pieces of at most `size` UTF-16 units, preferring line ends, never inside a surrogate pair.
// Cutting at line ends keeps each JSONL record (and any secret in it) whole within one line, so the
// supervisor's redaction still sees it.
export function split(text, size = CHUNK_CHARS) {
  const pieces = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(start + size, text.length);
    if (end < text.length) {
      const newline = text.lastIndexOf('\n', end - 1);
      if (newline >= start) end = newline + 1;
      else if (/[\uD800-\uDBFF]/.test(text[end - 1])) end -= 1;
    }
    pieces.push(text.slice(start, end));
    start = end;
  }
  return pieces.length > 0 ? pieces : [''];
}

/// The state as NDJSON lines: `conversation.state` lines, one per piece of a file, in order; the last one has
/// `last: true`. A reader concatenates `data` per `path` (pieces of one file are consecutive) and keeps the
/// state only once it has seen `last`, so a runner killed halfway leaves the previous state in place.
export function stateLines(state) {
  const lines = [];
  for (const file of state.files) {
    for (const data of split(file.content)) {
      lines.push({ type: 'conversation.state', sdkSessionId: state.sdkSessionId, configDir: state.configDir, seq: lines.length, path: file.path, ...(file.encoding ? { encoding: file.encoding } : {}), data });
    }
  }
  lines[lines.length - 1].last = true;
  return lines;
}
