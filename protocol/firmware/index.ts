export * from './manifest.js';
export * from './object5.js';
export { compareVersions } from './version.js';
export * from './package.js';
