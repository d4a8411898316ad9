// The Centrifuge server of the benchmark: the Go core library of Centrifugo (Centrifuge 0.15)
// embedded as a Node, as an application built on it would run it, so that Herald can be
// measured against a real-time server of another design in the same run.
//
//   - WebSocket at /connection/websocket (Centrifuge's JSON protocol): anonymous connections,
//     every subscribe allowed;
//   - POST /publish {channels, event, data} (or channel), the limit server's body: data goes to
//     each channel with node.Publish (channels in parallel, as Centrifugo's broadcast does),
//     200 once every channel is published; event is ignored (Centrifuge has no event names);
//   - GET /healthz: 200 once the engine answers a publish.
//
// Env: PORT; REDIS_URL (redis://host:port: Redis broker and presence manager, history in Redis
// streams, every key and channel under BENCH_REDIS_PREFIX; unset or empty: the memory engine);
// HISTORY_SIZE and HISTORY_TTL_SECONDS (history on every channel when the size is above 0);
// BENCH_EXIT_ON_STDIN_EOF=1: exit when stdin closes (the runner holds the other end of a pipe,
// so a runner killed with SIGKILL takes the server with it). SIGTERM and SIGINT stop it.
//
// Build (GOPATH mode, Debian's golang-github-centrifugal-centrifuge-dev and its dependencies):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off go build -o bench/.build/centrifuge ./bench/centrifuge
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/centrifugal/centrifuge"
)

// Herald's default body limit, as the reference servers have it.
const maxBodyBytes = 1 << 20

type settings struct {
	port        int
	redisURL    string
	redisPrefix string
	// History on every channel when historySize > 0.
	historySize int
	historyTTL  time.Duration
}

func readSettings() (settings, error) {
	port, err := strconv.Atoi(os.Getenv("PORT"))
	if err != nil {
		return settings{}, fmt.Errorf("PORT: %w", err)
	}
	s := settings{port: port, redisURL: os.Getenv("REDIS_URL"), redisPrefix: os.Getenv("BENCH_REDIS_PREFIX")}
	if s.redisURL != "" && s.redisPrefix == "" {
		return settings{}, fmt.Errorf("BENCH_REDIS_PREFIX is required with REDIS_URL")
	}
	size, err := intFromEnv("HISTORY_SIZE", 0)
	if err != nil {
		return settings{}, err
	}
	ttl, err := intFromEnv("HISTORY_TTL_SECONDS", 600)
	if err != nil {
		return settings{}, err
	}
	s.historySize, s.historyTTL = size, time.Duration(ttl)*time.Second
	return s, nil
}

func intFromEnv(name string, fallback int) (int, error) {
	text := os.Getenv(name)
	if text == "" {
		return fallback, nil
	}
	value, err := strconv.Atoi(text)
	if err != nil || value < 0 {
		return 0, fmt.Errorf("%s: not a whole number ≥ 0: %q", name, text)
	}
	return value, nil
}

func newNode(s settings) (*centrifuge.Node, error) {
	config := centrifuge.DefaultConfig
	config.LogLevel = centrifuge.LogLevelError
	config.LogHandler = func(entry centrifuge.LogEntry) { log.Printf("centrifuge: %s %v", entry.Message, entry.Fields) }
	node, err := centrifuge.New(config)
	if err != nil {
		return nil, err
	}
	node.OnConnecting(func(ctx context.Context, e centrifuge.ConnectEvent) (centrifuge.ConnectReply, error) {
		// An empty user ID is an anonymous connection.
		return centrifuge.ConnectReply{Credentials: &centrifuge.Credentials{UserID: ""}}, nil
	})
	node.OnConnect(func(client *centrifuge.Client) {
		client.OnSubscribe(func(e centrifuge.SubscribeEvent, cb centrifuge.SubscribeCallback) {
			cb(centrifuge.SubscribeReply{}, nil)
		})
	})
	if s.redisURL == "" {
		return node, nil // New already set the memory broker and presence manager
	}
	shard, err := centrifuge.NewRedisShard(node, centrifuge.RedisShardConfig{Address: s.redisURL})
	if err != nil {
		return nil, err
	}
	shards := []*centrifuge.RedisShard{shard}
	broker, err := centrifuge.NewRedisBroker(node, centrifuge.RedisBrokerConfig{
		Prefix: s.redisPrefix,
		// Streams, as Herald keeps its history (XADD), rather than the default lists.
		UseStreams: true,
		// The stream's meta (offset, epoch) expires with its history, as Herald's epoch changes then.
		HistoryMetaTTL: s.historyTTL,
		Shards:         shards,
	})
	if err != nil {
		return nil, err
	}
	node.SetBroker(broker)
	presence, err := centrifuge.NewRedisPresenceManager(node, centrifuge.RedisPresenceManagerConfig{Prefix: s.redisPrefix, Shards: shards})
	if err != nil {
		return nil, err
	}
	node.SetPresenceManager(presence)
	return node, nil
}

type publishRequest struct {
	Channel  string          `json:"channel"`
	Channels []string        `json:"channels"`
	Data     json.RawMessage `json:"data"`
}

// publishHandler answers POST /publish: every channel published (in parallel), then 200.
func publishHandler(node *centrifuge.Node, history []centrifuge.PublishOption) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
		if err != nil || len(body) > maxBodyBytes {
			http.Error(w, "body unreadable or over 1 MiB", http.StatusBadRequest)
			return
		}
		var input publishRequest
		if err := json.Unmarshal(body, &input); err != nil {
			http.Error(w, "body must be JSON", http.StatusBadRequest)
			return
		}
		channels := input.Channels
		if channels == nil {
			channels = []string{input.Channel}
		}
		for _, channel := range channels {
			if channel == "" {
				http.Error(w, "channel(s) must be non-empty strings", http.StatusBadRequest)
				return
			}
		}
		data := []byte(input.Data)
		if len(data) == 0 {
			data = []byte("null")
		}
		errs := make([]error, len(channels))
		var wg sync.WaitGroup
		for i, channel := range channels {
			wg.Add(1)
			go func(i int, channel string) {
				defer wg.Done()
				_, errs[i] = node.Publish(channel, data, history...)
			}(i, channel)
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				http.Error(w, "publish failed: "+err.Error(), http.StatusInternalServerError)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}
}

// healthHandler answers 200 once a publish (to a channel nobody subscribes to) goes through.
func healthHandler(node *centrifuge.Node) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, err := node.Publish("bench-healthz", []byte("{}")); err != nil {
			http.Error(w, "engine not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}
}

// stopped closes when the server should stop: SIGTERM, SIGINT, or (opt-in) stdin at EOF.
func stopped() <-chan struct{} {
	done := make(chan struct{})
	var once sync.Once
	stop := func() { once.Do(func() { close(done) }) }
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-signals
		stop()
	}()
	if os.Getenv("BENCH_EXIT_ON_STDIN_EOF") == "1" {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			stop()
		}()
	}
	return done
}

func main() {
	log.SetFlags(0)
	s, err := readSettings()
	if err != nil {
		log.Fatalf("centrifuge bench server: %v", err)
	}
	done := stopped()
	node, err := newNode(s)
	if err != nil {
		log.Fatalf("centrifuge bench server: %v", err)
	}
	if err := node.Run(); err != nil {
		log.Fatalf("centrifuge bench server: %v", err)
	}

	mux := http.NewServeMux()
	// Any Origin: the load generator is no browser.
	mux.Handle("/connection/websocket", centrifuge.NewWebsocketHandler(node, centrifuge.WebsocketConfig{CheckOrigin: func(*http.Request) bool { return true }}))
	var history []centrifuge.PublishOption
	if s.historySize > 0 {
		history = append(history, centrifuge.WithHistory(s.historySize, s.historyTTL))
	}
	mux.Handle("/publish", publishHandler(node, history))
	mux.Handle("/healthz", healthHandler(node))
	server := &http.Server{Addr: fmt.Sprintf("127.0.0.1:%d", s.port), Handler: mux}
	go func() {
		if err := server.ListenAndServe(); err != nil && err != http.ErrServerClosed {
			log.Fatalf("centrifuge bench server: %v", err)
		}
	}()

	<-done
	// No graceful node.Shutdown: it takes seconds even without clients, and nothing here needs
	// it (the reference servers also just exit; Redis drops the pub/sub connection with us).
	os.Exit(0)
}
