// The job protocol is owned by the dispatch feature; everything in this feature imports it from here,
// so the source of the contract is named once.
export * from '@corral/dispatch';
