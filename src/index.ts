export * from './bytes/index.js';
