// A job's `databases` (issue 15): each becomes an in-process MCP server of the SDK (`createSdkMcpServer`),
// named as the database, so the agent calls `mcp__<name>__list_tables`, `mcp__<name>__describe_table` and
// `mcp__<name>__query`.
//
// Every call opens its own connection (node-postgres), runs in one transaction and closes it: read-only
// (`BEGIN TRANSACTION READ ONLY`, and the session's default read-only too) unless the database says
// `readOnly: false`. SQL goes through the extended query protocol, one statement per call, so a `COMMIT; …`
// cannot end the read-only transaction and write after it. A refused connection or a failed statement is an
// error result for that call (the session goes on); no message ever holds the URL or its password.

import { createSdkMcpServer, tool } from '@anthropic-ai/claude-agent-sdk';
import pg from 'pg';
import { z } from 'zod';

// At most this many rows of a result reach the model; the rest is counted, not sent.
export const ROW_CAP = 1000;
// PostgreSQL ends a statement after this long (`statement_timeout`).
export const STATEMENT_TIMEOUT_MS = 30_000;
const CONNECT_TIMEOUT_MS = 10_000;
const NAME = /^[a-z0-9_-]{1,64}$/;

export class BadDatabases extends Error {}

// Checks the job's `databases` (the supervisor has validated them; this guards the runner's own input).
export function parseDatabases(value) {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new BadDatabases('job spec field `databases` must be an array');
  return value.map((d, i) => {
    if (d === null || typeof d !== 'object' || Array.isArray(d)) {
      throw new BadDatabases(`job spec field \`databases[${i}]\` must be an object`);
    }
    if (typeof d.name !== 'string' || !NAME.test(d.name)) {
      throw new BadDatabases(`job spec field \`databases[${i}].name\` must match [a-z0-9_-]{1,64}`);
    }
    if (typeof d.url !== 'string' || d.url === '') {
      throw new BadDatabases(`job spec field \`databases[${i}].url\` must be a non-empty string`);
    }
    return { name: d.name, url: d.url, readOnly: d.readOnly !== false };
  });
}

// The tool names of one database, as the CLI names them.
export function toolNames(name) {
  return ['list_tables', 'describe_table', 'query'].map((t) => `mcp__${name}__${t}`);
}

// What never shows in a message: the URL, its password as written and decoded (or libpq's `password=`).
function secretsOf(url) {
  const out = [url];
  try {
    const parsed = new URL(url);
    out.push(parsed.password, ...parsed.searchParams.getAll('password'));
    out.push(decodeURIComponent(parsed.password)); // last: it throws on a malformed escape
  } catch {
    // A URL `URL` cannot read still goes whole.
  }
  return out.filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
}

function scrub(text, secrets) {
  let out = String(text);
  for (const s of secrets) out = out.split(s).join('[redacted]');
  return out;
}

function result(value) {
  return { content: [{ type: 'text', text: JSON.stringify(value, null, 1) }] };
}

function failure(text) {
  return { content: [{ type: 'text', text }], isError: true };
}

// One call: connect, run `work(client)` in a transaction, close; errors become the call's error result.
async function inTransaction(database, what, work) {
  const secrets = secretsOf(database.url);
  const client = new pg.Client({
    connectionString: database.url,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    application_name: 'agent-studio',
  });
  // An error after connect (the server going away) must not crash the runner.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    const reason = scrub(err.code ? `${err.code}: ${err.message}` : err.message, secrets);
    return failure(`database ${database.name}: cannot connect (${reason})`);
  }
  try {
    if (database.readOnly) {
      await client.query('SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY');
      await client.query('BEGIN TRANSACTION READ ONLY');
    } else {
      await client.query('BEGIN');
    }
    const value = await work(client);
    await client.query('COMMIT');
    return result(value);
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    const code = err.code ? ` (SQLSTATE ${err.code})` : '';
    return failure(`database ${database.name}: ${what} failed: ${scrub(err.message, secrets)}${code}`);
  } finally {
    await client.end().catch(() => {});
  }
}

async function run(client, text, values) {
  return client.query({ text, values, queryMode: 'extended' });
}

function rowsOf(res) {
  return {
    command: res.command,
    rowCount: res.rowCount,
    columns: (res.fields ?? []).map((f) => f.name),
    rows: (res.rows ?? []).slice(0, ROW_CAP),
    truncated: (res.rows ?? []).length > ROW_CAP,
  };
}

// The tools of one database (each with its `handler`).
export function databaseTools(database) {
  const mode = database.readOnly ? 'read-only' : 'read-write';
  return [
      tool(
        'list_tables',
        `Lists the tables and views of the PostgreSQL database "${database.name}" (schema, name, type).`,
        {},
        async () =>
          inTransaction(database, 'list_tables', async (c) => {
            const res = await run(
              c,
              `SELECT table_schema AS schema, table_name AS name, table_type AS type
                 FROM information_schema.tables
                WHERE table_schema NOT IN ('pg_catalog', 'information_schema')
                ORDER BY 1, 2`,
              [],
            );
            return { tables: res.rows };
          }),
        { annotations: { readOnlyHint: true } },
      ),
      tool(
        'describe_table',
        `Describes a table of the PostgreSQL database "${database.name}": its columns, types, nullability and defaults.`,
        {
          table: z.string().describe('The table name'),
          schema: z.string().optional().describe('The schema (default: public)'),
        },
        async ({ table, schema }) =>
          inTransaction(database, 'describe_table', async (c) => {
            const res = await run(
              c,
              `SELECT column_name AS name, data_type AS type, is_nullable = 'YES' AS nullable, column_default AS default
                 FROM information_schema.columns
                WHERE table_schema = $1 AND table_name = $2
                ORDER BY ordinal_position`,
              [schema ?? 'public', table],
            );
            if (res.rows.length === 0) throw new Error(`no table ${schema ?? 'public'}.${table}`);
            return { schema: schema ?? 'public', table, columns: res.rows };
          }),
        { annotations: { readOnlyHint: true } },
      ),
      tool(
        'query',
        `Runs one SQL statement on the PostgreSQL database "${database.name}" (${mode}; at most ${ROW_CAP} rows ` +
          `are returned; statements time out after ${STATEMENT_TIMEOUT_MS / 1000} s).`,
        { sql: z.string().describe('One SQL statement') },
        async ({ sql }) => inTransaction(database, 'query', async (c) => rowsOf(await run(c, sql, []))),
        { annotations: { readOnlyHint: database.readOnly, destructiveHint: !database.readOnly } },
      ),
  ];
}

function server(database) {
  const mode = database.readOnly ? 'read-only' : 'read-write';
  return createSdkMcpServer({
    name: database.name,
    version: '1.0.0',
    alwaysLoad: true,
    instructions: `PostgreSQL database "${database.name}" (${mode}). Results hold at most ${ROW_CAP} rows.`,
    tools: databaseTools(database),
  });
}

// The SDK options for the databases: their MCP servers added to `mcpServers`, and their tools to
// `allowedTools` (auto-approved, so no permission mode blocks them; `disallowedTools` still wins).
export function databaseOptions(databases, options) {
  if (databases.length === 0) return options;
  const mcpServers = { ...(options.mcpServers ?? {}) };
  for (const d of databases) mcpServers[d.name] = server(d);
  const allowedTools = [...(options.allowedTools ?? []), ...databases.flatMap((d) => toolNames(d.name))];
  return { ...options, mcpServers, allowedTools };
}
