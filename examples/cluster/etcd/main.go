// Command etcd runs a one-member etcd on loopback, for trying the cluster
// example and for the load suite's etcd runs, where neither Debian's
// etcd-server package nor an etcd release is at hand. It is etcd's own server
// (go.etcd.io/etcd/server/v3/embed, the version in go.mod), not a fake: what
// it stores is written to the data directory and kept across restarts.
//
// Usage:
//
//	go run ./examples/cluster/etcd -data-dir DIR [-listen 127.0.0.1:2379] [-peer 127.0.0.1:2380]
//
// It prints one line once it serves clients, and stops on SIGINT or SIGTERM.
// One member is no cluster: it has no fault tolerance, and is for trying
// things on one machine only.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "etcd:", err)
		os.Exit(1)
	}
}

// run starts the member, waits until it serves, and runs until a signal
// or a fatal error of the server.
func run(args []string) error {
	fs := flag.NewFlagSet("etcd", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "directory of the member's data (created if missing); required")
	listen := fs.String("listen", "127.0.0.1:2379", "loopback host:port for clients")
	peer := fs.String("peer", "127.0.0.1:2380", "loopback host:port for peers (unused by one member, but etcd listens on it)")
	logLevel := fs.String("log-level", "error", "etcd's log level while it runs: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dataDir == "" || fs.NArg() > 0 {
		return errors.New("usage: etcd -data-dir DIR [-listen 127.0.0.1:2379] [-peer 127.0.0.1:2380]")
	}
	clientURL, err := loopbackURL(*listen)
	if err != nil {
		return fmt.Errorf("-listen: %w", err)
	}
	peerURL, err := loopbackURL(*peer)
	if err != nil {
		return fmt.Errorf("-peer: %w", err)
	}

	level, err := zap.ParseAtomicLevel(*logLevel)
	if err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	logCfg := zap.NewProductionConfig()
	logCfg.Level = level
	logCfg.Sampling = nil
	logger, err := logCfg.Build()
	if err != nil {
		return err
	}

	cfg := embed.NewConfig()
	cfg.Name = "scopegate-example"
	cfg.Dir = *dataDir
	cfg.Logger = "zap"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(logger)
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{clientURL}, []url.URL{clientURL}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peerURL}, []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("starting: %w", err)
	}
	defer func() {
		// Closing makes etcd's listeners log their own closing as errors:
		// noise, not news.
		level.SetLevel(zap.FatalLevel)
		e.Close()
		fmt.Println("etcd stopped")
	}()
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		return err
	case <-ctx.Done():
		return nil
	case <-time.After(time.Minute):
		return errors.New("not ready within a minute")
	}
	fmt.Printf("etcd serves clients at %s (data in %s)\n", clientURL.String(), *dataDir)
	select {
	case err := <-e.Err():
		return err
	case <-ctx.Done():
		return nil
	}
}

// loopbackURL turns host:port into an http URL, refusing an address off
// loopback: this member has neither TLS nor authentication.
func loopbackURL(hostport string) (url.URL, error) {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return url.URL{}, err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return url.URL{}, fmt.Errorf("%q: want a loopback IP address such as 127.0.0.1 (this member has no TLS and no authentication)", hostport)
	}
	return url.URL{Scheme: "http", Host: hostport}, nil
}
