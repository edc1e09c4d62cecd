export * from './expression.js';
export * from './format-target.js';
export * from './match-target.js';
export * from './parse-target.js';
export * from './target-syntax-error.js';
