/**
 * The table and housekeeping verbs: list/ls, ps, cp, rm, stop. Renderers are separate from the
 * requests so the formats can be tested on their own.
 */
import type { ListModel, PsModel } from '../api-types';
import { ApiError, type CorralClient } from '../client';
import { humanBytes, humanTime, processorColumn, renderTable } from '../format';

const shortId = (digest: string) => digest.replace(/^sha256:/, '').slice(0, 12);

/** `list`: NAME ID SIZE MODIFIED, filtered by a name prefix as Ollama does. */
export function renderList(models: ListModel[], prefix?: string, now = new Date()): string {
  const rows = [['NAME', 'ID', 'SIZE', 'MODIFIED']];
  for (const m of models) {
    if (prefix && !m.name.toLowerCase().startsWith(prefix.toLowerCase())) continue;
    rows.push([m.name, shortId(m.digest), humanBytes(m.size), humanTime(m.modified_at, 'Never', now)]);
  }
  return renderTable(rows);
}

/** `ps`: NAME ID SIZE PROCESSOR CONTEXT UNTIL. */
export function renderPs(models: PsModel[], prefix?: string, now = new Date()): string {
  const rows = [['NAME', 'ID', 'SIZE', 'PROCESSOR', 'CONTEXT', 'UNTIL']];
  for (const m of models) {
    if (prefix && !m.name.startsWith(prefix)) continue;
    const expires = m.expires_at ? new Date(m.expires_at) : undefined;
    // Past its expiry but still listed: the unload is under way.
    const until =
      expires && expires.getUTCFullYear() > 1 && expires.getTime() < now.getTime()
        ? 'Stopping...'
        : humanTime(m.expires_at, 'Never', now);
    rows.push([
      m.name,
      shortId(m.digest),
      humanBytes(m.size),
      processorColumn(m.size, m.size_vram ?? 0),
      m.context_length ? String(m.context_length) : '',
      until,
    ]);
  }
  return renderTable(rows);
}

export interface Out {
  write(s: string): unknown;
}

export async function listCommand(client: CorralClient, prefix: string | undefined, out: Out): Promise<void> {
  const { models } = await client.list();
  out.write(renderList(models ?? [], prefix));
}

export async function psCommand(client: CorralClient, prefix: string | undefined, out: Out): Promise<void> {
  const { models } = await client.ps();
  out.write(renderPs(models ?? [], prefix));
}

export async function copyCommand(client: CorralClient, src: string, dst: string, out: Out): Promise<void> {
  await client.copy(src, dst);
  out.write(`copied '${src}' to '${dst}'\n`);
}

/** Asks the server to unload a model now (keep_alive 0), as `ollama stop` does. */
export async function unload(client: CorralClient, model: string): Promise<void> {
  for await (const _ of client.generate({ model, keep_alive: 0 })) {
    // drain: the final chunk confirms the unload
  }
}

export async function stopCommand(client: CorralClient, model: string): Promise<void> {
  try {
    await unload(client, model);
  } catch (err) {
    if (isNotFound(err)) throw new Error(`couldn't find model "${model}" to stop`);
    throw err;
  }
}

/** `rm`: unloads each model first (a loaded model holds its blobs open), then deletes it. */
export async function removeCommand(client: CorralClient, models: string[], out: Out): Promise<void> {
  for (const name of models) {
    try {
      await unload(client, name);
    } catch (err) {
      if (!isNotFound(err))
        throw new Error(`unable to stop existing running model "${name}": ${(err as Error).message}`);
    }
    await client.delete(name);
    out.write(`deleted '${name}'\n`);
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof ApiError && (err.status === 404 || /not found/i.test(err.message));
}
