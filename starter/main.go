// Command starter is the HTTP front door of the marketplace subscription
// orchestrator. With no configuration it is the whole product in one
// process: an embedded Temporal dev server with its Web UI, an in-process
// worker and SQLite under ./data. With TEMPORAL_ADDRESS it serves the API
// against an external cluster (add EMBEDDED_WORKER=true for a worker).
//
//	go run ./starter                                    # run the product
//	go run ./starter agents create --partner P --role admin_agent
//	go run ./starter agents revoke --id agt_…
//	go run ./starter healthcheck                        # exit 0 when /healthz is 200
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cspmarket/orchestrator/internal/app"
	"github.com/cspmarket/orchestrator/internal/auth"
	"github.com/cspmarket/orchestrator/internal/config"
	"github.com/cspmarket/orchestrator/internal/fixtures"
	"github.com/cspmarket/orchestrator/internal/secretbox"
	"github.com/cspmarket/orchestrator/internal/store"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "starter:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	if len(args) == 0 || args[0] == "serve" {
		return serve(cfg, logger)
	}
	if args[0] == "agents" && len(args) > 1 {
		return agents(cfg, args[1], args[2:])
	}
	if args[0] == "healthcheck" {
		return healthcheck(cfg)
	}
	return fmt.Errorf("unknown command %q; commands: serve (default), agents create, agents revoke, healthcheck", args[0])
}

// healthcheck asks a running starter's /healthz (container health checks).
func healthcheck(cfg config.Config) error {
	host, port, err := net.SplitHostPort(cfg.HTTPAddr)
	if err != nil {
		return err
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get("http://" + net.JoinHostPort(host, port) + "/healthz")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/healthz answered %s", resp.Status)
	}
	return nil
}

func serve(cfg config.Config, logger *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.Start(ctx, cfg, app.Parts{HTTP: true, Worker: cfg.EmbeddedWorker}, logger)
	if err != nil {
		return err
	}
	printBanner(cfg, a)
	err = a.Wait(ctx)
	logger.Info("shutting down")
	a.Stop(context.Background())
	return err
}

func printBanner(cfg config.Config, a *app.App) {
	fmt.Printf("\nMarketplace subscription orchestrator\n")
	fmt.Printf("  API        http://%s   (GET /healthz, /v1/offers, …)\n", a.HTTPAddress())
	if addr := a.TemporalAddress(); addr != "" {
		fmt.Printf("  Temporal   %s (embedded; state in %s)\n", addr, cfg.TemporalDatabaseFile())
	} else {
		fmt.Printf("  Temporal   %s\n", cfg.TemporalAddress)
	}
	if ui := a.UIAddress(); ui != "" {
		fmt.Printf("  Web UI     http://%s/namespaces/%s/workflows\n", ui, cfg.TemporalNamespace)
	}
	if cfg.DevSeed {
		fmt.Printf("  Dev tokens %s (admin), %s (sales), %s (partner-other admin)\n", fixtures.AdminToken, fixtures.SalesToken, fixtures.OtherAdminToken)
		fmt.Printf("  Dev ISV    %s, webhook secret %s\n", fixtures.PublisherDemo, fixtures.PublisherDemoSecret)
	}
	fmt.Printf("Ctrl-C stops it cleanly.\n\n")
}

// agents manages agent tokens; a token is printed once and stored hashed.
func agents(cfg config.Config, verb string, args []string) error {
	ctx := context.Background()
	fs := flag.NewFlagSet("agents "+verb, flag.ContinueOnError)
	partner := fs.String("partner", "", "partner id")
	role := fs.String("role", string(auth.RoleAdminAgent), "admin_agent or sales_agent")
	name := fs.String("name", "agent", "a label for the agent")
	id := fs.String("id", "", "agent id (revoke)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	key, err := keyFor(cfg)
	if err != nil {
		return err
	}
	box, err := secretbox.New(key)
	if err != nil {
		return err
	}
	s, err := store.Open(ctx, cfg.DatabaseURL, box, store.Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		return err
	}
	switch verb {
	case "create":
		r, err := auth.ParseRole(*role)
		if err != nil {
			return err
		}
		if *partner == "" {
			return errors.New("--partner is required")
		}
		if ok, err := s.PartnerExists(ctx, *partner); err != nil {
			return err
		} else if !ok {
			if err := s.UpsertPartner(ctx, *partner, *partner); err != nil {
				return err
			}
		}
		token := auth.NewToken()
		agentID, err := s.CreateAgent(ctx, *partner, *name, string(r), auth.HashToken(token))
		if err != nil {
			return err
		}
		fmt.Printf("agent %s (%s of %s)\ntoken %s\nThe token is shown only now; it is stored hashed.\n", agentID, r, *partner, token)
		return nil
	case "revoke":
		if *id == "" {
			return errors.New("--id is required")
		}
		if err := s.RevokeAgent(ctx, *id); err != nil {
			return fmt.Errorf("revoke %s: %w", *id, err)
		}
		fmt.Printf("agent %s revoked\n", *id)
		return nil
	}
	return fmt.Errorf("unknown agents command %q: create or revoke", verb)
}

func keyFor(cfg config.Config) ([]byte, error) {
	if cfg.SecretsKey != "" {
		return secretbox.ParseKey(cfg.SecretsKey)
	}
	return secretbox.LoadOrCreateKeyFile(cfg.SecretsKeyFile())
}
