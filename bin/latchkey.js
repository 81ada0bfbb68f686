#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=4
// V8 grows the young generation to two 16 MB semi-spaces under load; 4 MB ones keep about 20 MB
// less resident, and glibc's malloc held to two arenas (one per busy thread: the event loop and
// the checkpoint thread) another 8-18 MB, at no measured cost in throughput (docs/deployment.md,
// "Memory").
import '../dist/cli/main.js';
