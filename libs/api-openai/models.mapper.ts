/** Registry models → OpenAI's `model` objects. */
export interface OpenAiModel {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
}

/**
 * OpenAI's owner is the organisation behind a model; the nearest thing here is the namespace:
 * `library` for `tiny:latest`, `myns` for `myns/tiny:latest` and `host/myns/tiny:latest`.
 */
export function ownerOf(name: string): string {
  const segments = name.split('/');
  return segments.length >= 2 ? (segments[segments.length - 2] ?? 'library') : 'library';
}

/** `modified` is the registry's modified time: a Date (resolved model) or ISO text (listing). */
export function toOpenAiModel(name: string, modified: Date | string): OpenAiModel {
  const ms = new Date(modified).getTime();
  return {
    id: name,
    object: 'model',
    created: Number.isFinite(ms) ? Math.floor(ms / 1000) : 0,
    owned_by: ownerOf(name),
  };
}
