// proper-lockfile loads graceful-fs only to retry EMFILE on open(); a lock is one mkdir,
// so the plain fs module does the same job without graceful-fs patching fs at start-up
// (measured: a few ms of every command's start-up). Used through esbuild's `alias`.
module.exports = require('node:fs');
