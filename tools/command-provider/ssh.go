package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/retry"
	"golang.org/x/crypto/ssh"
)

// logf sends one message to the engine for the resource being worked on.
// Ephemeral messages show in the progress display only, as the real
// provider's command output and dial retries do.
type logf func(sev diag.Severity, ephemeral bool, msg string)

func (e endpoint) address() string {
	return net.JoinHostPort(e.host, strconv.Itoa(e.port))
}

func (e endpoint) clientConfig() (*ssh.ClientConfig, error) {
	// ParsePrivateKey's errors never quote the key.
	signer, err := ssh.ParsePrivateKey([]byte(e.privateKey))
	if err != nil {
		return nil, fmt.Errorf("privateKey: %w", err)
	}
	// Without a pinned key host keys are not checked, as in the real provider.
	hostKeyCallback := ssh.InsecureIgnoreHostKey()
	if e.hostKey != "" {
		pinned, _, _, _, err := ssh.ParseAuthorizedKey([]byte(e.hostKey))
		if err != nil {
			// Not quoted: connection is secret, and a private key pasted here by mistake must not reach the log.
			return nil, fmt.Errorf("hostKey: not an authorized_keys line (ssh-ed25519 AAAA...): %w", err)
		}
		fixed := ssh.FixedHostKey(pinned)
		hostKeyCallback = func(hostname string, remote net.Addr, key ssh.PublicKey) error {
			if err := fixed(hostname, remote, key); err != nil {
				return fmt.Errorf("%w: %s presented %s %s, connection hostKey pins %s %s", err, e.address(),
					key.Type(), ssh.FingerprintSHA256(key), pinned.Type(), ssh.FingerprintSHA256(pinned))
			}
			return nil
		}
	}
	return &ssh.ClientConfig{
		User:            e.user,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: hostKeyCallback,
		// Bounds the TCP connect only (x/crypto/ssh), as in the real provider.
		Timeout: time.Duration(e.perDialTimeout) * time.Second,
	}, nil
}

// dialWithRetry calls dial until it succeeds or has failed more than limit
// times (limit -1: no limit), with the SDK's default backoff (0.1 s growing
// 1.5x up to 5 s), like the real provider.
func dialWithRetry[T any](ctx context.Context, what string, limit int, log logf, dial func() (T, error)) (T, error) {
	var result T
	var lastErr error
	ok, _, err := retry.Until(ctx, retry.Acceptor{
		Accept: func(try int, _ time.Duration) (bool, any, error) {
			result, lastErr = dial()
			if lastErr == nil {
				return true, nil, nil
			}
			dials := try + 1
			if limit >= 0 && dials > limit {
				return true, nil, fmt.Errorf("after %d failed attempts: %w", dials, lastErr)
			}
			max := "inf"
			if limit >= 0 {
				max = strconv.Itoa(limit)
			}
			log(diag.Info, true, fmt.Sprintf("%s %d/%s failed (%v): retrying", what, dials, max, lastErr))
			return false, nil, nil
		},
	})
	if err == nil && !ok {
		// Cancelled: retry.Until reports that as neither success nor error.
		err = fmt.Errorf("%w (last error: %v)", ctx.Err(), lastErr)
	}
	return result, err
}

// sshClient is a connected client plus the bastion client it tunnels through.
type sshClient struct {
	*ssh.Client
	proxy *ssh.Client
}

func (c *sshClient) Close() error {
	err := c.Client.Close()
	if c.proxy != nil {
		err = errors.Join(err, c.proxy.Close())
	}
	return err
}

func dial(ctx context.Context, conn connection, log logf) (*sshClient, error) {
	config, err := conn.clientConfig()
	if err != nil {
		return nil, err
	}
	addr := conn.address()
	if conn.proxy == nil {
		client, err := dialWithRetry(ctx, "Dial", conn.dialErrorLimit, log, func() (*ssh.Client, error) {
			return ssh.Dial("tcp", addr, config)
		})
		if err != nil {
			return nil, err
		}
		return &sshClient{Client: client}, nil
	}

	proxyConfig, err := conn.proxy.clientConfig()
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	proxy, err := dialWithRetry(ctx, "Dial proxy", conn.proxy.dialErrorLimit, log, func() (*ssh.Client, error) {
		return ssh.Dial("tcp", conn.proxy.address(), proxyConfig)
	})
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	// A failed handshake closes its tunnel, so each attempt opens a new one.
	client, err := dialWithRetry(ctx, "Dial from proxy", conn.dialErrorLimit, log, func() (*ssh.Client, error) {
		tunnel, err := proxy.Dial("tcp", addr)
		if err != nil {
			return nil, err
		}
		c, chans, reqs, err := ssh.NewClientConn(tunnel, addr, config)
		if err != nil {
			return nil, err
		}
		return ssh.NewClient(c, chans, reqs), nil
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("proxy: %w", err), proxy.Close())
	}
	return &sshClient{Client: client, proxy: proxy}, nil
}

// lineLogger forwards complete lines of command output to the engine.
type lineLogger struct {
	log     logf
	partial []byte
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		l.log(diag.Info, true, string(l.partial[:i]))
		l.partial = l.partial[i+1:]
	}
}

func (l *lineLogger) flush() {
	if len(l.partial) > 0 {
		l.log(diag.Info, true, string(l.partial))
		l.partial = nil
	}
}

// lockedWriter serialises the session's stdout and stderr copiers, which run
// concurrently, onto writers they share.
type lockedWriter struct {
	mu  *sync.Mutex
	out []io.Writer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, o := range w.out {
		if _, err := o.Write(p); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// run executes script on the remote host with the command's stdin and
// returns stdout and stderr without their final newline. A failure's error
// names the command (unless it is secret) and holds all of its output,
// whatever logging says, as the real provider's does.
func (c command) run(ctx context.Context, script field, log logf) (string, string, error) {
	client, err := dial(ctx, c.conn, log)
	if err != nil {
		return "", "", err
	}
	defer client.Close()
	session, err := client.NewSession()
	if err != nil {
		return "", "", err
	}
	defer session.Close()

	if c.addPreviousOutputInEnv {
		for name, value := range map[string]string{
			"PULUMI_COMMAND_STDOUT": c.previousStdout,
			"PULUMI_COMMAND_STDERR": c.previousStderr,
		} {
			if value == "" {
				continue
			}
			if err := session.Setenv(name, value); err != nil {
				log(diag.Warning, false, fmt.Sprintf("Unable to set '%s'. This only works if your SSH server is "+
					"configured to accept these variables via AcceptEnv (set addPreviousOutputInEnv: false "+
					"to not pass them)", name))
			}
		}
	}
	if c.stdin != "" {
		session.Stdin = strings.NewReader(c.stdin)
	}

	var mu sync.Mutex
	var stdout, stderr, combined bytes.Buffer
	shown := &lineLogger{log: log}
	stdoutTo := lockedWriter{mu: &mu, out: []io.Writer{&stdout, &combined}}
	stderrTo := lockedWriter{mu: &mu, out: []io.Writer{&stderr, &combined}}
	if c.logStdout {
		stdoutTo.out = append(stdoutTo.out, shown)
	}
	if c.logStderr {
		stderrTo.out = append(stderrTo.out, shown)
	}
	session.Stdout, session.Stderr = stdoutTo, stderrTo

	// Closing the client makes Run return when the deployment is cancelled.
	stop := context.AfterFunc(ctx, func() { client.Close() })
	defer stop()
	err = session.Run(script.value)
	shown.flush()
	if err != nil {
		shownScript := script.value
		if script.secret {
			shownScript = "[secret]"
		}
		return "", "", fmt.Errorf("%w: running %q:\n%s", err, shownScript, combined.String())
	}
	return strings.TrimSuffix(stdout.String(), "\n"), strings.TrimSuffix(stderr.String(), "\n"), nil
}
