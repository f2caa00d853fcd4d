/** Every migration, in order. New migrations are added here (file name `<epoch-ms>-PascalName.ts`). */
import { Init1764160000000 } from './1764160000000-Init';

export const MIGRATIONS = [Init1764160000000];
