#!/usr/bin/env -S node --max-semi-space-size=4
// V8 grows the young generation to two 16 MB semi-spaces under load; 4 MB ones keep about 20 MB
// less resident at no measured cost in throughput (docs/deployment.md, "Memory").
import '../dist/cli/main.js';
