/** Every migration, in order. New migrations are added here (file name `<epoch-ms>-PascalName.ts`). */
import { Init1764160000000 } from './1764160000000-Init';
import { Identity1764200000000 } from './1764200000000-Identity';
import { AuditLog1764300000000 } from './1764300000000-AuditLog';
import { QuotaPolicies1764400000000 } from './1764400000000-QuotaPolicies';
import { UsageAccounting1764400000001 } from './1764400000001-UsageAccounting';
import { AuditContentRequest1764420000000 } from './1764420000000-AuditContentRequest';
import { ModelOwners1764500000000 } from './1764500000000-ModelOwners';
import { Knowledge1765000000000 } from './1765000000000-Knowledge';

export const MIGRATIONS = [
  Init1764160000000,
  Identity1764200000000,
  AuditLog1764300000000,
  QuotaPolicies1764400000000,
  UsageAccounting1764400000001,
  AuditContentRequest1764420000000,
  ModelOwners1764500000000,
  Knowledge1765000000000,
];
