// Command worker runs SubscriptionWorkflow and its activities (production
// shape: run as many as the load needs). It needs TEMPORAL_ADDRESS and
// DATABASE_URL; without TEMPORAL_ADDRESS it joins the embedded server of a
// `go run ./starter` on this machine.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/cspmarket/orchestrator/internal/platform/app"
	"github.com/cspmarket/orchestrator/internal/platform/config"
)

func main() {
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
	if cfg.MetricsAddr == "" {
		cfg.MetricsAddr = "127.0.0.1:9090" // CONTRACT.md, Operations
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.Start(ctx, cfg, app.Parts{Worker: true}, logger)
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
	logger.Info("worker running", "taskQueue", "subscriptions", "metrics", "http://"+a.MetricsAddress()+"/metrics")
	<-ctx.Done()
	logger.Info("worker draining")
	a.Stop(context.Background())
}
