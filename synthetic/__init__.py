"""Synthetic scenes and clips of real faces at known boxes, for tests, benchmarks and the shifted-val proxy: not part
of the runtime (`emotion`), which never imports it."""
