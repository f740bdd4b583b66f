package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/ssh"
)

// testSSHServer is a minimal sshd on 127.0.0.1 for the tests: it accepts one
// client key, runs exec requests with sh -c, refuses env requests (like an
// sshd without AcceptEnv), forwards TCP (as a bastion) and counts TCP
// connections.
type testSSHServer struct {
	addr        string
	port        int
	hostKey     string // authorized_keys format
	clientKey   string // OpenSSH PEM
	connections atomic.Int32
	mu          sync.Mutex
	commands    []string
}

func newKey(t *testing.T) (ssh.Signer, ed25519.PrivateKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return signer, priv
}

func startSSHServer(t *testing.T) *testSSHServer {
	t.Helper()
	hostSigner, _ := newKey(t)
	clientSigner, clientPriv := newKey(t)
	block, err := ssh.MarshalPrivateKey(clientPriv, "")
	if err != nil {
		t.Fatal(err)
	}
	config := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if string(key.Marshal()) != string(clientSigner.PublicKey().Marshal()) {
				return nil, errors.New("unknown key")
			}
			return nil, nil
		},
	}
	config.AddHostKey(hostSigner)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s := &testSSHServer{
		addr:      "127.0.0.1",
		port:      ln.Addr().(*net.TCPAddr).Port,
		hostKey:   string(ssh.MarshalAuthorizedKey(hostSigner.PublicKey())),
		clientKey: string(pem.EncodeToMemory(block)),
	}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.connections.Add(1)
			go s.serve(conn, config)
		}
	}()
	return s
}

func (s *testSSHServer) serve(conn net.Conn, config *ssh.ServerConfig) {
	_, chans, reqs, err := ssh.NewServerConn(conn, config)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		switch nc.ChannelType() {
		case "session":
			ch, requests, err := nc.Accept()
			if err != nil {
				return
			}
			go s.session(ch, requests)
		case "direct-tcpip":
			go forward(nc)
		default:
			_ = nc.Reject(ssh.UnknownChannelType, "session and direct-tcpip only")
		}
	}
}

// forward serves a jump-host tunnel (RFC 4254 7.2) to a loopback port.
func forward(nc ssh.NewChannel) {
	var target struct {
		Host       string
		Port       uint32
		OriginHost string
		OriginPort uint32
	}
	if err := ssh.Unmarshal(nc.ExtraData(), &target); err != nil {
		_ = nc.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	conn, err := net.Dial("tcp", net.JoinHostPort(target.Host, strconv.Itoa(int(target.Port))))
	if err != nil {
		_ = nc.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, requests, err := nc.Accept()
	if err != nil {
		conn.Close()
		return
	}
	go ssh.DiscardRequests(requests)
	go func() {
		_, _ = io.Copy(ch, conn)
		ch.Close()
	}()
	_, _ = io.Copy(conn, ch)
	conn.Close()
}

func (s *testSSHServer) session(ch ssh.Channel, requests <-chan *ssh.Request) {
	defer ch.Close()
	for req := range requests {
		if req.Type != "exec" || len(req.Payload) < 4 {
			_ = req.Reply(false, nil)
			continue
		}
		script := string(req.Payload[4 : 4+binary.BigEndian.Uint32(req.Payload)])
		_ = req.Reply(true, nil)
		s.mu.Lock()
		s.commands = append(s.commands, script)
		s.mu.Unlock()
		cmd := exec.Command("sh", "-c", script)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, ch.Stderr()
		status := uint32(0)
		if err := cmd.Run(); err != nil {
			status = 255
			var exitErr *exec.ExitError
			if errors.As(err, &exitErr) {
				status = uint32(exitErr.ExitCode())
			}
		}
		_, _ = ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, status))
		return
	}
}

func (s *testSSHServer) ran() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.commands...)
}
