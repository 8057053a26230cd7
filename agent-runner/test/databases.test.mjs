// databases.mjs: the job's `databases` read strictly, and each tool against a real throwaway PostgreSQL
// database (skipped without DATABASE_URL, an admin URL: `eval "$(scripts/pg.sh start)"`).

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';

import pg from 'pg';

import { ROW_CAP, databaseOptions, databaseTools, parseDatabases, toolNames } from '../databases.mjs';

const PASSWORD = 'runner-db-pass-91f3';

test('parseDatabases reads names, URLs and readOnly (true unless false), refusing the rest by field', () => {
  assert.deepEqual(parseDatabases(undefined), []);
  assert.deepEqual(parseDatabases([{ name: 'crm', url: 'postgres://h/db' }, { name: 'w', url: 'postgres://h/w', readOnly: false }]), [
    { name: 'crm', url: 'postgres://h/db', readOnly: true },
    { name: 'w', url: 'postgres://h/w', readOnly: false },
  ]);
  const cases = [
    [{}, 'job spec field `databases` must be an array'],
    [[1], 'job spec field `databases[0]` must be an object'],
    [[{ name: 'Bad', url: 'postgres://h/db' }], 'job spec field `databases[0].name` must match [a-z0-9_-]{1,64}'],
    [[{ name: 'a', url: '' }], 'job spec field `databases[0].url` must be a non-empty string'],
  ];
  for (const [value, message] of cases) assert.throws(() => parseDatabases(value), { message });
});

test('databaseOptions adds one MCP server per database and allows its tools', () => {
  const options = databaseOptions([{ name: 'crm', url: 'postgres://h/db', readOnly: true }], {
    allowedTools: ['Bash'],
    mcpServers: { files: { command: 'x' } },
  });
  assert.deepEqual(Object.keys(options.mcpServers), ['files', 'crm']);
  assert.equal(options.mcpServers.crm.type, 'sdk');
  assert.deepEqual(options.allowedTools, ['Bash', ...toolNames('crm')]);
  assert.deepEqual(toolNames('crm'), ['mcp__crm__list_tables', 'mcp__crm__describe_table', 'mcp__crm__query']);
  const none = { model: 'm' };
  assert.equal(databaseOptions([], none), none);
});

const admin = process.env.DATABASE_URL;
const skip = admin ? false : 'DATABASE_URL is not set';
const dbName = `runner_${process.pid}_${Date.now()}`;
let url;

async function sql(connectionString, text) {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

before(async () => {
  if (skip) return;
  await sql(admin, `CREATE DATABASE ${dbName}`);
  await sql(admin, `DROP ROLE IF EXISTS ${dbName}_u`);
  await sql(admin, `CREATE ROLE ${dbName}_u LOGIN PASSWORD '${PASSWORD}'`);
  const u = new URL(admin);
  u.pathname = `/${dbName}`;
  await sql(u.toString(), `CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL); CREATE TABLE orders (id int, customer int);
    GRANT ALL ON customers, orders TO ${dbName}_u`);
  u.username = `${dbName}_u`;
  u.password = PASSWORD;
  url = u.toString();
});

after(async () => {
  if (skip) return;
  await sql(admin, `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await sql(admin, `DROP ROLE IF EXISTS ${dbName}_u`);
});

async function call(database, name, args = {}) {
  const found = databaseTools(database).find((t) => t.name === name);
  const res = await found.handler(args, {});
  return { isError: res.isError === true, text: res.content.map((c) => c.text).join('') };
}

test('list_tables and describe_table answer from the database', { skip }, async () => {
  const db = { name: 'crm', url, readOnly: true };
  const tables = await call(db, 'list_tables');
  assert.equal(tables.isError, false, tables.text);
  assert.deepEqual(JSON.parse(tables.text).tables.map((t) => t.name), ['customers', 'orders']);
  const described = await call(db, 'describe_table', { table: 'customers' });
  assert.deepEqual(JSON.parse(described.text).columns.map((c) => [c.name, c.type, c.nullable]), [
    ['id', 'integer', false],
    ['name', 'text', false],
  ]);
  // A figure, not an assertion: what a call costs (a connection, a transaction, the statement) on loopback.
  const n = 20;
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i += 1) await call(db, 'list_tables');
  console.log(`list_tables: ${(Number(process.hrtime.bigint() - started) / 1e6 / n).toFixed(1)} ms a call (mean of ${n})`);
  const missing = await call(db, 'describe_table', { table: 'nope' });
  assert.equal(missing.isError, true);
  assert.match(missing.text, /no table public\.nope/);
});

test('a read-only database refuses writes, even after a COMMIT; a writable one takes them', { skip }, async () => {
  const ro = { name: 'crm', url, readOnly: true };
  for (const statement of [
    "INSERT INTO customers VALUES (1, 'a')",
    "COMMIT; INSERT INTO customers VALUES (1, 'a')",
    "DO $$ BEGIN SET TRANSACTION READ WRITE; INSERT INTO customers VALUES (1, 'a'); END $$",
    "DO $$ BEGIN SET LOCAL transaction_read_only = off; INSERT INTO customers VALUES (1, 'a'); END $$",
  ]) {
    const res = await call(ro, 'query', { sql: statement });
    assert.equal(res.isError, true, `${statement}: ${res.text}`);
    console.log(`read-only, ${statement}: ${res.text}`);
  }
  const empty = await call(ro, 'query', { sql: 'SELECT count(*)::int AS n FROM customers' });
  assert.deepEqual(JSON.parse(empty.text).rows, [{ n: 0 }], 'nothing was written');
  const insert = await call(ro, 'query', { sql: "INSERT INTO customers VALUES (1, 'a')" });
  assert.match(insert.text, /cannot execute INSERT in a read-only transaction/);
  const rw = { name: 'crm', url, readOnly: false };
  const written = await call(rw, 'query', { sql: "INSERT INTO customers VALUES (1, 'a') RETURNING id" });
  assert.equal(written.isError, false, written.text);
  assert.equal(JSON.parse(written.text).rowCount, 1);
  const read = await call(ro, 'query', { sql: 'SELECT name FROM customers' });
  assert.deepEqual(JSON.parse(read.text).rows, [{ name: 'a' }]);
});

test('a result holds at most ROW_CAP rows and says it was cut', { skip }, async () => {
  const res = await call({ name: 'crm', url, readOnly: true }, 'query', { sql: 'SELECT generate_series(1, 1500) AS n' });
  const body = JSON.parse(res.text);
  assert.equal(body.rows.length, ROW_CAP);
  assert.equal(body.rowCount, 1500);
  assert.equal(body.truncated, true);
});

test('a database that refuses the connection is a clear error without the URL or password', async () => {
  // A port nothing listens on: bound, then closed.
  const port = await new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port: p } = s.address();
      s.close(() => resolve(p));
    });
  });
  const closed = `postgres://reader:${PASSWORD}@127.0.0.1:${port}/crm`;
  const res = await call({ name: 'crm', url: closed, readOnly: true }, 'list_tables');
  assert.equal(res.isError, true);
  assert.match(res.text, /^database crm: cannot connect \(ECONNREFUSED/);
  assert.ok(!res.text.includes(PASSWORD) && !res.text.includes(closed), res.text);
});
