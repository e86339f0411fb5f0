// Package faults is the fault suite: it runs the product as real processes
// (the embedded default, and the production shape with separate workers on
// Postgres), drives many lifecycles through the HTTP API while it kills
// processes with SIGKILL, restarts the Temporal server on its SQLite file,
// stalls and cuts the app database, and sends duplicated, shuffled, stale
// and malformed requests; then it checks, through the API, that nothing was
// lost, duplicated, stuck or charged wrong. Its tests are in faults_test.go;
// FAULTS_SIZE=large runs the large size (docs/reliability.md).
package faults
