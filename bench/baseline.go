package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"opsbot/bot/discord"
	slackbot "opsbot/bot/slack"
	"opsbot/config"
)

// baselineReady starts the line on which baseline-serve reports its address.
const baselineReady = "baseline listening on "

// baselineServe is the hidden baseline-serve target: it serves
// /slack/commands and /discord/interactions with nothing but the signature
// checks opsbot makes, prints its address on one line, and exits when its
// standard input closes, so it never outlives the bench that started it.
func baselineServe(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench baseline-serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	secret := fs.String("secret", "", "Slack signing secret")
	pubHex := fs.String("public-key", "", "hex Ed25519 public key Discord interactions are signed for")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	sv := slackbot.NewVerifier(config.Secret(*secret), time.Now)
	dv, err := discord.NewVerifier(*pubHex, time.Now)
	if *secret == "" || err != nil {
		fmt.Fprintf(stderr, "bench baseline-serve: give --secret and --public-key (%v)\n", err)
		return 2
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /slack/commands", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if sv.Verify(r.Header, body) != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"text":"ok"}`))
	})
	mux.HandleFunc("POST /discord/interactions", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if dv.Verify(r.Header.Get("X-Signature-Ed25519"), r.Header.Get("X-Signature-Timestamp"), body) != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"type":4,"data":{"content":"ok"}}`))
	})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "bench baseline-serve: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s%s\n", baselineReady, ln.Addr())
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		ln.Close()
	}()
	if err := http.Serve(ln, mux); err != nil && !errors.Is(err, net.ErrClosed) {
		fmt.Fprintf(stderr, "bench baseline-serve: %v\n", err)
		return 1
	}
	return 0
}

// startBaseline runs this program again as baseline-serve (under go run too:
// os.Executable is the binary go run built) and returns its address, process
// id and a stop function.
func startBaseline(secret, pubHex string, stderr io.Writer) (string, int, func(), error) {
	exe, err := os.Executable()
	if err != nil {
		return "", 0, nil, fmt.Errorf("find the bench binary: %w", err)
	}
	cmd := exec.Command(exe, "baseline-serve", "--listen", "127.0.0.1:0", "--secret", secret, "--public-key", pubHex)
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", 0, nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", 0, nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", 0, nil, fmt.Errorf("start baseline-serve: %w", err)
	}
	stop := func() {
		stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	addr := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		a, ok := strings.CutPrefix(strings.TrimSpace(line), baselineReady)
		if !ok {
			a = ""
		}
		addr <- a
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case a := <-addr:
		if a == "" {
			stop()
			return "", 0, nil, errors.New("baseline-serve exited without listening")
		}
		return a, cmd.Process.Pid, stop, nil
	case <-time.After(10 * time.Second):
		stop()
		return "", 0, nil, errors.New("baseline-serve did not start within 10s")
	}
}
