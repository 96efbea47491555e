//! A spec-faithful Langfuse API server for tests, benchmarks and the demo.
