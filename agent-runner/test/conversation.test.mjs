// Table tests for the pure parts of conversation.mjs: how state is cut into lines and which `conversation`
// fields a job may carry. Run with `npm test` (node --test).

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { CHUNK_CHARS, capture, parseConversation, restore, split, stateLines } from '../conversation.mjs';

const ID = '46a3fd50-1234-4abc-8def-0123456789ab';
const TRANSCRIPT = `projects/-workspace-sessions-s1/${ID}.jsonl`;

test('split cuts text into pieces that rejoin to the input, preferring line ends', () => {
  const pair = '\u{1F600}'; // two UTF-16 units
  const cases = [
    { name: 'empty text is one empty piece', text: '', size: 4, pieces: [''] },
    { name: 'short text is one piece', text: 'ab\ncd', size: 8, pieces: ['ab\ncd'] },
    { name: 'exactly the size is one piece', text: 'abcd', size: 4, pieces: ['abcd'] },
    { name: 'cuts after the last newline within the size', text: 'ab\ncd\nef', size: 7, pieces: ['ab\ncd\n', 'ef'] },
    { name: 'a line longer than the size is cut hard', text: 'abcdefghij', size: 4, pieces: ['abcd', 'efgh', 'ij'] },
    { name: 'a hard cut never splits a surrogate pair', text: `abc${pair}d`, size: 4, pieces: ['abc', `${pair}d`] },
    { name: 'a pair right at the end of a piece stays whole', text: `ab${pair}cd`, size: 4, pieces: [`ab${pair}`, 'cd'] },
    { name: 'only pairs', text: pair.repeat(3), size: 3, pieces: [pair, pair, pair] },
  ];
  for (const { name, text, size, pieces } of cases) {
    assert.deepEqual(split(text, size), pieces, name);
  }
});

test('split keeps lines over 128 Ki characters within the chunk size and whole pairs', () => {
  const long = `${'x'.repeat(CHUNK_CHARS - 1)}\u{1F600}${'y'.repeat(CHUNK_CHARS + 10)}\nshort\n`;
  const pieces = split(long);
  assert.equal(pieces.join(''), long);
  for (const piece of pieces) {
    assert.ok(piece.length <= CHUNK_CHARS, `piece of ${piece.length}`);
    assert.ok(!/[\uD800-\uDBFF]$/.test(piece), 'piece ends in a lone high surrogate');
    assert.ok(!/^[\uDC00-\uDFFF]/.test(piece), 'piece starts with a lone low surrogate');
  }
  assert.deepEqual(pieces.map((p) => p.length), [CHUNK_CHARS - 1, CHUNK_CHARS, 12 + 1 + 6]);
});

test('stateLines numbers pieces gap-free, keeps a file\'s pieces together and marks only the last', () => {
  const big = 'r'.repeat(CHUNK_CHARS + 1);
  const lines = stateLines({
    sdkSessionId: ID,
    configDir: '/h/.claude',
    files: [
      { path: TRANSCRIPT, content: big },
      { path: `projects/d/${ID}/tool-results/a.txt`, content: 'AQID', encoding: 'base64' },
    ],
  });
  const summary = lines.map((l) => [l.seq, l.path.split('/').at(-1), l.data.length, l.encoding ?? '-', l.last ?? false]);
  assert.deepEqual(summary, [
    [0, `${ID}.jsonl`, CHUNK_CHARS, '-', false],
    [1, `${ID}.jsonl`, 1, '-', false],
    [2, 'a.txt', 4, 'base64', true],
  ]);
  assert.ok(lines.every((l) => l.type === 'conversation.state' && l.sdkSessionId === ID && l.configDir === '/h/.claude'));
});

test('parseConversation refuses every malformed field, naming it', () => {
  const good = { sdkSessionId: ID, configDir: '/h/.claude', files: [{ path: TRANSCRIPT, content: '{}' }] };
  const withFiles = (files) => ({ ...good, files });
  const cases = [
    ['a string', 'nope', 'job spec field `conversation` must be an object'],
    ['an array', [], 'job spec field `conversation` must be an object'],
    ['id missing', { ...good, sdkSessionId: undefined }, '`conversation.sdkSessionId` must be a UUID'],
    ['id not a UUID', { ...good, sdkSessionId: 's-41' }, '`conversation.sdkSessionId` must be a UUID'],
    ['relative config dir', { ...good, configDir: 'h/.claude' }, '`conversation.configDir` must be an absolute path'],
    ['config dir missing', { ...good, configDir: undefined }, '`conversation.configDir` must be an absolute path'],
    ['files not an array', withFiles({}), '`conversation.files` must be a non-empty array'],
    ['no files', withFiles([]), '`conversation.files` must be a non-empty array'],
    ['file not an object', withFiles(['x']), '`conversation.files[0]` must be {path, content, encoding?}'],
    ['content not a string', withFiles([{ path: TRANSCRIPT, content: 1 }]), '`conversation.files[0]` must be {path, content, encoding?}'],
    ['unknown encoding', withFiles([{ path: TRANSCRIPT, content: '', encoding: 'hex' }]), '`conversation.files[0].encoding` must be utf8 or base64'],
    ['outside projects', withFiles([{ path: 'settings.json', content: '' }]), `\`conversation.files[0].path\` must be projects/<dir>/${ID}.jsonl or below projects/<dir>/${ID}/`],
    ['another session', withFiles([{ path: 'projects/d/other.jsonl', content: '' }]), `\`conversation.files[0].path\` must be projects/<dir>/${ID}.jsonl or below projects/<dir>/${ID}/`],
    ['dot-dot', withFiles([{ path: `projects/../${ID}.jsonl`, content: '' }]), `\`conversation.files[0].path\` must be projects/<dir>/${ID}.jsonl or below projects/<dir>/${ID}/`],
    ['escape below the folder', withFiles([{ path: `projects/d/${ID}/../../x`, content: '' }]), `\`conversation.files[0].path\` must be projects/<dir>/${ID}.jsonl or below projects/<dir>/${ID}/`],
    ['empty part', withFiles([{ path: `projects//${ID}.jsonl`, content: '' }]), `\`conversation.files[0].path\` must be projects/<dir>/${ID}.jsonl or below projects/<dir>/${ID}/`],
    ['the session folder itself', withFiles([{ path: `projects/d/${ID}`, content: '' }]), `\`conversation.files[0].path\` must be projects/<dir>/${ID}.jsonl or below projects/<dir>/${ID}/`],
    ['second file bad', withFiles([{ path: TRANSCRIPT, content: '' }, { path: 'projects/d/x', content: '' }]), `\`conversation.files[1].path\` must be projects/<dir>/${ID}.jsonl or below projects/<dir>/${ID}/`],
    ['no transcript', withFiles([{ path: `projects/d/${ID}/subagents/a.jsonl`, content: '' }]), '`conversation.files` lacks the transcript'],
  ];
  for (const [name, value, message] of cases) {
    assert.throws(() => parseConversation(value), { name: 'Error', message }, name);
  }
  assert.equal(parseConversation(undefined), null);
  assert.equal(parseConversation(null), null);
  assert.deepEqual(parseConversation(good), good);
});

test('restore then capture carries the files, moving the old config dir to the new one', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'conv-test-'));
  try {
    const dir = path.join(root, 'new', '.claude');
    const saved = `projects/-workspace-sessions-s1/${ID}/tool-results/out.txt`;
    await restore(
      {
        sdkSessionId: ID,
        configDir: '/old/.claude',
        files: [
          { path: TRANSCRIPT, content: '{"m":"saved to: /old/.claude/projects/d/x"}\n' },
          { path: saved, content: Buffer.from([0xff, 0x00]).toString('base64'), encoding: 'base64' },
        ],
      },
      dir,
    );
    assert.equal(await readFile(path.join(dir, TRANSCRIPT), 'utf8'), `{"m":"saved to: ${dir}/projects/d/x"}\n`);
    assert.equal((await stat(path.join(dir, TRANSCRIPT))).mode & 0o777, 0o600);
    const state = await capture(dir, ID);
    assert.deepEqual(state, {
      sdkSessionId: ID,
      configDir: dir,
      files: [
        { path: TRANSCRIPT, content: `{"m":"saved to: ${dir}/projects/d/x"}\n` },
        { path: saved, content: '/wA=', encoding: 'base64' },
      ],
    });
    assert.equal(await capture(dir, '00000000-0000-4000-8000-000000000000'), null);
    assert.equal(await capture(path.join(root, 'none'), ID), null);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
