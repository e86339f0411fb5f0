// Package app wires the product together from a Config: the embedded
// Temporal server when there is no TEMPORAL_ADDRESS, the database
// (migrated, catalog synced, fixtures seeded), the Temporal client, an
// in-process worker and the HTTP API. The starter and worker mains and the
// end-to-end tests all start the product through it.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/cspmarket/orchestrator/activities"
	"github.com/cspmarket/orchestrator/internal/adapter/accesstoken"
	"github.com/cspmarket/orchestrator/internal/adapter/api"
	"github.com/cspmarket/orchestrator/internal/adapter/authcode"
	"github.com/cspmarket/orchestrator/internal/adapter/console"
	"github.com/cspmarket/orchestrator/internal/adapter/egress"
	"github.com/cspmarket/orchestrator/internal/adapter/identity"
	"github.com/cspmarket/orchestrator/internal/adapter/orchestrator"
	"github.com/cspmarket/orchestrator/internal/adapter/payload"
	"github.com/cspmarket/orchestrator/internal/adapter/store"
	"github.com/cspmarket/orchestrator/internal/domain/catalog"
	"github.com/cspmarket/orchestrator/internal/platform/config"
	"github.com/cspmarket/orchestrator/internal/platform/fixtures"
	"github.com/cspmarket/orchestrator/internal/platform/metrics"
	"github.com/cspmarket/orchestrator/internal/platform/secretbox"
	"github.com/cspmarket/orchestrator/internal/platform/temporalserver"
	"github.com/cspmarket/orchestrator/workflows"
)

// App is a running product (or part of one).
type App struct {
	cfg      config.Config
	logger   *slog.Logger
	lock     *os.File
	temporal *temporalserver.Server
	Store    *store.Store
	Client   client.Client
	worker   worker.Worker
	http     *http.Server
	httpAddr string
	serveErr chan error
	// Metrics are this process's; served on the API's listener and on
	// MetricsAddr.
	Metrics     *metrics.Registry
	metricsSrv  *http.Server
	metricsAddr string
}

// Parts says which parts to run.
type Parts struct {
	HTTP   bool // the API
	Worker bool // a worker in this process
	// WorkerInterceptors wrap the worker's workflows and activities (tests
	// inject faults with them).
	WorkerInterceptors []interceptor.WorkerInterceptor
}

// Start brings the configured parts up. On error everything started so far
// is stopped again.
func Start(ctx context.Context, cfg config.Config, parts Parts, logger *slog.Logger) (_ *App, err error) {
	a := &App{cfg: cfg, logger: logger, serveErr: make(chan error, 1), Metrics: metrics.New()}
	defer func() {
		if err != nil {
			a.Stop(context.Background())
		}
	}()

	if parts.Worker {
		// Workflows cached between their tasks (the sticky cache) are most
		// of a worker's memory: bounded, a worker holds any number of open
		// subscriptions in bounded memory, and one evicted replays its
		// (short) history on its next step. The cache is one per process,
		// sized when the first SDK worker starts: set before the embedded
		// server, whose own system workers start first.
		worker.SetStickyWorkflowCacheSize(cfg.WorkflowCacheSize)
	}
	temporalAddress := cfg.TemporalAddress
	if cfg.Embedded() && parts.HTTP {
		// The data directory holds customers, token hashes and the
		// secrets key: its owner's alone, even when an older version
		// created it open to everyone.
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, err
		}
		if err := os.Chmod(cfg.DataDir, 0o700); err != nil {
			return nil, err
		}
		if a.lock, err = lockDir(cfg.DataDir); err != nil {
			return nil, err
		}
		a.temporal, err = temporalserver.Start(ctx, temporalserver.Options{
			DatabaseFile: cfg.TemporalDatabaseFile(), VisibilityDatabaseFile: cfg.TemporalVisibilityDatabaseFile(), FrontendPort: cfg.TemporalDevPort, UIPort: cfg.TemporalUIPort,
			Namespace: cfg.TemporalNamespace, SearchAttributes: payload.SearchAttributes, Logger: logger,
		})
		if err != nil {
			return nil, fmt.Errorf("embedded Temporal: %w", err)
		}
		temporalAddress = a.temporal.FrontendAddress()
	} else if temporalAddress == "" {
		// A worker beside an embedded starter dials the starter's server.
		temporalAddress = net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.TemporalDevPort))
	}

	box, err := secretsBox(cfg, logger)
	if err != nil {
		return nil, err
	}
	if a.Store, err = store.Open(ctx, cfg.DatabaseURL, box, store.Options{MaxOpenConns: cfg.DatabaseMaxConns}); err != nil {
		return nil, err
	}
	if err := a.Store.Migrate(ctx); err != nil {
		return nil, err
	}
	if parts.HTTP {
		cat := catalog.Dev()
		if cfg.CatalogFile != "" {
			if cat, err = catalog.Load(cfg.CatalogFile); err != nil {
				return nil, err
			}
		}
		if err := a.Store.SyncCatalog(ctx, cat); err != nil {
			return nil, fmt.Errorf("sync catalog: %w", err)
		}
		switch {
		case cfg.DevSeed && !cfg.LoopbackListener():
			logger.Warn("DEV_SEED=true on a listener others can reach: the documented dev tokens (README) are usable by anyone who reaches it", "httpAddr", cfg.HTTPAddr)
		case !cfg.DevSeed && cfg.Embedded() && !cfg.LoopbackListener():
			logger.Warn("dev fixtures not seeded: HTTP_ADDR is not a loopback address, and their tokens are public; make agents with `starter agents create`, or set DEV_SEED=true", "httpAddr", cfg.HTTPAddr)
		}
		if cfg.DevSeed {
			if err := fixtures.Seed(ctx, a.Store); err != nil {
				return nil, err
			}
		}
	}

	a.Client, err = client.DialContext(ctx, client.Options{
		HostPort:          temporalAddress,
		Namespace:         cfg.TemporalNamespace,
		Logger:            tlog.NewStructuredLogger(logger.With("component", "temporal-sdk")),
		MetricsHandler:    a.Metrics.SDKHandler(),
		ConnectionOptions: client.ConnectionOptions{GrpcCompression: grpcCompression(cfg.TemporalGzip)},
	})
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s: %w", temporalAddress, err)
	}

	// The HTTP listener is taken first: its address is the public URL
	// unless one is configured, which the worker's webhooks need too (the
	// issuer of their tokens).
	var listener net.Listener
	publicURL := cfg.PublicURL
	if parts.HTTP {
		if listener, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			return nil, fmt.Errorf("HTTP_ADDR %s: %w", cfg.HTTPAddr, err)
		}
		a.httpAddr = listener.Addr().String()
		if publicURL == "" {
			publicURL = "http://" + reachable(a.httpAddr)
		}
	} else if publicURL == "" {
		publicURL = "http://" + reachable(cfg.HTTPAddr)
	}
	tokens := &accesstoken.Issuer{Store: a.Store, URL: publicURL}

	if parts.Worker {
		a.worker = worker.New(a.Client, workflows.TaskQueue, worker.Options{Interceptors: parts.WorkerInterceptors})
		workflows.RegisterSubscriptionWorkflow(a.worker)
		a.worker.RegisterWorkflow(workflows.InvoicingWorkflow)
		a.worker.RegisterWorkflowWithOptions(workflows.NotificationDeliveryWorkflow, workflow.RegisterOptions{Name: activities.DeliveryWorkflowName})
		st := a.Store
		a.worker.RegisterActivity(&activities.Activities{
			Store: st, Logger: logger, Temporal: a.Client, TaskQueue: workflows.TaskQueue,
			HTTP: egress.Policy{AllowLoopback: cfg.NotifyAllowLoopback}.Client(10 * time.Second),
			IssueCode: func(ctx context.Context, sub store.Subscription) (*authcode.Link, error) {
				return authcode.Live(ctx, st, sub, time.Now())
			},
			Metrics: a.Metrics, Tokens: tokens,
		})
		if err := a.worker.Start(); err != nil {
			if listener != nil {
				listener.Close()
			}
			return nil, fmt.Errorf("start worker: %w", err)
		}
	}

	if parts.HTTP {
		if err := orchestrator.EnsureInvoicingSchedule(ctx, a.Client); err != nil {
			listener.Close()
			return nil, err
		}
		l := listener
		srv := &api.Server{Tokens: tokens, Store: a.Store, Temporal: a.Client, Logger: logger, Settings: workflows.Settings{
			ActivationDeadline: cfg.ActivationDeadline, CancellationApprovalTimeout: cfg.CancellationApprovalTimeout, RenewalNotice: cfg.RenewalNotice,
		}, Egress: egress.Policy{AllowLoopback: cfg.NotifyAllowLoopback}, PurchaseTimeout: cfg.PurchaseTimeout,
			AuthFailureLimit: cfg.AuthFailureLimit}
		if cfg.NotifyAllowLoopback {
			logger.Warn("notification endpoints on this host (loopback) are allowed: NOTIFY_ALLOW_LOOPBACK is on, as in the embedded default for the ISV simulator; set NOTIFY_ALLOW_LOOPBACK=false to refuse them")
		}
		var idp *identity.Provider
		if o := cfg.OIDC; o != nil {
			idp = identity.New(identity.Config{Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: o.ClientSecret,
				RedirectURL: publicURL + "/sign-in/callback", PostLogoutURL: publicURL + "/sign-in", APIAudience: o.APIAudience,
				Scopes: o.Scopes, Name: o.ProviderName, Directory: o.Directory})
			logger.Info("sign-in with an identity provider", "issuer", o.Issuer, "redirectURL", publicURL+"/sign-in/callback")
		}
		srv.Identity = idp
		apiHandler := srv.Handler()
		partnerConsole := &console.Console{API: apiHandler, Store: a.Store, Secure: cfg.ConsoleSecureCookies, Logger: logger, Identity: idp, Box: box}
		a.http = &http.Server{Handler: a.withMetrics(console.Mount(apiHandler, partnerConsole.Handler())), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
		go func() { a.serveErr <- a.http.Serve(l) }()
	}
	if cfg.MetricsAddr != "" {
		l, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return nil, fmt.Errorf("METRICS_ADDR %s: %w", cfg.MetricsAddr, err)
		}
		a.metricsAddr = l.Addr().String()
		var extra http.Handler = http.NotFoundHandler()
		if cfg.Pprof {
			// Profiles on the metrics listener only (never on the API's):
			// go tool pprof http://$METRICS_ADDR/debug/pprof/profile
			pprofMux := http.NewServeMux()
			pprofMux.HandleFunc("/debug/pprof/", pprof.Index)
			pprofMux.HandleFunc("/debug/pprof/profile", pprof.Profile)
			pprofMux.HandleFunc("/debug/pprof/trace", pprof.Trace)
			extra = pprofMux
		}
		a.metricsSrv = &http.Server{Handler: a.withMetrics(extra), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := a.metricsSrv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.serveErr <- err
			}
		}()
	}
	return a, nil
}

// withMetrics serves GET /metrics beside next and counts every request.
func (a *App) withMetrics(next http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.Metrics.Handler())
	mux.Handle("/", next)
	return a.Metrics.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r)
		if r.Pattern == "GET /metrics" {
			metrics.NoteRoute(r.Context(), r.Pattern)
		}
	}))
}

// MetricsAddress is where METRICS_ADDR listens, or "".
func (a *App) MetricsAddress() string { return a.metricsAddr }

// HTTPAddress is where the API listens.
func (a *App) HTTPAddress() string { return a.httpAddr }

// TemporalAddress is the embedded server's frontend, or "".
func (a *App) TemporalAddress() string {
	if a.temporal == nil {
		return ""
	}
	return a.temporal.FrontendAddress()
}

// UIAddress is the embedded Web UI's address, or "".
func (a *App) UIAddress() string {
	if a.temporal == nil {
		return ""
	}
	return a.temporal.UIAddress()
}

// Wait blocks until ctx ends or the HTTP server fails.
func (a *App) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-a.serveErr:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}

// Stop shuts down in dependency order: no new requests, in-flight requests
// finished, the worker drained, then Temporal and the database.
func (a *App) Stop(ctx context.Context) {
	if a.http != nil {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := a.http.Shutdown(sctx); err != nil {
			a.logger.Warn("HTTP shutdown", "error", err)
		}
		cancel()
	}
	if a.metricsSrv != nil {
		_ = a.metricsSrv.Close()
	}
	if a.worker != nil {
		a.worker.Stop()
	}
	if a.Client != nil {
		a.Client.Close()
	}
	if a.temporal != nil {
		a.temporal.Stop()
	}
	if a.Store != nil {
		_ = a.Store.Close()
	}
	if a.lock != nil {
		_ = a.lock.Close()
	}
}

func secretsBox(cfg config.Config, logger *slog.Logger) (*secretbox.Box, error) {
	var key []byte
	var err error
	if cfg.SecretsKey != "" {
		key, err = secretbox.ParseKey(cfg.SecretsKey)
	} else {
		if !cfg.Embedded() {
			logger.Warn("SECRETS_KEY is not set: webhook secrets are sealed with a key file in DATA_DIR; set SECRETS_KEY in production", "file", cfg.SecretsKeyFile())
		}
		key, err = secretbox.LoadOrCreateKeyFile(cfg.SecretsKeyFile())
	}
	if err != nil {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	return secretbox.New(key)
}

// lockDir takes an exclusive lock on the data directory: two embedded
// servers on one SQLite file would fight over it.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("data directory %s is in use by another starter (DATA_DIR sets another one)", dir)
	}
	return f, nil
}

// grpcCompression is the SDK's setting for TEMPORAL_GRPC_GZIP.
func grpcCompression(gzip bool) client.GrpcCompression {
	if gzip {
		return &client.GrpcCompressionGzip{}
	}
	return &client.GrpcCompressionNone{}
}

// reachable is a listening address as a client on this host reaches it:
// an unspecified host (":8080", "0.0.0.0:8080") is the loopback one.
func reachable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
