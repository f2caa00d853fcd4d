export { type Database, openDatabase } from './database';
