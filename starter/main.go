// Command starter is the HTTP front door of the marketplace subscription
// orchestrator. With no configuration it is the whole product in one
// process: an embedded Temporal dev server with its Web UI, an in-process
// worker and SQLite under ./data. With TEMPORAL_ADDRESS it serves the API
// against an external cluster (add EMBEDDED_WORKER=true for a worker).
//
//	go run ./starter                                    # run the product
//	go run ./starter agents create --partner P --role admin_agent
//	go run ./starter agents revoke --id agt_…
//	go run ./starter isv-sim                            # play the dev ISV against a running product
//	go run ./starter healthcheck                        # exit 0 when /healthz is 200
//	go run ./starter invoices run --month 2026-11       # invoice a month now (once; --close-early before it ends)
//	go run ./starter ledger verify                      # recompute the ledger from the audit trail; exit 1 on a difference
//	go run ./starter temporal setup                     # namespace and search attributes on an external cluster (TEMPORAL_ADDRESS)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/cspmarket/orchestrator/internal/adapter/isvsim"
	"github.com/cspmarket/orchestrator/internal/adapter/ledger"
	"github.com/cspmarket/orchestrator/internal/adapter/orchestrator"
	"github.com/cspmarket/orchestrator/internal/adapter/payload"
	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/domain/auth"
	"github.com/cspmarket/orchestrator/internal/platform/app"
	"github.com/cspmarket/orchestrator/internal/platform/config"
	"github.com/cspmarket/orchestrator/internal/platform/fixtures"
	"github.com/cspmarket/orchestrator/internal/platform/secretbox"
	"github.com/cspmarket/orchestrator/internal/platform/temporalserver"
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
		return agents(os.Stdout, cfg, args[1], args[2:])
	}
	if args[0] == "people" && len(args) > 1 {
		return people(os.Stdout, cfg, args[1], args[2:])
	}
	if args[0] == "healthcheck" {
		return healthcheck(cfg)
	}
	if args[0] == "publishers" && len(args) > 1 {
		return publishers(os.Stdout, cfg, args[1], args[2:])
	}
	if args[0] == "isv-sim" {
		return isvSim(logger, args[1:])
	}
	if args[0] == "invoices" && len(args) > 1 && args[1] == "run" {
		return runInvoices(os.Stdout, cfg, args[2:])
	}
	if args[0] == "ledger" && len(args) > 1 && args[1] == "verify" {
		return verifyLedger(os.Stdout, cfg)
	}
	if args[0] == "temporal" && len(args) > 1 && args[1] == "setup" {
		return setUpTemporal(os.Stdout, cfg, args[2:])
	}
	return fmt.Errorf("unknown command %q; commands: serve (default), agents create, agents revoke, people list, people revoke, publishers rotate-secret, publishers secrets, publishers revoke-secret, healthcheck, isv-sim, invoices run, ledger verify, temporal setup", args[0])
}

// runInvoices invoices a month through Temporal (TEMPORAL_ADDRESS, or the
// embedded server of a running starter) and prints what it issued.
func runInvoices(out io.Writer, cfg config.Config, args []string) error {
	fs := flag.NewFlagSet("invoices run", flag.ContinueOnError)
	month := fs.String("month", "", "the month to invoice, YYYY-MM (UTC)")
	closeEarly := fs.Bool("close-early", false, "invoice a month that has not ended yet, up to now (demos and tests)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *month == "" {
		return errors.New("--month YYYY-MM is required")
	}
	address := cfg.TemporalAddress
	if address == "" {
		address = net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.TemporalDevPort))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{HostPort: address, Namespace: cfg.TemporalNamespace, Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		return fmt.Errorf("connect to Temporal at %s (is the product running?): %w", address, err)
	}
	defer c.Close()
	result, err := orchestrator.RunInvoicing(ctx, c, *month, *closeEarly, time.Now())
	if err != nil {
		return err
	}
	if result.AlreadyRun {
		fmt.Fprintf(out, "%s was invoiced before: %d invoices issued by that run; nothing issued now\n", result.Month, result.Issued)
		return nil
	}
	fmt.Fprintf(out, "%s invoiced: %d invoices issued, %d issued before\n", result.Month, result.Issued, result.AlreadyIssued)
	return nil
}

// verifyLedger runs the ledger check on the configured database and fails
// on any difference.
func verifyLedger(out io.Writer, cfg config.Config) error {
	s, err := openStore(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	report, err := ledger.Verify(context.Background(), s)
	if err != nil {
		return err
	}
	for _, d := range report.Differences {
		fmt.Fprintln(out, d)
	}
	fmt.Fprintf(out, "%d subscriptions, %d ledger lines, %d invoices: %d differences\n", report.Subscriptions, report.Lines, report.Invoices, len(report.Differences))
	if len(report.Differences) > 0 {
		return fmt.Errorf("the ledger has %d differences", len(report.Differences))
	}
	return nil
}

// publishers manages a publisher's webhook secrets: rotate-secret prints a
// new one once (the previous one keeps verifying for --overlap), secrets
// lists them without their values, revoke-secret stops one now.
func publishers(out io.Writer, cfg config.Config, command string, args []string) error {
	fs := flag.NewFlagSet("publishers "+command, flag.ContinueOnError)
	publisher := fs.String("publisher", "", "publisher id")
	overlap := fs.Duration("overlap", 24*time.Hour, "rotate-secret: how long the previous secret keeps verifying (0 stops it now)")
	secretID := fs.String("id", "", "revoke-secret: the secret's id (publishers secrets lists them)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *publisher == "" {
		return errors.New("--publisher is required")
	}
	s, err := openStore(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Publisher(ctx, *publisher); err != nil {
		return fmt.Errorf("publisher %s: %w (publishers come from the catalog)", *publisher, err)
	}
	switch command {
	case "rotate-secret":
		if *overlap < 0 {
			return errors.New("--overlap must not be negative")
		}
		secret := "whsec_" + auth.NewToken()[4:]
		id, err := s.RotatePublisherSecret(ctx, *publisher, []byte(secret), *overlap)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "publisher %s secret %s\n%s\nShown only now; stored encrypted. The previous secret keeps verifying until %s (publishers revoke-secret stops it sooner).\n",
			*publisher, id, secret, time.Now().UTC().Add(*overlap).Format(time.RFC3339))
	case "secrets":
		list, err := s.PublisherSecretList(ctx, *publisher)
		if err != nil {
			return err
		}
		now := time.Now()
		for _, sec := range list {
			state := "current"
			switch {
			case sec.RevokedAt == nil:
			case sec.RevokedAt.After(now):
				state = "verifies until " + sec.RevokedAt.Format(time.RFC3339)
			default:
				state = "revoked " + sec.RevokedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(out, "%s\tcreated %s\t%s\n", sec.ID, sec.CreatedAt.Format(time.RFC3339), state)
		}
	case "revoke-secret":
		if *secretID == "" {
			return errors.New("--id is required (publishers secrets lists them)")
		}
		if err := s.RevokePublisherSecret(ctx, *publisher, *secretID); errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("publisher %s has no secret %s that still verifies", *publisher, *secretID)
		} else if err != nil {
			return err
		}
		fmt.Fprintf(out, "publisher %s secret %s revoked: it no longer verifies\n", *publisher, *secretID)
	default:
		return fmt.Errorf("unknown command publishers %s; commands: rotate-secret, secrets, revoke-secret", command)
	}
	return nil
}

// isvSim plays the dev ISV against a running product until Ctrl-C.
func isvSim(logger *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("isv-sim", flag.ContinueOnError)
	api := fs.String("api", "http://127.0.0.1:8080", "the product's base URL")
	listen := fs.String("listen", "127.0.0.1:8090", "where to receive notifications")
	publisher := fs.String("publisher", fixtures.PublisherDemo, "publisher id")
	secret := fs.String("secret", fixtures.PublisherDemoSecret, "the publisher's webhook secret")
	provision := fs.Duration("provision-after", 3*time.Second, "delay before subscription.provisioned")
	activate := fs.Duration("activate-after", 3*time.Second, "delay before subscription.activated")
	cancellations := fs.String("cancellations", "approve", "approve, reject or ignore cancellation requests")
	changes := fs.String("changes", "approve", "approve, reject or ignore changes of plan or quantity that wait for the publisher")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sim, err := isvsim.Start(ctx, isvsim.Config{
		API: *api, Listen: *listen, PublisherID: *publisher, Secret: []byte(*secret),
		ProvisionAfter: *provision, ActivateAfter: *activate, Cancellations: *cancellations, Changes: *changes, Logger: logger,
	})
	if err != nil {
		return err
	}
	fmt.Printf("ISV simulator for %s: notifications on http://%s/notifications; buy something, it provisions and activates it. Ctrl-C stops it.\n", *publisher, sim.Addr())
	<-ctx.Done()
	sim.Stop()
	return nil
}

// healthcheck asks a running starter's /healthz (container health checks).
// setUpTemporal readies an external cluster (TEMPORAL_ADDRESS) for the
// product: the namespace, then the search attributes operators filter
// on. It waits for the cluster to answer, and running it again changes
// nothing.
func setUpTemporal(out io.Writer, cfg config.Config, args []string) error {
	fs := flag.NewFlagSet("temporal setup", flag.ContinueOnError)
	retention := fs.Duration("retention", 7*24*time.Hour, "how long closed workflows' histories are kept")
	wait := fs.Duration("wait", 2*time.Minute, "how long to wait for the cluster to answer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.Embedded() {
		return errors.New("set TEMPORAL_ADDRESS: the embedded server sets itself up")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *wait)
	defer cancel()
	var c client.Client
	var err error
	for {
		c, err = client.DialContext(ctx, client.Options{HostPort: cfg.TemporalAddress, Namespace: cfg.TemporalNamespace, Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
		if err == nil {
			if _, err = c.CheckHealth(ctx, &client.CheckHealthRequest{}); err == nil {
				break
			}
			c.Close()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("temporal at %s does not answer: %w", cfg.TemporalAddress, err)
		case <-time.After(time.Second):
		}
	}
	defer c.Close()
	for {
		err = temporalserver.SetUpNamespace(ctx, c, cfg.TemporalNamespace, *retention, payload.SearchAttributes)
		if err == nil || ctx.Err() != nil || errors.Is(err, temporalserver.ErrSearchAttributeType) {
			break
		}
		time.Sleep(time.Second) // a cluster just started may not serve its namespaces yet
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "namespace %s ready at %s with its search attributes\n", cfg.TemporalNamespace, cfg.TemporalAddress)
	return nil
}

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
	fmt.Printf("  Console    http://%s/   (the partner console: sign in with an agent token)\n", a.HTTPAddress())
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
func agents(out io.Writer, cfg config.Config, verb string, args []string) error {
	ctx := context.Background()
	fs := flag.NewFlagSet("agents "+verb, flag.ContinueOnError)
	partner := fs.String("partner", "", "partner id")
	role := fs.String("role", string(auth.RoleAdminAgent), "admin_agent or sales_agent")
	name := fs.String("name", "agent", "a label for the agent")
	id := fs.String("id", "", "agent id (revoke)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	s, err := openStore(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
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
		fmt.Fprintf(out, "agent %s (%s of %s)\ntoken %s\nThe token is shown only now; it is stored hashed.\n", agentID, r, *partner, token)
		return nil
	case "revoke":
		if *id == "" {
			return errors.New("--id is required")
		}
		if err := s.RevokeAgent(ctx, *id); err != nil {
			return fmt.Errorf("revoke %s: %w", *id, err)
		}
		fmt.Fprintf(out, "agent %s revoked\n", *id)
		return nil
	}
	return fmt.Errorf("unknown agents command %q: create or revoke", verb)
}

// people lists the people who signed in with the identity provider, and
// revokes one: their console sessions end at their next request and
// their access tokens are refused, whatever their directory says.
func people(out io.Writer, cfg config.Config, verb string, args []string) error {
	ctx := context.Background()
	fs := flag.NewFlagSet("people "+verb, flag.ContinueOnError)
	id := fs.String("id", "", "person id (revoke)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	s, err := openStore(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	switch verb {
	case "list":
		all, err := s.People(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tPARTNER\tNAME\tEMAIL\tISSUER\tSUBJECT\tROLE AT LAST SIGN-IN\tLAST SIGN-IN\tREVOKED")
		for _, p := range all {
			revoked := ""
			if p.RevokedAt != nil {
				revoked = p.RevokedAt.Format(time.RFC3339)
			}
			// The subject tells apart two people of one name; %q shows
			// any byte a provider sent as it is.
			fmt.Fprintf(tw, "%s\t%s\t%q\t%q\t%s\t%q\t%s\t%s\t%s\n", p.ID, p.PartnerID, p.Name, p.Email, p.Issuer, p.Subject, p.Role,
				p.LastSignedInAt.Format(time.RFC3339), revoked)
		}
		return tw.Flush()
	case "revoke":
		if *id == "" {
			return errors.New("--id is required (people list shows them)")
		}
		if err := s.RevokePerson(ctx, *id); err != nil {
			return fmt.Errorf("revoke %s: %w", *id, err)
		}
		fmt.Fprintf(out, "person %s revoked\n", *id)
		return nil
	}
	return fmt.Errorf("unknown people command %q: list or revoke", verb)
}

// openStore opens and migrates the configured database for a command.
func openStore(cfg config.Config) (*store.Store, error) {
	key, err := keyFor(cfg)
	if err != nil {
		return nil, err
	}
	box, err := secretbox.New(key)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	s, err := store.Open(ctx, cfg.DatabaseURL, box, store.Options{MaxOpenConns: cfg.DatabaseMaxConns})
	if err != nil {
		return nil, err
	}
	if err := s.Migrate(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

func keyFor(cfg config.Config) ([]byte, error) {
	if cfg.SecretsKey != "" {
		return secretbox.ParseKey(cfg.SecretsKey)
	}
	return secretbox.LoadOrCreateKeyFile(cfg.SecretsKeyFile())
}
