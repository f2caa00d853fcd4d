import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'corral:isPublic';

/** Marks a route as reachable without credentials (health, version). Every other route needs auth. */
export const Public = () => SetMetadata(IS_PUBLIC, true);
