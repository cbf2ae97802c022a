declare const __DEIA_VERSION__: string | undefined;

/** Replaced at build time by esbuild's `define`, so printing it reads no file. */
export const VERSION: string = typeof __DEIA_VERSION__ === 'string' ? __DEIA_VERSION__ : '0.0.0-dev';
