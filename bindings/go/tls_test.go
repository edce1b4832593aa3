package dengine_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"dengine.dev/dengine"
)

// testCA issues certificates into a directory, with crypto/x509.
type testCA struct {
	t    *testing.T
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T) *testCA {
	ca := &testCA{t: t, dir: t.TempDir()}
	ca.cert, ca.key = ca.issue("ca", &x509.Certificate{
		Subject:               pkix.Name{CommonName: "test CA"},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	})
	return ca
}

func (ca *testCA) path(name string) string { return filepath.Join(ca.dir, name) }

// issue writes <stem>.crt and <stem>.key, signed by the CA (self-signed for
// the CA itself).
func (ca *testCA) issue(stem string, template *x509.Certificate) (*x509.Certificate, *ecdsa.PrivateKey) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		ca.t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	template.SerialNumber = serial
	template.NotBefore = time.Now().Add(-time.Hour)
	template.NotAfter = time.Now().Add(24 * time.Hour)
	parent, signer := template, key
	if ca.cert != nil {
		parent, signer = ca.cert, ca.key
		template.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		template.KeyUsage = x509.KeyUsageDigitalSignature
	}
	der, err := x509.CreateCertificate(rand.Reader, template, parent, &key.PublicKey, signer)
	if err != nil {
		ca.t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		ca.t.Fatal(err)
	}
	write := func(name, kind string, bytes []byte) {
		if err := os.WriteFile(ca.path(name), pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: bytes}), 0o600); err != nil {
			ca.t.Fatal(err)
		}
	}
	write(stem+".crt", "CERTIFICATE", der)
	write(stem+".key", "EC PRIVATE KEY", keyDER)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		ca.t.Fatal(err)
	}
	return cert, key
}

func (ca *testCA) node(id uint64) {
	uri, _ := url.Parse("dengine:node:" + fmtUint(id))
	ca.issue("node-"+fmtUint(id), &x509.Certificate{
		Subject:     pkix.Name{CommonName: "node-" + fmtUint(id)},
		URIs:        []*url.URL{uri},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:    []string{"localhost"},
	})
}

func (ca *testCA) client(identity string) *dengine.ClientTLS {
	ca.issue(identity, &x509.Certificate{Subject: pkix.Name{CommonName: identity}})
	return &dengine.ClientTLS{CAFile: ca.path("ca.crt"), CertFile: ca.path(identity + ".crt"), KeyFile: ca.path(identity + ".key")}
}

func fmtUint(v uint64) string { return strconv.FormatUint(v, 10) }

// tlsNode starts a one-node cluster with mutual TLS serving clients.
func tlsNode(t *testing.T, ca *testCA) (*cluster, string) {
	return tlsNodeWith(t, ca, func(cfg *dengine.Config) {
		cfg.TLSRequireClientCert = true
		cfg.TLSAdminIdentities = []string{"ops"}
	})
}

// tlsNodeWith starts a one-node cluster serving clients over TLS, with
// configure's changes.
func tlsNodeWith(t *testing.T, ca *testCA, configure func(*dengine.Config)) (*cluster, string) {
	ca.node(1)
	address := freeAddress(t)
	c := newCluster(t, 1, func(cfg *dengine.Config) {
		cfg.StateMachine = nil
		cfg.ClientAddress = address
		cfg.TLSCertFile = ca.path("node-1.crt")
		cfg.TLSKeyFile = ca.path("node-1.key")
		cfg.TLSCAFile = ca.path("ca.crt")
		configure(cfg)
	})
	c.leader()
	return c, address
}

func openTLS(t *testing.T, address string, tls *dengine.ClientTLS, timeout time.Duration) *dengine.Client {
	client, err := dengine.OpenTLSClient([]string{address}, timeout, tls)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

func TestTLSWithoutClientCertificates(t *testing.T) {
	ca := newTestCA(t)
	_, address := tlsNodeWith(t, ca, func(*dengine.Config) {})
	ctx := ctxFor(t)
	client := openTLS(t, address, &dengine.ClientTLS{CAFile: ca.path("ca.crt")}, 10*time.Second)
	if err := client.Put(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if v, err := client.Get(ctx, []byte("k"), dengine.ReadLinearizable); err != nil || string(v) != "v" {
		t.Fatalf("get: %q, %v", v, err)
	}
	// Without required certificates every client may run admin calls.
	if _, err := client.Snapshot(ctx); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
}

func TestTLSServerNamesAndVersions(t *testing.T) {
	ca := newTestCA(t)
	_, address := tlsNode(t, ca)
	ctx := ctxFor(t)
	// The node's certificate names localhost too; the endpoint is an IP.
	named := ca.client("ops")
	named.ServerName, named.MinVersion = "localhost", "1.2"
	if err := openTLS(t, address, named, 10*time.Second).Put(ctx, []byte("named"), []byte("yes")); err != nil {
		t.Fatalf("server name localhost: %v", err)
	}
	elsewhere := ca.client("ops")
	elsewhere.ServerName = "elsewhere.example"
	if err := openTLS(t, address, elsewhere, 2*time.Second).Put(ctx, []byte("x"), []byte("y")); !errors.Is(err, dengine.ErrIO) {
		t.Fatalf("a name the certificate does not carry: %v", err)
	}

	half := ca.client("ops")
	half.KeyFile = ""
	if _, err := dengine.OpenTLSClient([]string{address}, time.Second, half); !errors.Is(err, dengine.ErrInvalidArgument) {
		t.Fatalf("a certificate without its key: %v", err)
	}
	old := ca.client("ops")
	old.MinVersion = "1.1"
	if _, err := dengine.OpenTLSClient([]string{address}, time.Second, old); !errors.Is(err, dengine.ErrInvalidArgument) ||
		!strings.Contains(err.Error(), "min_version") {
		t.Fatalf("a bad version: %v", err)
	}
}

func TestTLSAdminsAndOrdinaryClients(t *testing.T) {
	ca := newTestCA(t)
	_, address := tlsNode(t, ca)
	ctx := ctxFor(t)
	ops := openTLS(t, address, ca.client("ops"), 10*time.Second)
	if err := ops.Put(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, err := ops.Snapshot(ctx); err != nil {
		t.Fatalf("an admin's snapshot: %v", err)
	}
	app := openTLS(t, address, ca.client("app"), 10*time.Second)
	if err := app.Put(ctx, []byte("a"), []byte("b")); err != nil {
		t.Fatal(err)
	}
	err := app.Remove(ctx, 1)
	if !errors.Is(err, dengine.ErrPermissionDenied) || !strings.Contains(err.Error(), `"app"`) {
		t.Fatalf("a non-admin's remove: %v", err)
	}
	if err := app.TransferLeadership(ctx, 1); !errors.Is(err, dengine.ErrPermissionDenied) {
		t.Fatalf("a non-admin's transfer: %v", err)
	}
	if _, err := app.Snapshot(ctx); !errors.Is(err, dengine.ErrPermissionDenied) {
		t.Fatalf("a non-admin's snapshot: %v", err)
	}
	if v, err := app.Get(ctx, []byte("k"), dengine.ReadLinearizable); err != nil || string(v) != "v" {
		t.Fatalf("get: %q, %v", v, err)
	}
}

func TestTLSRefusesClientsWithTheReason(t *testing.T) {
	ca := newTestCA(t)
	_, address := tlsNode(t, ca)
	ctx := ctxFor(t)
	anonymous := openTLS(t, address, &dengine.ClientTLS{CAFile: ca.path("ca.crt")}, 2*time.Second)
	if err := anonymous.Put(ctx, []byte("x"), []byte("y")); !errors.Is(err, dengine.ErrIO) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a client without a certificate: %v", err)
	}
	plaintext, err := dengine.OpenClient([]string{address}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer plaintext.Close()
	if err := plaintext.Put(ctx, []byte("x"), []byte("y")); !errors.Is(err, dengine.ErrIO) || !strings.Contains(err.Error(), "TLS") {
		t.Fatalf("a plaintext client: %v", err)
	}
	_, err = dengine.OpenTLSClient([]string{address}, time.Second, &dengine.ClientTLS{CAFile: ca.path("none.crt")})
	if !errors.Is(err, dengine.ErrInvalidArgument) || !strings.Contains(err.Error(), "none.crt") {
		t.Fatalf("a missing CA file: %v", err)
	}
}

func TestTLSConfigErrorsAndReload(t *testing.T) {
	ca := newTestCA(t)
	ca.node(1)
	_, err := dengine.StartNode(dengine.Config{NodeID: 1, DataDir: t.TempDir(),
		TLSCertFile: ca.path("missing.crt"), TLSKeyFile: ca.path("node-1.key"), TLSCAFile: ca.path("ca.crt")})
	if !errors.Is(err, dengine.ErrInvalidArgument) || !strings.Contains(err.Error(), "missing.crt") {
		t.Fatalf("a missing certificate: %v", err)
	}
	_, err = dengine.StartNode(dengine.Config{NodeID: 1, DataDir: t.TempDir(), TLSMinVersion: "1.1"})
	if !errors.Is(err, dengine.ErrInvalidArgument) || !strings.Contains(err.Error(), "tls_min_version") {
		t.Fatalf("a bad version: %v", err)
	}

	c, address := tlsNode(t, ca)
	node := c.nodes[1]
	ca.node(1) // a renewed certificate in place
	if err := node.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t)
	if err := openTLS(t, address, ca.client("ops"), 10*time.Second).Put(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ca.path("node-1.crt"), []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := node.ReloadTLS(); !errors.Is(err, dengine.ErrInvalidArgument) || !strings.Contains(err.Error(), "node-1.crt") {
		t.Fatalf("a bad file: %v", err)
	}
	if err := os.Remove(ca.path("node-1.crt")); err != nil {
		t.Fatal(err)
	}
	if err := node.ReloadTLS(); !errors.Is(err, dengine.ErrInvalidArgument) || !strings.Contains(err.Error(), "node-1.crt") {
		t.Fatalf("a deleted file: %v", err)
	}
	if err := openTLS(t, address, ca.client("ops"), 10*time.Second).Put(ctx, []byte("k"), []byte("w")); err != nil {
		t.Fatalf("after refused reloads: %v", err)
	}

	plain := newCluster(t, 1, nil)
	if err := plain.nodes[1].ReloadTLS(); !errors.Is(err, dengine.ErrUnsupported) {
		t.Fatalf("reload without TLS: %v", err)
	}
}
