// Command loadgen drives complete lifecycles through a running product's
// public HTTP surface and prints lifecycles/s, purchase and
// purchase-to-active percentiles, errors and the product's peak RSS
// (CONTRACT.md, Operations). With -baseline it also runs the bare-Temporal
// reference (../shared/bench/baretemporal) against the same Temporal
// server, before the product, and prints the ratio.
//
//	go run ./starter &                                  # the product, embedded default
//	go run ./internal/tools/loadgen -n 600 -c 50
//	go run ./internal/tools/loadgen -n 600 -c 50 -baseline ../shared/bench/baretemporal
//	go run ./internal/tools/loadgen -n 600 -rate 20     # latency at a fixed arrival rate
//	go run ./internal/tools/loadgen -n 100000 -c 50 -customers 1000 -list 500   # fill, then list p99
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cspmarket/orchestrator/internal/adapter/saaswire"
	"github.com/cspmarket/orchestrator/internal/tools/loadgen/load"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run() error {
	var cfg load.Config
	flag.StringVar(&cfg.URL, "url", "http://127.0.0.1:8080", "the product's API")
	flag.IntVar(&cfg.N, "n", 600, "lifecycles (or purchases with -purchase-only)")
	flag.IntVar(&cfg.Concurrency, "c", 50, "lifecycles at once (with -rate: at most in flight)")
	flag.Float64Var(&cfg.Rate, "rate", 0, "start lifecycles at this many per second (open loop) instead of -c at once")
	flag.BoolVar(&cfg.PurchaseOnly, "purchase-only", false, "only buy (fills the system with subscriptions waiting for their ISV)")
	flag.IntVar(&cfg.Customers, "customers", 0, "spread purchases over this many new customers (default n/100)")
	flag.StringVar(&cfg.Token, "token", "dev-admin-token", "the partner agent's token")
	flag.StringVar(&cfg.Publisher, "publisher", "isv-demo", "the offer's ISV")
	secret := flag.String("secret", "dev-isv-secret", "the ISV's webhook secret")
	flag.StringVar(&cfg.Offer, "offer", "contoso-crm", "offer")
	flag.StringVar(&cfg.Plan, "plan", "monthly", "plan")
	flag.IntVar(&cfg.Quantity, "quantity", 0, "every purchase's licence count (0: 1 to 5 in turn; 1 for a flat-rate plan)")
	flag.StringVar(&cfg.Dialect, "dialect", "native", "how the ISV activates: native (two signed webhooks) or microsoft (resolve and activate at /api/saas)")
	pids := flag.String("pid", "", "product processes to watch for RSS, comma-separated (default: the one listening on -url's port)")
	list := flag.Int("list", 0, "after the run, time this many list-subscriptions reads over the run's customers")
	baseline := flag.String("baseline", "", "directory of the bare-Temporal baseline (../shared/bench/baretemporal) to run first against -temporal")
	temporal := flag.String("temporal", "127.0.0.1:7233", "Temporal frontend for -baseline")
	regular := flag.Bool("baseline-regular", false, "also run the baseline with regular activities")
	shape := flag.String("baseline-shape", "bare", "the baseline's -shape: bare (start, two signals, complete) or product (the Temporal floor of one subscription)")
	jsonOut := flag.Bool("json", false, "print the figures as one JSON object too")
	usage := flag.String("usage", "", "after the lifecycles, post usage of these dimensions (comma-separated, e.g. api-calls,storage-gb,messages) for every subscription, in batches of 25 through Microsoft's batchUsageEvent; use a metered plan (-offer contoso-api -plan api-standard)")
	usageQuantity := flag.Float64("usage-quantity", 150, "each usage event's quantity (150 is beyond every dimension's included quantity in the dev catalog)")
	listExisting := flag.Int("list-existing", 0, "only time this many list-subscriptions reads over the partner's existing customers (no purchases)")
	flag.Parse()
	cfg.Secret = []byte(*secret)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *listExisting > 0 {
		customers, err := load.Customers(ctx, cfg, 1000)
		if err != nil {
			return err
		}
		lat, err := load.ListLatency(ctx, cfg, customers, *listExisting)
		if err != nil {
			return err
		}
		fmt.Printf("list subscriptions (%d reads over %d customers): p50 %s p99 %s\n", len(lat), len(customers), ms(load.Percentile(lat, 50)), ms(load.Percentile(lat, 99)))
		return nil
	}
	out := map[string]any{"n": cfg.N, "concurrency": cfg.Concurrency, "arrivalRate": cfg.Rate, "purchaseOnly": cfg.PurchaseOnly}

	var baseRate float64
	var baseCPU time.Duration // per lifecycle, server and driver together
	if *baseline != "" {
		bin, err := buildBaseline(ctx, *baseline)
		if err != nil {
			return err
		}
		defer os.RemoveAll(filepath.Dir(bin))
		modes := []bool{true}
		if *regular {
			modes = append(modes, false)
		}
		server := serverPIDs(*temporal)
		for _, local := range modes {
			before, machineBefore := load.CPUOf(server), readMachineTime()
			rate, line, driverCPU, err := runBaseline(ctx, bin, *temporal, cfg.N, cfg.Concurrency, local, *shape)
			if err != nil {
				return err
			}
			serverCPU := load.CPUOf(server) - before
			fmt.Println("baseline:", line)
			if local {
				printStolen("baseline", "baselineLocalStolenPct", machineBefore, out)
			} else {
				printStolen("baseline (regular activities)", "baselineRegularStolenPct", machineBefore, out)
			}
			if len(server) > 0 {
				perLifecycle := (serverCPU + driverCPU) / time.Duration(cfg.N)
				fmt.Printf("baseline CPU per lifecycle: %s (Temporal server %s, its driver and worker %s)\n",
					ms(perLifecycle), ms(serverCPU/time.Duration(cfg.N)), ms(driverCPU/time.Duration(cfg.N)))
				if local {
					baseCPU = perLifecycle
					out["baselineLocalCPUMs"] = msf(perLifecycle)
				}
			}
			if local {
				baseRate = rate
				out["baselineLocalRate"] = rate
			} else {
				out["baselineRegularRate"] = rate
			}
		}
	}

	watched := watch(cfg.URL, *pids)
	productBefore, selfBefore, machineBefore := load.CPUOf(watched), load.SelfCPU(), readMachineTime()
	samplers := map[int]*load.RSSSampler{}
	for _, pid := range watched {
		samplers[pid] = load.SampleRSS(pid, 200*time.Millisecond)
	}
	mode := fmt.Sprintf("concurrency %d", cfg.Concurrency)
	if cfg.Rate > 0 {
		mode = fmt.Sprintf("%.1f/s arrivals", cfg.Rate)
	}
	what := "lifecycles"
	if cfg.PurchaseOnly {
		what = "purchases"
	}
	fmt.Printf("loadgen: %d %s at %s against %s\n", cfg.N, what, mode, cfg.URL)
	res, err := load.Run(ctx, cfg)
	// Interrupted (^C, SIGINT: a fill stopped where it is), the figures
	// of what was done are still worth printing.
	interrupted := err != nil && ctx.Err() != nil
	if err != nil && !interrupted {
		return err
	}
	if interrupted {
		stop() // a second ^C ends the process at once
		fmt.Printf("interrupted after %d %s: the figures are of those (%s in flight then count as errors)\n", res.Done, what, what)
	}
	productCPU, loadCPU := load.CPUOf(watched)-productBefore, load.SelfCPU()-selfBefore
	p := load.Percentile
	fmt.Printf("%s/s: %.1f (%d done, %d errors) in %.1f s\n", what, res.Rate(), res.Done, res.Errors, res.Elapsed.Seconds())
	if cfg.Rate > 0 && res.Dispatched > 0 {
		fmt.Printf("arrivals: %.1f/s asked, %.1f/s achieved\n", cfg.Rate, float64(cfg.N)/res.Dispatched.Seconds())
	}
	fmt.Printf("purchase: p50 %s p99 %s (%d answered 202 purchase_pending)\n", ms(p(res.Purchase, 50)), ms(p(res.Purchase, 99)), res.Pending)
	if !cfg.PurchaseOnly {
		fmt.Printf("purchase to active: p50 %s p99 %s\n", ms(p(res.ToActive, 50)), ms(p(res.ToActive, 99)))
	}
	for _, e := range res.ErrorSamples {
		fmt.Println("error:", e)
	}
	printStolen("product", "stolenPct", machineBefore, out)
	out["rate"], out["done"], out["errors"], out["pending"] = res.Rate(), res.Done, res.Errors, res.Pending
	out["purchaseP50Ms"], out["purchaseP99Ms"] = msf(p(res.Purchase, 50)), msf(p(res.Purchase, 99))
	out["toActiveP50Ms"], out["toActiveP99Ms"] = msf(p(res.ToActive, 50)), msf(p(res.ToActive, 99))
	if len(watched) > 0 && res.Done > 0 {
		// On a machine every process shares, CPU per lifecycle moves less
		// from run to run than the rate does.
		n := time.Duration(res.Done)
		perLifecycle := (productCPU + loadCPU) / n
		fmt.Printf("CPU per %s: %s (product processes watched %s, this load command %s)\n",
			strings.TrimSuffix(what, "s"), ms(perLifecycle), ms(productCPU/n), ms(loadCPU/n))
		out["cpuMs"] = msf(perLifecycle)
		if baseCPU > 0 && !cfg.PurchaseOnly {
			fmt.Printf("bare local-activity baseline CPU / product CPU per lifecycle: %.2fx\n", float64(baseCPU)/float64(perLifecycle))
			out["cpuRatio"] = float64(baseCPU) / float64(perLifecycle)
		}
	}
	if baseRate > 0 && !cfg.PurchaseOnly {
		fmt.Printf("product / bare local-activity baseline: %.2fx\n", res.Rate()/baseRate)
		out["ratio"] = res.Rate() / baseRate
	}
	for _, pid := range watched {
		seen := samplers[pid].Stop()
		rss, peak, err := load.Memory(pid)
		if err != nil {
			continue
		}
		fmt.Printf("product pid %d: RSS now %s, largest during the run %s, peak since start (VmHWM) %s\n", pid, mib(rss), mib(seen), mib(peak))
		out["rssPeakMiB_"+strconv.Itoa(pid)] = peak >> 20
	}
	if *list > 0 && !interrupted {
		customers := make([]string, 0, len(res.SubscriptionsByCustomer))
		for c := range res.SubscriptionsByCustomer {
			customers = append(customers, c)
		}
		slices.Sort(customers)
		lat, err := load.ListLatency(ctx, cfg, customers, *list)
		if err != nil {
			return err
		}
		fmt.Printf("list subscriptions (%d reads over %d customers): p50 %s p99 %s\n", len(lat), len(customers), ms(p(lat, 50)), ms(p(lat, 99)))
		out["listP50Ms"], out["listP99Ms"] = msf(p(lat, 50)), msf(p(lat, 99))
	}
	if *usage != "" && !interrupted {
		var subs []string
		for _, ids := range res.SubscriptionsByCustomer {
			for _, id := range ids {
				if u, ok := saaswire.SubscriptionUUID(id); ok {
					subs = append(subs, u)
				}
			}
		}
		before, self := load.CPUOf(watched), load.SelfCPU()
		ur, err := load.RunUsage(ctx, cfg, subs, strings.Split(*usage, ","), *usageQuantity)
		if err != nil {
			return err
		}
		fmt.Printf("usage: %d events in %d batches of up to 25 in %.1f s: %.0f events/s; batch p50 %s p99 %s; statuses %v; %d failed batches\n",
			ur.Events, ur.Batches, ur.Elapsed.Seconds(), ur.EventRate(), ms(p(ur.Batch, 50)), ms(p(ur.Batch, 99)), ur.Statuses, ur.Errors)
		for _, e := range ur.Samples {
			fmt.Println("usage error:", e)
		}
		out["usageEventsPerSec"], out["usageBatchP50Ms"], out["usageBatchP99Ms"] = ur.EventRate(), msf(p(ur.Batch, 50)), msf(p(ur.Batch, 99))
		if ur.Events > 0 && len(watched) > 0 {
			perEvent := (load.CPUOf(watched) - before + load.SelfCPU() - self) / time.Duration(ur.Events)
			fmt.Printf("CPU per usage event: %s\n", perEvent)
			out["usageCPUMicrosPerEvent"] = perEvent.Microseconds()
		}
		if ur.Errors > 0 {
			return fmt.Errorf("%d usage batches failed", ur.Errors)
		}
	}
	if *jsonOut {
		b, _ := json.Marshal(out)
		fmt.Println(string(b))
	}
	if interrupted {
		return errors.New("interrupted")
	}
	if res.Errors > 0 {
		return fmt.Errorf("%d of %d %s failed", res.Errors, cfg.N, what)
	}
	return nil
}

// watch is the processes whose memory is reported.
func watch(api, pids string) []int {
	var out []int
	for _, f := range strings.Split(pids, ",") {
		if pid, err := strconv.Atoi(strings.TrimSpace(f)); err == nil {
			out = append(out, pid)
		}
	}
	if len(out) > 0 {
		return out
	}
	u, err := url.Parse(api)
	if err != nil {
		return nil
	}
	port, _ := strconv.Atoi(u.Port())
	if pid := load.PIDListening(port); pid != 0 {
		return []int{pid}
	}
	return nil
}

var rateLine = regexp.MustCompile(`rate=([0-9.]+)/s`)

// buildBaseline compiles the bare-Temporal reference once, so that the
// processor time of its run is its own and not the compiler's.
func buildBaseline(ctx context.Context, dir string) (string, error) {
	tmp, err := os.MkdirTemp("", "baretemporal")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(tmp, "baretemporal")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		_ = os.RemoveAll(tmp)
		return "", fmt.Errorf("build the baseline in %s: %w", dir, err)
	}
	return bin, nil
}

// runBaseline runs the bare-Temporal reference as its README says, with
// the same size and concurrency, and returns its rate, its line and the
// processor time it used (its driver and worker).
func runBaseline(ctx context.Context, bin, temporal string, n, c int, local bool, shape string) (float64, string, time.Duration, error) {
	args := []string{"-addr", temporal, "-n", strconv.Itoa(n), "-c", strconv.Itoa(c), "-shape", shape}
	if local {
		args = append(args, "-local")
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		return 0, "", 0, fmt.Errorf("baseline %s: %w", bin, err)
	}
	used := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	// Its SDK logs on stdout too: the figures are the line with the rate.
	var line string
	var m []string
	for _, l := range strings.Split(string(b), "\n") {
		if m = rateLine.FindStringSubmatch(l); m != nil {
			line = strings.TrimSpace(l)
			break
		}
	}
	if m == nil {
		return 0, "", 0, fmt.Errorf("baseline printed no rate: %q", b)
	}
	rate, err := strconv.ParseFloat(m[1], 64)
	return rate, line, used, err
}

// serverPIDs is the local process serving the Temporal frontend at addr
// (the starter itself in the embedded default), if there is one.
func serverPIDs(addr string) []int {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil
	}
	p, _ := strconv.Atoi(port)
	if pid := load.PIDListening(p); pid != 0 {
		return []int{pid}
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", msf(d)) }

func msf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func mib(b int64) string { return fmt.Sprintf("%d MiB", b>>20) }

// readMachineTime is the machine's processor time now, or nothing where
// there is no /proc/stat (printStolen then prints nothing).
func readMachineTime() *load.MachineTime {
	m, err := load.ReadMachineTime()
	if err != nil {
		return nil
	}
	return &m
}

// printStolen prints the share of the machine's processor time the host
// stole since before: on a virtual machine, two runs' rates compare only
// when they lost about as much.
func printStolen(run, key string, before *load.MachineTime, out map[string]any) {
	after := readMachineTime()
	if before == nil || after == nil {
		return
	}
	share := before.StolenShare(*after)
	fmt.Printf("%s run: the host stole %.1f %% of this machine's processor time\n", run, 100*share)
	out[key] = 100 * share
}
