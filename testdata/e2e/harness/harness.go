// Package harness runs a real Kubernetes control plane as local processes for
// graft's end-to-end tests: etcd (Debian's etcd-server), and kube-apiserver,
// kube-controller-manager and kube-scheduler built from the k8s.io/kubernetes
// module (the kubecp multi-call binary in ../cmd/kubecp). Everything listens
// on 127.0.0.1 only, every wait is bounded, and Stop ends every process it
// started.
//
// There is no kubelet and no container runtime. Nodes are registered as API
// objects, and an optional "kubelet stand-in" reports scheduled pods as
// Running and Ready so that OrderedReady StatefulSets proceed. Everything the
// tests assert on (PV/PVC binding, StatefulSet pods and claims, scheduling)
// is done by the real controllers and the real scheduler.
package harness

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Options configure Start.
type Options struct {
	// KubeCP is the path of the kubecp multi-call binary.
	KubeCP string
	// Etcd is the path of the etcd binary (default: "etcd" on PATH).
	Etcd string
	// Dir is where data, certificates, kubeconfigs and logs are written.
	Dir string
	// StartTimeout bounds the whole startup (default 120s).
	StartTimeout time.Duration
	// Logf receives progress lines (e.g. t.Logf).
	Logf func(format string, args ...any)
}

// Cluster is a running control plane.
type Cluster struct {
	Dir        string
	Kubeconfig string // admin (system:masters) kubeconfig
	Config     *rest.Config
	Client     kubernetes.Interface
	APIServer  string // https://127.0.0.1:PORT

	logf     func(string, ...any)
	procs    []*proc // in start order
	mu       sync.Mutex
	preStops []func() // before the processes stop (helpers using the API)
	stops    []func() // after (data directories)
}

type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error
	ports   []int
}

// FreePort asks the kernel for a free port on 127.0.0.1.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func freePorts(n int) ([]int, error) {
	// Hold all listeners until every port is chosen so none repeats.
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Start runs etcd, kube-apiserver, kube-controller-manager and kube-scheduler
// and waits until each is healthy. On error, everything started is stopped.
func Start(ctx context.Context, o Options) (c *Cluster, err error) {
	if o.StartTimeout == 0 {
		o.StartTimeout = 120 * time.Second
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.Etcd == "" {
		o.Etcd = "etcd"
	}
	if _, err := exec.LookPath(o.Etcd); err != nil {
		return nil, fmt.Errorf("etcd not found (install Debian's etcd-server): %w", err)
	}
	if st, err := os.Stat(o.KubeCP); err != nil || st.IsDir() {
		return nil, fmt.Errorf("control-plane binary %q missing (run testdata/e2e/run.sh to build it): %v", o.KubeCP, err)
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.StartTimeout)
	defer cancel()

	c = &Cluster{Dir: o.Dir, logf: o.Logf}
	defer func() {
		if err != nil {
			c.Stop()
			err = fmt.Errorf("%w\n%s", err, c.LogTails(40))
		}
	}()

	ports, err := freePorts(5)
	if err != nil {
		return nil, err
	}
	etcdClient, etcdPeer, apiPort, kcmPort, schedPort := ports[0], ports[1], ports[2], ports[3], ports[4]

	// PKI and kubeconfigs.
	p, err := newPKI(filepath.Join(o.Dir, "pki"))
	if err != nil {
		return nil, err
	}
	for _, id := range []struct {
		name, cn string
		orgs     []string
		server   bool
	}{
		{"apiserver", "kube-apiserver", nil, true},
		{"admin", "graft-e2e-admin", []string{"system:masters"}, false},
		{"kcm", "system:kube-controller-manager", nil, false},
		{"scheduler", "system:kube-scheduler", nil, false},
	} {
		if err := p.issue(id.name, id.cn, id.orgs, id.server); err != nil {
			return nil, err
		}
	}
	if err := p.serviceAccountKey(); err != nil {
		return nil, err
	}
	c.APIServer = fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	kc := func(id string) (string, error) {
		path := filepath.Join(o.Dir, id+".kubeconfig")
		return path, writeKubeconfig(path, c.APIServer, p.path("ca.crt"), p.path(id+".crt"), p.path(id+".key"))
	}
	if c.Kubeconfig, err = kc("admin"); err != nil {
		return nil, err
	}
	kcmKC, err := kc("kcm")
	if err != nil {
		return nil, err
	}
	schedKC, err := kc("scheduler")
	if err != nil {
		return nil, err
	}

	// etcd. Its data lives in memory when /dev/shm is there (it is
	// throw-away, and fsync on a shared disk is the slowest part of etcd).
	dataParent := o.Dir
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		dataParent = "/dev/shm"
	}
	etcdData, err := os.MkdirTemp(dataParent, "graft-e2e-etcd-")
	if err != nil {
		return nil, err
	}
	c.onStop(func() { os.RemoveAll(etcdData) })
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdClient)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPeer)
	t0 := time.Now()
	if err := c.start("etcd", []int{etcdClient, etcdPeer}, o.Etcd,
		"--name=graft-e2e",
		"--data-dir="+etcdData,
		"--listen-client-urls="+etcdURL,
		"--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=graft-e2e="+peerURL,
		"--initial-cluster-state=new",
		"--logger=zap",
		"--log-level=warn",
	); err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, c, "etcd", etcdURL+"/health", nil, `"health":"true"`); err != nil {
		return nil, err
	}
	o.Logf("harness: etcd healthy on %s after %s", etcdURL, time.Since(t0).Round(time.Millisecond))

	// kube-apiserver.
	t1 := time.Now()
	if err := c.start("kube-apiserver", []int{apiPort}, o.KubeCP, "kube-apiserver",
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--endpoint-reconciler-type=none", // required with a loopback advertise address
		fmt.Sprintf("--secure-port=%d", apiPort),
		"--cert-dir="+filepath.Join(o.Dir, "apiserver-certs"),
		"--tls-cert-file="+p.path("apiserver.crt"),
		"--tls-private-key-file="+p.path("apiserver.key"),
		"--client-ca-file="+p.path("ca.crt"),
		"--authorization-mode=Node,RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+p.path("sa.pub"),
		"--service-account-signing-key-file="+p.path("sa.key"),
		"--service-cluster-ip-range=10.96.0.0/16",
		"--allow-privileged=true",
		"--profiling=false",
	); err != nil {
		return nil, err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 200, 400
	c.Config = cfg
	tlsCfg, err := rest.TLSConfigFor(cfg)
	if err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, c, "kube-apiserver", c.APIServer+"/readyz", tlsCfg, "ok"); err != nil {
		return nil, err
	}
	if c.Client, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, err
	}
	o.Logf("harness: kube-apiserver ready on %s after %s", c.APIServer, time.Since(t1).Round(time.Millisecond))

	// kube-controller-manager and kube-scheduler.
	t2 := time.Now()
	if err := c.start("kube-controller-manager", []int{kcmPort}, o.KubeCP, componentArgs("kube-controller-manager", kcmKC, kcmPort, filepath.Join(o.Dir, "kcm-certs"),
		"--use-service-account-credentials=true",
		"--service-account-private-key-file="+p.path("sa.key"),
		"--root-ca-file="+p.path("ca.crt"),
		// No kubelet heartbeats: without this the node lifecycle
		// controller would taint every node unreachable and evict.
		"--controllers=*,-node-lifecycle-controller",
		// Resync claims quickly so binding races show within seconds.
		"--pvclaimbinder-sync-period=2s",
		// The PV controller's reclaim decisions, for the tests to read.
		"--vmodule=pv_controller=3",
		// A split migration's 120 claims take four writes each to bind:
		// at the default 20 requests a second that alone is half a minute.
		"--kube-api-qps=200", "--kube-api-burst=400",
	)...); err != nil {
		return nil, err
	}
	if err := c.start("kube-scheduler", []int{schedPort}, o.KubeCP, componentArgs("kube-scheduler", schedKC, schedPort, filepath.Join(o.Dir, "scheduler-certs"),
		"--kube-api-qps=200", "--kube-api-burst=400")...); err != nil {
		return nil, err
	}
	insecure := &tls.Config{InsecureSkipVerify: true} // self-signed serving certs of local components
	if err := waitHTTP(ctx, c, "kube-controller-manager", fmt.Sprintf("https://127.0.0.1:%d/healthz", kcmPort), insecure, "ok"); err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, c, "kube-scheduler", fmt.Sprintf("https://127.0.0.1:%d/readyz", schedPort), insecure, "ok"); err != nil {
		return nil, err
	}
	o.Logf("harness: kube-controller-manager and kube-scheduler healthy after %s", time.Since(t2).Round(time.Millisecond))
	if err := c.waitDefaultServiceAccount(ctx, "default"); err != nil {
		return nil, err
	}
	o.Logf("harness: control plane up in %s (dir %s)", time.Since(t0).Round(time.Millisecond), o.Dir)
	return c, nil
}

func (c *Cluster) onStop(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stops = append(c.stops, f)
}

// componentArgs is the command line of kube-controller-manager or
// kube-scheduler (sub, a kubecp subcommand): its kubeconfig for the API
// and for authentication and authorization, serving on 127.0.0.1:port
// with certificates in certDir, no leader election, no profiling; then
// extra.
func componentArgs(sub, kubeconfig string, port int, certDir string, extra ...string) []string {
	return append([]string{sub,
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--bind-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", port),
		"--cert-dir=" + certDir,
		"--leader-elect=false",
		"--profiling=false",
	}, extra...)
}

func (c *Cluster) start(name string, ports []int, bin string, args ...string) error {
	logPath := filepath.Join(c.Dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{}), ports: ports}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	c.mu.Lock()
	c.procs = append(c.procs, p)
	c.mu.Unlock()
	return nil
}

// exited reports an error if a component has died.
func (c *Cluster) exited() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.procs {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited: %v (log %s)", p.name, p.err, p.logPath)
		default:
		}
	}
	return nil
}

// Healthy reports an error if any component process has exited.
func (c *Cluster) Healthy() error { return c.exited() }

func waitHTTP(ctx context.Context, c *Cluster, name, url string, tlsCfg *tls.Config, want string) error {
	tr := &http.Transport{TLSClientConfig: tlsCfg, Proxy: nil}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 3 * time.Second}
	var last string
	for {
		if err := c.exited(); err != nil {
			return err
		}
		resp, err := hc.Get(url)
		if err == nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			if resp.StatusCode == 200 && strings.Contains(string(b), want) {
				return nil
			}
			last = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, lastLines(string(b), 8))
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready at %s: %v (last: %s)", name, url, ctx.Err(), last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (c *Cluster) waitDefaultServiceAccount(ctx context.Context, ns string) error {
	return Poll(ctx, 200*time.Millisecond, func() (bool, error) {
		_, err := c.Client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", getOpts)
		return err == nil, c.exited()
	})
}

// Stop ends every component, newest first: SIGTERM, then SIGKILL after a
// grace period. It waits until each component's ports are closed, so that a
// next instance can start, and reports a process it could not reap or a port
// still open. It is safe to call more than once.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	procs := c.procs
	c.procs = nil
	stops, preStops := c.stops, c.preStops
	c.stops, c.preStops = nil, nil
	c.mu.Unlock()
	for i := len(preStops) - 1; i >= 0; i-- {
		preStops[i]()
	}
	var problems []string
	for i := len(procs) - 1; i >= 0; i-- {
		p := procs[i]
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			c.logf("harness: %s did not stop within 20s of SIGTERM; killing", p.name)
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				problems = append(problems, fmt.Sprintf("%s (pid %d) not reaped", p.name, p.cmd.Process.Pid))
			}
		}
		for _, port := range p.ports {
			if !waitPortClosed(port, 30*time.Second) {
				problems = append(problems, fmt.Sprintf("%s's port %d still open 30s after it stopped", p.name, port))
			}
		}
		// Keep the (done) process for LogTails.
		c.mu.Lock()
		c.procs = append([]*proc{p}, c.procs...)
		c.mu.Unlock()
	}
	for i := len(stops) - 1; i >= 0; i-- {
		stops[i]()
	}
	if len(problems) > 0 {
		return errors.New("stopping the control plane: " + strings.Join(problems, "; "))
	}
	return nil
}

func waitPortClosed(port int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 500*time.Millisecond)
		if err != nil {
			return true
		}
		conn.Close()
		time.Sleep(200 * time.Millisecond)
	}
	return false
}

// LogTails returns the last n lines of every component's log.
func (c *Cluster) LogTails(n int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b bytes.Buffer
	for _, p := range c.procs {
		data, err := os.ReadFile(p.logPath)
		if err != nil {
			continue
		}
		fmt.Fprintf(&b, "----- %s (%s), last %d lines -----\n%s\n", p.name, p.logPath, n, lastLines(string(data), n))
	}
	return b.String()
}

// LogPaths lists the component log files.
func (c *Cluster) LogPaths() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, p := range c.procs {
		out = append(out, p.logPath)
	}
	return out
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Poll calls cond every interval until it returns true, returns an error, or
// ctx ends. Every wait in the harness and the tests goes through a context
// with a deadline.
func Poll(ctx context.Context, interval time.Duration, cond func() (bool, error)) error {
	if _, ok := ctx.Deadline(); !ok {
		return errors.New("harness.Poll needs a context with a deadline")
	}
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}
