//go:build race

package faults

// raceBuild: the processes under test are built with the race detector
// too, which reuses the packages the test build already compiled.
const raceBuild = true
