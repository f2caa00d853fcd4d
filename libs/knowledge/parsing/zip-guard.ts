/**
 * Checks a DOCX/XLSX's zip before mammoth or exceljs inflate it. Declared sizes in the zip's
 * directory can lie, so every entry is really inflated (streaming, output discarded) and the
 * count stops at the cap.
 */
import { Unzip, UnzipInflate, unzipSync } from 'fflate';
import { ParseError, type ParseLimits } from './parsing.types';

export function checkZip(bytes: Uint8Array, label: string, limits: ParseLimits): void {
  let entries = 0;
  let declared = 0;
  try {
    unzipSync(bytes, {
      filter: (f) => {
        entries++;
        declared += f.originalSize;
        return false;
      },
    });
  } catch (e) {
    throw new ParseError(
      'corrupt',
      `the ${label} file is damaged: its zip directory cannot be read (${errText(e)})`,
    );
  }
  if (entries > limits.maxZipEntries) {
    throw new ParseError(
      'zip_bomb',
      `the ${label} file holds ${entries} zip entries, more than the limit of ${limits.maxZipEntries}`,
    );
  }
  if (declared > limits.maxUnzippedBytes) {
    throw new ParseError(
      'zip_bomb',
      `the ${label} file would inflate to ${mib(declared)}, more than the limit of ${mib(limits.maxUnzippedBytes)}`,
    );
  }

  let inflated = 0;
  let seen = 0;
  let failure: ParseError | null = null;
  const unzip = new Unzip((file) => {
    if (failure) return;
    if (++seen > limits.maxZipEntries) {
      failure = new ParseError(
        'zip_bomb',
        `the ${label} file holds more than ${limits.maxZipEntries} zip entries`,
      );
      return;
    }
    file.ondata = (err, chunk) => {
      if (failure) return;
      if (err) {
        failure = new ParseError(
          'corrupt',
          `the ${label} file is damaged: entry ${JSON.stringify(file.name.slice(0, 200))} cannot be inflated (${err.message})`,
        );
        file.terminate();
        return;
      }
      inflated += chunk.length;
      if (inflated > limits.maxUnzippedBytes) {
        failure = new ParseError(
          'zip_bomb',
          `the ${label} file inflates to more than ${mib(limits.maxUnzippedBytes)} (its zip directory declared ${mib(declared)})`,
        );
        file.terminate();
      }
    };
    file.start();
  });
  unzip.register(UnzipInflate);
  try {
    // Pushed in slices so a bomb stops early instead of after the whole buffer.
    const step = 1 << 20;
    for (let at = 0; at < bytes.length && !failure; at += step) {
      unzip.push(bytes.subarray(at, Math.min(at + step, bytes.length)), at + step >= bytes.length);
    }
  } catch (e) {
    if (!failure) failure = new ParseError('corrupt', `the ${label} file is damaged: ${errText(e)}`);
  }
  if (failure) throw failure;
}

function mib(n: number): string {
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
