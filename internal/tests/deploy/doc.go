// Package deploy holds no code: its tests check the deployment files at the
// repository root (docker-compose.yml, Dockerfile), which no build would
// otherwise read, so that a broken file fails CI rather than a user.
package deploy
